"""build_map and its parts: layout, placement, quadtree labels, clusters, contours, neighbours."""

import json

import numpy as np
import pytest

import omnivec
from omnivec.errors import DimensionError, InputError, MissingDependencyError, UnknownNameError
from omnivec.explore import build_map, compute_layout
from omnivec.explore import layout as L
from omnivec.explore import summary as S


# -- layout ---------------------------------------------------------------------
def test_pca_layout_fills_the_unit_square_and_is_deterministic(g2100):
    a, info = compute_layout(g2100.vectors, "cosine", method="pca")
    b, _ = compute_layout(g2100.vectors, "cosine", method="pca")
    assert info["method"] == "pca" and a.shape == (2100, 2) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and np.ptp(a, axis=0).max() > 0.9


def test_pca_matches_numpy_svd_up_to_sign(g2100):
    P = L.prepare(g2100.vectors, "cosine")
    got = L.pca_2d(P)
    C = P - P.mean(axis=0)
    _, _, Vt = np.linalg.svd(C.astype(np.float64), full_matrices=False)
    want = C @ Vt[:2].T
    for j in range(2):
        assert abs(np.corrcoef(got[:, j], want[:, j])[0, 1]) > 0.9999


def test_knn_placement_lands_near_the_true_position(g2100):
    # PCA is linear, so a held-out point's neighbours' positions should surround its own.
    P = L.prepare(g2100.vectors, "cosine")
    xy = L.pca_2d(P)
    rng = np.random.default_rng(0)
    held = rng.choice(2100, 200, replace=False)
    base = np.setdiff1d(np.arange(2100), held)
    rows, scores = L.knn(P[base], P[held], 10, "cosine", engine="exact")
    placed = L.interpolate(xy[base], rows, scores, "cosine")
    err = np.linalg.norm(placed - xy[held], axis=1)
    spread = np.linalg.norm(xy - xy.mean(axis=0), axis=1).mean()
    # Far better than dropping the point anywhere in the cloud.
    assert np.median(err) < 0.6 * spread
    random_err = np.linalg.norm(xy[rng.choice(base, 200)] - xy[held], axis=1)
    assert np.median(err) < 0.5 * np.median(random_err)


def test_placement_joins_the_group_holding_most_neighbours():
    # Three neighbours near the origin, two far away: the point goes with the three,
    # not to the empty middle where a plain mean would drop it.
    base = np.array([[0, 0], [0, 0.01], [0.01, 0], [1, 1], [1, 1.01]], np.float32)
    rows = np.array([[3, 0, 4, 1, 2]])
    scores = np.full((1, 5), 0.8, np.float32)
    pos = L.interpolate(base, rows, scores, "cosine")
    assert np.linalg.norm(pos[0]) < 0.02


def test_exact_knn_agrees_with_embeddings_most_similar(g2100):
    P = L.prepare(g2100.vectors, "cosine")
    rows, _ = L.knn(P, P[[g2100.row("king")]], 6, "cosine", engine="exact")
    want = [k for k, _ in g2100.most_similar("king", topn=5)]
    assert [g2100.key(r) for r in rows[0][1:]] == want


def test_two_d_tables_are_drawn_as_they_are(g2100):
    X = g2100.vectors[:, :2].copy()
    xy, info = compute_layout(X, "euclidean")
    assert info["method"] == "identity"
    # Same picture up to one scale and shift.
    assert np.corrcoef(xy[:, 0], X[:, 0])[0, 1] > 0.999 and np.corrcoef(xy[:, 1], X[:, 1])[0, 1] > 0.999
    with pytest.raises(InputError, match="identity"):
        compute_layout(g2100.vectors, "cosine", method="identity")


def test_one_and_two_points_and_tiny_tables(g2100):
    one, info = compute_layout(g2100.vectors[:1], "cosine")
    assert info["method"] == "trivial" and np.allclose(one, 0.5)
    two, _ = compute_layout(g2100.vectors[:2], "cosine")
    assert two[0, 0] < two[1, 0] and np.allclose(two[:, 1], 0.5)
    small, info = compute_layout(g2100.vectors[:20], "cosine")
    assert info["method"] == "pca" and "too few" in info["note"]
    with pytest.raises(InputError, match="UMAP needs at least"):
        compute_layout(g2100.vectors[:20], "cosine", method="umap")


def test_unknown_layout_lists_the_valid_names(g2100):
    with pytest.raises(UnknownNameError, match="umap, pca"):
        compute_layout(g2100.vectors, "cosine", method="tsne")


def test_umap_without_the_extra_names_the_pip_command(g2100, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "umap", None)      # makes `import umap` fail at once
    with pytest.raises(MissingDependencyError, match=r"pip install 'omnivec\[explore\]'"):
        compute_layout(g2100.vectors, "cosine", method="umap")


def test_umap_on_a_sample_places_the_rest(g2100):
    pytest.importorskip("umap", reason="umap-learn (the 'explore' extra) is not installed")
    xy, info = compute_layout(g2100.vectors, "cosine", method="umap", sample=1000, seed=0)
    assert info["method"] == "umap" and info["fitted_on"] == 1000 and info["placed"] == 1100
    assert xy.shape == (2100, 2) and np.isfinite(xy).all()


