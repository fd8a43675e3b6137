"""The map folder on disk, the local server and `omnivec explore`."""

import base64
import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

import omnivec
from omnivec.cli import main
from omnivec.errors import FormatError, InputError
from omnivec.explore import read_manifest
from omnivec.explore.layout import prepare
from omnivec.explore.server import OnDemandNeighbors, make_server


def test_site_files_hold_what_the_manifest_says(map2100, tmp_path):
    m = map2100
    folder = m.save(tmp_path / "map")
    man = read_manifest(folder)
    d = folder / "data"
    assert man["points"] == 2100 and man["format"] == "omnivec-map"
    xy = np.fromfile(d / "points.bin", "<f4").reshape(-1, 2)
    assert np.array_equal(xy, m.xy)
    codes = np.fromfile(d / man["schemes"][0]["file"], np.uint8)
    assert np.array_equal(codes, m.schemes[0].codes)
    ti = np.fromfile(d / "tiles.bin", "<i4")
    for lv, spec in zip(m.levels, man["levels"]):
        o, t = spec["offset"], spec["tiles"]
        assert np.array_equal(ti[o:o + t], lv.tiles)
        assert np.array_equal(ti[o + t:o + t * (1 + man["per_tile"])].reshape(t, -1), lv.reps)
    nb = np.fromfile(d / "nbr-0.bin", "<i4")
    k = man["neighbors"]["k"]
    assert np.array_equal(nb[:2100 * k].reshape(2100, k), m.neighbors)
    assert np.allclose(nb[2100 * k:].view("<f4").reshape(2100, k), m.neighbor_scores)
    # The copies for pages opened from disk hold the same bytes.
    js = (d / "points.bin.js").read_text("ascii")
    payload = js.split(",", 1)[1].rsplit(",", 1)[0].strip('"')
    assert base64.b64decode(payload) == (d / "points.bin").read_bytes()
    assert json.loads((d / "keys.json").read_text("ascii")) == m.keys
    assert man["sizes"]["points.bin"] == 2100 * 8


def test_writing_replaces_an_old_map_but_never_a_foreign_folder(map2100, tmp_path):
    folder = map2100.save(tmp_path / "map")
    (folder / "data" / "stale.bin").write_bytes(b"x")
    map2100.save(folder, file_copies=False)
    assert not (folder / "data" / "stale.bin").exists() and not (folder / "data" / "points.bin.js").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]      # no temporary left behind
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(InputError, match="not an omnivec map"):
        map2100.save(other)
    assert (other / "cat.jpg").read_bytes() == b"meow"
    with pytest.raises(FormatError, match="manifest"):
        read_manifest(other)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_server_serves_files_and_neighbours_on_demand(g2100, map2100, tmp_path):
    folder = map2100.save(tmp_path / "map")
    od = OnDemandNeighbors(prepare(g2100.vectors, "cosine"), "cosine", 10)
    srv = make_server(folder, port=0, on_demand=od)
    assert srv.server_address[0] == "127.0.0.1"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        status, body = _get(base + "/index.html")
        assert status == 200 and b"omnivec-map.js" in body
        p = map2100.keys.index("king")
        status, body = _get(f"{base}/api/neighbors?point={p}")
        got = json.loads(body)
        assert status == 200 and [map2100.keys[j] for j in got["neighbors"]] == \
            [k for k, _ in g2100.most_similar("king", topn=10)]
        assert _get(f"{base}/api/neighbors?point=99999")[0] == 400
        assert _get(f"{base}/api/neighbors?point=abc")[0] == 400
    finally:
        srv.shutdown()
    srv = make_server(folder, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        assert _get(f"http://127.0.0.1:{srv.server_address[1]}/api/neighbors?point=1")[0] == 404
    finally:
        srv.shutdown()
    with pytest.raises(InputError, match="no index.html"):
        make_server(tmp_path, port=0)


@pytest.fixture
def model_file(g2100, tmp_path):
    path = tmp_path / "g.ov"
    omnivec.Embeddings(list(g2100.keys)[:800], g2100.vectors[:800], name="g800").save(path)
    return path


def test_cli_writes_a_map_and_reports_it(model_file, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["explore", str(model_file), "-o", str(out), "--layout", "pca", "--json", "-k", "5"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["points"] == 800 and facts["out"] == str(out) and facts["neighbors"]["k"] == 5
    assert (out / "index.html").is_file() and read_manifest(out)["name"] == "g800"
    assert main(["explore", str(model_file), "-o", str(out), "--layout", "pca", "--clusters", "3"]) == 0
    text = capsys.readouterr().out
    assert "map of 800 points written to" in text and "layout pca" in text


def test_cli_errors_are_one_clear_line(model_file, tmp_path, capsys):
    assert main(["explore", str(model_file), "-o", str(tmp_path / "x"), "--layout", "tsne"]) == 1
    assert "unknown layout method 'tsne'; valid names are: auto, umap, pca, identity" in capsys.readouterr().err
    assert main(["explore", str(tmp_path)]) == 1
    assert "add --serve" in capsys.readouterr().err
    assert main(["explore", str(tmp_path / "missing.ov")]) == 1
    assert main(["explore", str(model_file), "-o", str(tmp_path / "y"), "--layout", "pca",
                 "--color", "nope"]) == 1
    assert "no colour scheme 'nope'" in capsys.readouterr().err


def test_cli_serve_answers_on_localhost_with_neighbours_on_demand(model_file, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "served"
    cmd = [sys.executable, "-c", "import sys; from omnivec.cli import main; sys.exit(main())", "explore",
           str(model_file), "-o", str(out), "--layout", "pca", "--neighbor-limit", "10", "--neighbors", "exact",
           "--serve", "--port", "0", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        facts = json.loads(proc.stdout.readline())
        assert facts["url"].startswith("http://127.0.0.1:") and facts["neighbors"]["computed"] == 10
        base = facts["url"].rsplit("/", 1)[0]
        assert _get(facts["url"])[0] == 200
        status, body = _get(f"{base}/api/neighbors?point=500")
        emb = omnivec.open(model_file)
        assert status == 200
        assert [emb.key(j) for j in json.loads(body)["neighbors"]] == \
            [k for k, _ in emb.most_similar(emb.key(500), topn=10)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
