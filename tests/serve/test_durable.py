"""Durable index updates (SIGKILL mid-stream loses no acknowledged write), workers, hot reload."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest

import omnivec
from conftest import Subprocess, config, glove_table
from omnivec.errors import CorruptFileError
from omnivec.serve import running

httpx = pytest.importorskip("httpx")


def _writable_copy(files, tmp_path):
    d, _ = files
    for name in ("glove.ov", "glove.ov.flat"):
        shutil.copy(d / name, tmp_path / name)
    return tmp_path / "glove.ov"


def _vectors(url, keys):
    r = httpx.post(url + "/v1/models/glove/vectors", json={"keys": keys, "encoding_format": "float"}, timeout=30)
    return r


def test_sigkill_during_upserts_loses_no_acknowledged_write(files, tmp_path):
    model = _writable_copy(files, tmp_path)
    server = Subprocess(f"glove={model}", "--no-auth", "--compact-every", "40", "--reload-interval", "0")
    acked: dict[str, np.ndarray] = {}
    deleted: set[str] = set()
    sent: set[str] = set()
    stop = threading.Event()
    lock = threading.Lock()
    try:
        server.wait_ready()

        def writer(t):
            rng = np.random.default_rng(t)
            with httpx.Client(base_url=server.url, timeout=10) as c:
                i = 0
                while not stop.is_set():
                    key = f"w{t}-{i}"
                    v = rng.standard_normal((1, 50)).astype(np.float32)
                    try:
                        r = c.post("/v1/models/glove/upsert", json={"keys": [key], "vectors": v.tolist()})
                    except httpx.HTTPError:
                        return                        # the server died: this write was never acknowledged
                    if r.status_code == 200:
                        with lock:
                            acked[key] = v[0]
                    if t == 0 and i % 5 == 4:          # and some deletes of acknowledged keys
                        gone = f"w0-{i - 2}"
                        with lock:
                            sent.add(gone)            # a delete may be durable yet unanswered
                        try:
                            r = c.post("/v1/models/glove/delete", json={"keys": [gone], "missing": "ignore"})
                        except httpx.HTTPError:
                            return
                        if r.status_code == 200:
                            with lock:
                                deleted.add(gone)
                    i += 1

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
        for th in threads:
            th.start()
        end = time.monotonic() + 60
        while len(acked) < 100 and time.monotonic() < end:
            time.sleep(0.01)
        server.kill(signal.SIGKILL)                   # mid-stream: requests are in flight
        stop.set()
        for th in threads:
            th.join(30)
    finally:
        stop.set()
        server.kill()
    assert len(acked) >= 100
    # the journal was compacted into the index file at least once before the kill
    assert os.path.getmtime(str(model) + ".flat") > os.path.getmtime(model)
    again = Subprocess(f"glove={model}", "--no-auth", "--reload-interval", "0")
    try:
        again.wait_ready()
        assert deleted
        live = sorted(set(acked) - sent)
        r = _vectors(again.url, live)
        assert r.status_code == 200, r.text
        got = np.array(r.json()["vectors"], np.float32)
        assert np.array_equal(got, np.stack([acked[k] for k in live]))      # bit for bit
        for k in sorted(deleted):
            assert _vectors(again.url, [k]).status_code == 404
        assert _vectors(again.url, ["king"]).status_code == 200              # the table's own keys stay
    finally:
        again.kill(signal.SIGTERM)


def test_workers_share_updates_and_compaction(files, tmp_path):
    model = _writable_copy(files, tmp_path)
    server = Subprocess(f"glove={model}", "--no-auth", "--workers", "2", "--reload-interval", "0")
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=30) as c:
            v = np.arange(50, dtype=np.float32)[None] / 50
            assert c.post("/v1/models/glove/upsert", json={"keys": ["shared"], "vectors": v.tolist()}).status_code == 200
            # whichever worker answers (new connections spread over them) sees the write
            for _ in range(6):
                with httpx.Client(base_url=server.url, timeout=30) as fresh:
                    r = fresh.post("/v1/models/glove/search", json={"vectors": v.tolist(), "k": 1, "exact": True})
                    assert r.json()["results"][0][0]["key"] == "shared"
            assert c.post("/v1/models/glove/compact", json={}).json()["compacted"] >= 1
            assert c.post("/v1/models/glove/delete", json={"keys": ["shared"]}).status_code == 200
            for _ in range(6):
                with httpx.Client(base_url=server.url, timeout=30) as fresh:
                    assert fresh.post("/v1/models/glove/vectors", json={"keys": ["shared"]}).status_code == 404
            # one /metrics over both workers
            text = c.get("/metrics").text
            assert 'omnivec_requests_total{endpoint="/v1/models/{model}/search",model="glove",status="200"} 6.0' in text
    finally:
        server.kill(signal.SIGTERM)
    with open(str(model) + ".flat.log", "rb") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 2 and b'"op":"delete"' in lines[1]       # header + the delete after compaction


def test_replay_ignores_a_torn_last_record_and_refuses_a_damaged_one(files, tmp_path):
    from omnivec.search import open_index
    from omnivec.serve.journal import Journal, upsert_record

    model = _writable_copy(files, tmp_path)
    emb = omnivec.open(model)
    log = str(model) + ".flat.log"

    def journal():
        index = open_index(str(model) + ".flat", emb)
        return Journal(log, index, lambda: open_index(str(model) + ".flat", emb))

    j = journal()
    j.commit(upsert_record(["a1"], np.ones((1, 50), np.float32)))
    j.commit(upsert_record(["a2"], np.full((1, 50), 2, np.float32)))
    j.close()
    with open(log, "ab") as fh:                       # a crash while writing the third
        fh.write(b"0badc0de {\"op\":\"upsert\",\"keys\":[\"a3\"")
    j = journal()
    assert j.index.ids_of(["a1", "a2", "a3"]).tolist()[:2] != [-1, -1] and j.index.ids_of(["a3"])[0] == -1
    assert np.array_equal(j.index.extra_vectors[-1], np.full(50, 2, np.float32))
    j.close()
    data = open(log, "rb").read().split(b"\n")
    data[1] = data[1].replace(b"a1", b"b1")           # a damaged record in the middle
    open(log, "wb").write(b"\n".join(data))
    with pytest.raises(CorruptFileError, match="CRC-32"):
        journal()


def test_a_model_replaced_by_rename_under_load_drops_no_request(files, tmp_path):
    d, keys = files
    path = tmp_path / "live.ov"
    base = glove_table()
    base.save(path)
    cfg = config(d, models=[("live", str(path))], reload_interval=0.05)
    failures, answered = [], [0]
    stop = threading.Event()
    with running(cfg) as url:
        h = {"Authorization": f"Bearer {keys['read']}"}

        def load():
            with httpx.Client(base_url=url, headers=h, timeout=30) as c:
                while not stop.is_set():
                    for path_, body in (("most_similar", {"positive": ["king"], "k": 5}),
                                        ("search", {"keys": ["paris", "tokyo"], "k": 3}),
                                        ("vectors", {"keys": ["king"]})):
                        r = c.post(f"/v1/models/live/{path_}", json=body)
                        answered[0] += 1
                        if r.status_code != 200:
                            failures.append((path_, r.status_code, r.text[:200]))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for th in threads:
            th.start()
        for version in range(1, 6):
            time.sleep(0.15)
            scaled = omnivec.Embeddings(list(base.keys), np.asarray(base.vectors) * (version + 1))
            scaled.save(tmp_path / "next.ov")
            os.replace(tmp_path / "next.ov", path)     # what a deploy does: write aside, rename over
        time.sleep(0.3)
        stop.set()
        for th in threads:
            th.join(30)
        assert not failures, failures[:3]
        assert answered[0] > 20
        end = time.monotonic() + 10
        while True:                                   # the last version is what the service serves
            r = httpx.post(url + "/v1/models/live/vectors", json={"keys": ["king"]}, headers=h).json()
            if np.allclose(r["vectors"][0], base["king"] * 6, atol=1e-5) or time.monotonic() > end:
                break
            time.sleep(0.05)
        assert np.allclose(r["vectors"][0], base["king"] * 6, atol=1e-5)
        text = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {keys['admin']}"}).text
        assert 'omnivec_model_reloads_total{model="live"}' in text


def test_concurrent_upserts_of_one_key_last_write_wins(files, tmp_path):
    from omnivec.serve.journal import record_vectors

    d, keys = files
    model = _writable_copy(files, tmp_path)
    h = {"Authorization": f"Bearer {keys['write']}"}
    with running(config(d, models=[("glove", str(model))], reload_interval=0)) as url:
        def put(i):
            v = np.full((1, 50), float(i), np.float32)
            assert httpx.post(url + "/v1/models/glove/upsert", json={"keys": ["same"], "vectors": v.tolist()},
                              headers=h, timeout=30).status_code == 200

        threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        got = httpx.post(url + "/v1/models/glove/vectors", json={"keys": ["same"]}, headers=h).json()["vectors"][0]
    lines = open(str(model) + ".flat.log", "rb").read().splitlines()[1:]
    last = json.loads(lines[-1][9:])
    assert len(lines) == 8 and np.array_equal(got, record_vectors(last)[0])     # the journal's order decides