# -- summaries --------------------------------------------------------------------
def _oracle_reps(order, starts, rank, unit, m, cmin, cmax):
    out = []
    for g in range(len(starts) - 1):
        pts = order[starts[g]:starts[g + 1]]
        cap = min(cmax, max(cmin, len(pts) // 32))
        cand = pts[np.argsort(rank[pts], kind="stable")[:cap]]
        c = unit[pts].sum(axis=0)
        c = c / (np.linalg.norm(c) or 1)
        sims = unit[cand] @ c
        best = cand[np.argsort(-sims, kind="stable")[:m]]
        out.append(list(best) + [-1] * (m - len(best)))
    return np.array(out)


def test_representatives_kernel_matches_a_numpy_oracle(g2100):
    unit = S.unit_rows(g2100.vectors)
    rng = np.random.default_rng(3)
    order = rng.permutation(2100)
    starts = np.concatenate([[0], np.sort(rng.choice(np.arange(1, 2100), 40, replace=False)), [2100]])
    rank = rng.permutation(2100)
    got = S.group_representatives(order, starts, rank, unit, m=3, candidates=5, max_candidates=20)
    want = _oracle_reps(order, starts, rank, unit, 3, 5, 20)
    assert np.array_equal(got, want)


def test_quadtree_labels_lie_in_their_tiles_and_change_with_zoom(map2100):
    m = map2100
    assert len(m.levels[0].tiles) == 1
    for lv in m.levels:
        side = 1 << lv.z
        tx, ty = lv.tiles % side, lv.tiles // side
        for t in range(len(lv.tiles)):
            for p in lv.reps[t]:
                if p < 0:
                    continue
                cx, cy = np.clip((m.xy[p] * side).astype(int), 0, side - 1)
                assert (cx, cy) == (tx[t], ty[t])
        # Every point belongs to exactly one tile of the level: the tiles are distinct.
        assert len(np.unique(lv.tiles)) == len(lv.tiles)
    top = set(sum(m.labels_at(0).values(), []))
    deep = set(sum(m.labels_at(len(m.levels) - 1).values(), []))
    assert len(deep) > 10 * len(top) and deep - top


def test_labels_prefer_frequent_typical_keys(g2100):
    # With counts, the most frequent key in a tile leads among equally typical candidates.
    counts = np.arange(2100, 0, -1)[::-1].copy()        # reversed: the last row is the most frequent
    emb = omnivec.Embeddings(list(g2100.keys), g2100.vectors, counts=counts)
    m = build_map(emb, layout="pca", neighbors="none")
    assert m.info["rank"] == "counts"
    assert m.rank[2099] == 0 and m.rank[0] == 2099


def test_marching_squares_traces_a_circle():
    n = 101
    y, x = np.mgrid[0:n, 0:n]
    F = -np.hypot(x - 50.0, y - 50.0)
    seg = S.marching_squares(F, -30.0)
    assert len(seg) > 100
    pts = np.concatenate([seg[:, :2], seg[:, 2:]]) * n - 0.5
    r = np.hypot(pts[:, 0] - 50, pts[:, 1] - 50)
    assert np.abs(r - 30).max() < 0.5


def test_contours_enclose_the_densest_places(map2100):
    cs = map2100.contours
    assert [c["fraction"] for c in cs] == sorted([c["fraction"] for c in cs], reverse=True)
    levels = [c["level"] for c in cs]
    assert levels == sorted(levels) and all(len(c["segments"]) > 0 for c in cs)


def test_kmeans_assigns_every_row_to_its_nearest_centroid(g2100):
    X = S.unit_rows(g2100.vectors)
    lab, cent = S.kmeans(X, 8, seed=1)
    d = ((X[:, None, :] - cent[None]) ** 2).sum(-1)
    assert np.array_equal(lab, d.argmin(axis=1))
    inertia = d[np.arange(len(X)), lab].sum()
    one = ((X - X.mean(axis=0)) ** 2).sum()
    assert inertia < 0.9 * one


def test_cluster_scheme_names_clusters_by_their_keys(map2100):
    sc = map2100.schemes[0]
    assert sc.name == "cluster" and len(sc.colors) == len(sc.labels) == len(sc.counts) == 12
    assert sum(sc.counts) == 2100 and sc.counts == sorted(sc.counts, reverse=True)
    assert all(lbl for lbl in sc.labels)


def test_column_schemes_categories_numbers_and_missing():
    cat = S.column_scheme("pos", np.array(["noun", "verb", "noun", "adj"] * 10), 40)
    assert cat.kind == "category" and cat.labels[0] == "noun" and cat.counts[0] == 20
    many = S.column_scheme("id", np.array([f"v{i}" for i in range(100)]), 100)
    assert len(many.labels) == S.MAX_CATEGORIES and many.labels[-1].startswith("other (")
    vals = np.linspace(0, 1, 100)
    vals[5] = np.nan
    num = S.column_scheme("score", vals, 100)
    assert num.kind == "numeric" and num.labels[-1] == "missing" and num.codes[5] == len(num.labels) - 1
    assert num.codes[99] == len(num.labels) - 2 and num.codes[0] == 0
    with pytest.raises(DimensionError, match="one value per point"):
        S.column_scheme("x", np.zeros(3), 4)


# -- build_map --------------------------------------------------------------------
def test_neighbours_are_the_exact_original_space_ones(g2100, map2100):
    m = map2100
    assert m.info["neighbors"]["engine"] == "exact" and m.info["neighbors"]["computed"] == 2100
    for word in ("king", "paris", "good"):
        p = m.keys.index(word)
        got = [m.keys[j] for j in m.neighbors[p]]
        assert got == [k for k, _ in g2100.most_similar(word, topn=10)]
        assert np.allclose(m.neighbor_scores[p], [s for _, s in g2100.most_similar(word, topn=10)], atol=1e-5)


def test_neighbour_limit_computes_the_best_ranked_only(g2100):
    m = build_map(g2100, layout="pca", neighbors="exact", neighbor_limit=100, k=5)
    assert m.info["neighbors"]["computed"] == 100
    assert (m.neighbors[:100] >= 0).all() and (m.neighbors[100:] == -1).all()


def test_hnsw_neighbours_have_high_recall(g2100, map2100):
    pytest.importorskip("usearch", reason="usearch (the HNSW engine) is not installed")
    m = build_map(g2100, layout="pca", neighbors="hnsw")
    same = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(m.neighbors, map2100.neighbors)])
    assert m.info["neighbors"]["engine"] == "hnsw" and same > 0.9


def test_nonfinite_rows_fail_clearly_or_are_dropped_and_counted(g2100):
    X = g2100.vectors[:300].copy()
    emb = omnivec.Embeddings(list(g2100.keys)[:300], X, name="t")
    emb.vectors.setflags(write=True) if not emb.vectors.flags.writeable else None
    emb.vectors[7, 3] = np.nan
    emb.vectors[9, 0] = np.inf
    with pytest.raises(InputError, match=r"2 of 300 rows .* \(first: row 7, key '\S+'\).*drop_nonfinite"):
        build_map(emb, layout="pca")
    m = build_map(emb, layout="pca", drop_nonfinite=True)
    assert len(m) == 298 and m.info["dropped_nonfinite"] == 2
    assert 7 not in m.rows and 9 not in m.rows and m.keys[7] == emb.key(8)
    assert np.isfinite(m.xy).all() and (m.neighbors < 298).all()


def test_duplicate_keys_never_reach_a_map(g2100):
    with pytest.raises(omnivec.errors.DuplicateKeyError):
        omnivec.Embeddings(["a", "b", "a"], g2100.vectors[:3])


def test_empty_and_markup_keys_survive_as_text(g2100, tmp_path):
    keys = ["", "<script>alert(1)</script>", "a\u2028b", "tab\there", "quote\"'"] + list(g2100.keys)[5:60]
    emb = omnivec.Embeddings(keys, g2100.vectors[:60], name="<b>bold</b>")
    m = build_map(emb, layout="pca")
    folder = m.save(tmp_path / "map")
    assert json.loads((folder / "data" / "keys.json").read_text("ascii")) == keys
    js = (folder / "data" / "keys.json.js").read_text("ascii")
    assert "<script>" in js and "\u2028" not in js      # a string literal in a .js file, ASCII only
    html = (folder / "index.html").read_text("utf-8")
    assert "<b>bold</b>" not in html and "alert" not in html    # no data in the HTML, ever


def test_one_two_point_and_two_d_maps(g2100, tmp_path):
    for n in (1, 2):
        emb = omnivec.Embeddings(list(g2100.keys)[:n], g2100.vectors[:n])
        m = build_map(emb)
        assert len(m) == n and m.levels[0].reps[0][0] == 0
        assert (m.neighbors[:, :n - 1] >= 0).all() and (m.neighbors[:, n - 1:] == -1).all()
        m.save(tmp_path / f"m{n}")
    flat = omnivec.Embeddings(list(g2100.keys)[:500], g2100.vectors[:500, :2], metric="euclidean")
    m = build_map(flat)
    assert m.info["layout"]["method"] == "identity"


def test_columns_and_extras_become_colour_schemes(g2100):
    emb = omnivec.Embeddings(list(g2100.keys)[:400], g2100.vectors[:400], counts=np.arange(400, 0, -1))
    emb.extras["length"] = np.array([len(k) for k in list(g2100.keys)[:400]])
    pos = np.array(["num" if k.isdigit() else "word" for k in list(g2100.keys)[:400]])
    m = build_map(emb, layout="pca", columns={"kind": pos}, color="kind")
    assert [s.name for s in m.schemes] == ["kind", "cluster", "count", "length"]
    with pytest.raises(InputError, match="no colour scheme 'nope'"):
        build_map(emb, layout="pca", color="nope")
    with pytest.raises(InputError, match="one value per row"):
        build_map(emb, layout="pca", columns={"bad": np.zeros(3)})
