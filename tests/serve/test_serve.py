"""omnivec serve: auth on every route, the queries against the local table, embeddings, limits, errors."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import stat
import threading

import numpy as np
import pytest

import omnivec
from conftest import config, glove_table, static_from_table
from omnivec.errors import InputError, KeyNotFound
from omnivec.serve import create_app, running

httpx = pytest.importorskip("httpx")

PUBLIC = {("get", "/healthz"), ("get", "/readyz")}


def _same(got, want) -> bool:
    """(key, score) lists agree: the same keys, scores equal to float32 precision."""
    return [k for k, _ in got] == [k for k, _ in want] and np.allclose([s for _, s in got], [s for _, s in want],
                                                                        atol=1e-6)


def _h(token):
    return {"Authorization": f"Bearer {token}"} if token else {}


def _body_for(path: str, model: str) -> dict:
    """A valid body for each route (auth is checked before the body, but valid ones reach the work)."""
    probe = "zz-auth-probe"        # updates touch a key of their own, never the table's words
    return {"/v1/embeddings": {"input": "the king", "model": model},
            "/v1/models/{model}/upsert": {"keys": [probe], "vectors": [[0.5] * 50]},
            "/v1/models/{model}/delete": {"keys": [probe], "missing": "ignore"}}.get(path, {"keys": ["king"]})


# -- auth on every route of the schema -------------------------------------------------------------
def test_every_route_refuses_missing_invalid_and_wrong_scope_keys(server):
    url, keys, _ = server
    http = httpx.Client(base_url=url, timeout=30)
    schema = http.get("/openapi.json").json()
    level = {"read": 1, "write": 2, "admin": 3}
    key_of = {1: keys["read"], 2: keys["write"], 3: keys["admin"]}
    checked = 0
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            scope = op.get("x-omnivec-scope")
            assert scope is not None, f"{method.upper()} {path} declares no scope (x-omnivec-scope)"
            if scope == "public":
                assert (method, path) in PUBLIC, f"{method.upper()} {path} is public"
                assert http.request(method, path).status_code == 200
                continue
            target = path.replace("{model}", "glove")
            body = _body_for(path, "glove") if method == "post" else None

            def call(token, target=target, body=body, method=method):
                return http.request(method, target, json=body, headers=_h(token))

            for token in (None, "ovk_not-a-key", "Bearer", keys["read"] + "x"):
                r = call(token)
                assert r.status_code == 401, (method, path, token, r.text)
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.headers.get("www-authenticate") == "Bearer"
            for lvl in range(1, level[scope]):       # a key whose scope is too low
                r = call(key_of[lvl])
                assert r.status_code == 403 and "needs" in r.json()["detail"], (method, path, lvl)
            if op.get("x-omnivec-model"):           # a key for another model only (admin scope)
                r = call(keys["other"])
                assert r.status_code == 403 and "may not use model 'glove'" in r.json()["detail"], (method, path)
            r = call(key_of[level[scope]])
            assert r.status_code not in (401, 403), (method, path, r.text)
            checked += 1
    assert checked >= 12
    # the docs and the schema are public; every other route is in the schema
    assert http.get("/docs").status_code == 200
    http.close()


def test_a_key_limited_to_one_model_sees_only_it(server):
    url, keys, _ = server
    names = [m["name"] for m in httpx.get(url + "/v1/models", headers=_h(keys["other"])).json()["models"]]
    assert names == ["static"]
    r = httpx.get(url + "/v1/models/nope", headers=_h(keys["other"]))
    assert r.status_code == 403
    r = httpx.get(url + "/v1/models/nope", headers=_h(keys["read"]))
    assert r.status_code == 404 and "glove, static, nations" in r.json()["detail"]
    # X-API-Key works as well as the Bearer header
    assert httpx.get(url + "/v1/models", headers={"X-API-Key": keys["read"]}).status_code == 200


# -- the queries answer what the local table answers --------------------------------------------------
def test_client_queries_match_the_local_table(server):
    url, keys, d = server
    local = omnivec.open(d / "glove.ov")
    with omnivec.Client(url, keys["read"], model="glove") as emb:
        assert len(emb) == len(local) and emb.dim == 50 and emb.metric == "cosine"
        assert _same(emb.most_similar("king", topn=5), local.most_similar("king", topn=5))
        got = emb.most_similar(["king", "woman"], ["man"], topn=3)
        assert [k for k, _ in got] == [k for k, _ in local.most_similar(["king", "woman"], ["man"], topn=3)]
        assert emb.similarity("king", "queen") == pytest.approx(local.similarity("king", "queen"), abs=1e-6)
        assert _same(emb.analogy("man", "king", "woman", topn=2), local.analogy("man", "king", "woman", topn=2))
        assert np.array_equal(emb["paris"], local["paris"])
        assert np.array_equal(emb[["a", "the"]], local[["a", "the"]])
        assert "paris" in emb and "no-such-word" not in emb
        with pytest.raises(KeyNotFound, match="no-such-word"):
            emb["no-such-word"]
        # search by keys (through the flat index) and by vectors, as the table's own search
        found = emb.search(["paris", "king"], k=4)
        want = local.search(["paris", "king"], k=4)
        assert found.keys == want.keys and np.allclose(found.scores, want.scores, atol=1e-6)
        assert np.array_equal(found.ids, want.ids)
        q = local[["tokyo"]]
        assert emb.search(q, k=3).keys == local.search(q, k=3).keys
        assert emb.search(["paris"], k=3, exclude_self=False).keys[0][0] == "paris"
        # filters: attribute conditions and allow lists
        f = emb.search(["paris"], k=5, filter={"where": ["row >= 1000"]})
        assert all(local.row(k) >= 1000 for k in f.keys[0]) and len(f.keys[0]) == 5
        f = emb.search(["paris"], k=5, filter={"allow": ["king", "queen", "london"]})
        assert set(f.keys[0]) == {"king", "queen", "london"}
        assert emb.search(["paris"], k=4, exact=True).keys == [want.keys[0]]


def test_knowledge_graph_predictions_match_the_local_model(server):
    url, keys, d = server
    kg = omnivec.open(d / "nations.ov")
    rel = kg.relations.key(0)
    with omnivec.Client(url, keys["read"], model="nations") as c:
        assert _same(c.predict_tails("uk", rel, 5), kg.predict_tails("uk", rel, 5))
        assert _same(c.predict_heads(rel, "usa", 3), kg.predict_heads(rel, "usa", 3))
        with pytest.raises(KeyNotFound):
            c.predict_tails("atlantis", rel, 3)
        # a KG model is also its tables
        ent = c.table("nations", "entities")
        assert np.array_equal(ent["uk"], kg.entities["uk"])
    r = httpx.post(url + "/v1/models/glove/kg/tails", json={"head": "a", "relation": "b"}, headers=_h(keys["read"]))
    assert r.status_code == 422 and "not a knowledge-graph model" in r.json()["detail"]


def test_oov_vectors_follow_the_model_and_the_request(server):
    url, keys, d = server
    r = httpx.post(url + "/v1/models/glove/vectors", json={"keys": ["king", "qwertyuiop"]}, headers=_h(keys["read"]))
    assert r.status_code == 404 and "qwertyuiop" in r.json()["detail"] and '"oov": true' in r.json()["detail"]
    r = httpx.post(url + "/v1/models/glove/vectors", json={"keys": ["king", "qwertyuiop"], "oov": True},
                   headers=_h(keys["read"]), timeout=60)        # the first OOV vector may compile its kernel
    assert r.status_code == 200 and r.json()["oov"] == [False, True]
    local = omnivec.open(d / "glove.ov")
    assert np.allclose(r.json()["vectors"][1], local.vector("qwertyuiop", oov=True))


# -- OpenAI-style embeddings --------------------------------------------------------------------------------
def test_embeddings_follow_openais_format_and_match_the_static_model(server):
    url, keys, d = server
    enc = omnivec.open(d / "static.ov")
    texts = ["The king and the queen", "a city in France", "Paris"]
    r = httpx.post(url + "/v1/embeddings", json={"input": texts, "model": "static"}, headers=_h(keys["read"]))
    assert r.status_code == 200
    out = r.json()
    assert out["object"] == "list" and out["model"] == "static"
    assert [e["index"] for e in out["data"]] == [0, 1, 2] and {e["object"] for e in out["data"]} == {"embedding"}
    X = np.array([e["embedding"] for e in out["data"]], np.float32)
    assert np.allclose(X, enc.encode(texts), atol=1e-6)
    assert out["usage"]["prompt_tokens"] == 5 + 4 + 1 and out["usage"]["total_tokens"] == 10
    # base64 and a single string
    r = httpx.post(url + "/v1/embeddings", json={"input": "Paris", "model": "static", "encoding_format": "base64"},
                   headers=_h(keys["read"]))
    v = np.frombuffer(base64.b64decode(r.json()["data"][0]["embedding"]), "<f4")
    assert np.allclose(v, X[2], atol=1e-6)
    # dimensions: the first d, unit length again
    r = httpx.post(url + "/v1/embeddings", json={"input": texts, "model": "static", "dimensions": 8},
                   headers=_h(keys["read"]))
    Y = np.array([e["embedding"] for e in r.json()["data"]])
    assert Y.shape == (3, 8) and np.allclose(np.linalg.norm(Y, axis=1), 1, atol=1e-5)
    assert np.allclose(Y, X[:, :8] / np.linalg.norm(X[:, :8], axis=1, keepdims=True), atol=1e-5)
    r = httpx.post(url + "/v1/embeddings", json={"input": texts, "model": "static", "dimensions": 51},
                   headers=_h(keys["read"]))
    assert r.status_code == 422 and "50-dimensional" in r.json()["detail"]
    # the client
    with omnivec.Client(url, keys["read"], model="static") as c:
        assert np.allclose(c.encode(texts), X, atol=1e-6)
    # a model that embeds no texts
    r = httpx.post(url + "/v1/embeddings", json={"input": "x", "model": "glove"}, headers=_h(keys["read"]))
    assert r.status_code == 422 and "does not embed texts" in r.json()["detail"]


def test_big_batches_are_split_and_long_texts_cut_only_when_asked(server):
    url, keys, d = server
    enc = omnivec.open(d / "static.ov")
    words = [w for w in enc.tokens.keys if w.isalpha()][:700]      # one token each
    texts = [f"{words[i]} {words[i + 1]} of the" for i in range(600)]      # above the batch size of 256
    r = httpx.post(url + "/v1/embeddings", json={"input": texts, "model": "static"}, headers=_h(keys["read"]))
    assert r.status_code == 200 and len(r.json()["data"]) == 600
    X = np.array([e["embedding"] for e in r.json()["data"]], np.float32)
    assert np.allclose(X, enc.encode(texts), atol=1e-6)
    long = " ".join(words[:600])                                          # 600 tokens > the limit of 512
    r = httpx.post(url + "/v1/embeddings", json={"input": [long, "paris"], "model": "static"},
                   headers=_h(keys["read"]))
    assert r.status_code == 422 and "512 tokens" in r.json()["detail"] and "truncate" in r.json()["detail"]
    r = httpx.post(url + "/v1/embeddings", json={"input": [long, "paris"], "model": "static", "truncate": True},
                   headers=_h(keys["read"]))
    assert r.status_code == 200 and r.json()["truncated"] == 1
    cut = np.array(r.json()["data"][0]["embedding"], np.float32)
    assert np.allclose(cut, enc.encode([" ".join(words[:512])])[0], atol=1e-6)


# -- bad input ---------------------------------------------------------------------------------------------
def test_bad_input_gets_the_status_the_issue_names(server):
    url, keys, d = server
    h = {**_h(keys["write"]), "content-type": "application/json"}
    post = lambda path, **kw: httpx.post(url + path, headers=h, **kw)  # noqa: E731
    r = post("/v1/models/glove/search", content=b'{"keys": ["king"')
    assert r.status_code == 400 and r.json()["title"] == "Malformed JSON"
    r = post("/v1/models/glove/search", content=b"x" * (3 * 1024 * 1024))
    assert r.status_code == 413 and str(2 * 1024 * 1024) in r.json()["detail"]
    r = post("/v1/models/glove/search", json={"keys": ["king"], "k": 1001})
    assert r.status_code == 422 and "max_k=1000" in r.json()["detail"]
    r = post("/v1/models/glove/vectors", json={"keys": ["the"] * 2049})
    assert r.status_code == 422 and "max_batch=2048" in r.json()["detail"]
    r = post("/v1/models/glovex/search", json={"keys": ["king"]})
    assert r.status_code == 404 and "glove, static, nations" in r.json()["detail"]
    r = post("/v1/models/nations/search", json={"keys": ["uk"], "table": "verbs"})
    assert r.status_code == 404 and "entities, relations" in r.json()["detail"]
    r = post("/v1/models/glove/search", json={"vectors": [[0.5] * 49]})
    assert r.status_code == 422 and "50 dimensions" in r.json()["detail"]
    r = post("/v1/models/glove/upsert", content=b'{"keys": ["x"], "vectors": [[NaN' + b", 0" * 49 + b"]]}")
    assert r.status_code == 422 and "NaN" in r.json()["detail"]
    r = post("/v1/models/glove/search", json={"keys": ["king"], "vectors": [[0.0] * 50]})
    assert r.status_code == 422 and "either" in r.json()["detail"]
    r = post("/v1/models/glove/search", json={"keys": ["king"], "filter": {"where": ["nope > 1"]}})
    assert r.status_code == 422 and "counts" in r.json()["detail"]
    r = post("/v1/models/glove/search", json={"keys": ["king"], "surprise": 1})
    assert r.status_code == 422
    r = httpx.get(url + "/v1/nothing-here", headers=h)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    # no answer names a file or carries a stack trace
    for resp in (r, post("/v1/models/nations/vectors", json={"keys": ["uk"]})):
        assert str(d) not in resp.text and "Traceback" not in resp.text


def test_errors_never_leak_paths(files):
    from omnivec.serve.app import Scrubber

    d, _ = files
    scrub = Scrubber({"glove": str(d / "glove.ov")})
    text = f"{d / 'glove.ov'}: byte 8: bad header; see {d / 'keys.json'} and /m/027rn"
    out = scrub(text)
    assert str(d) not in out and "<model glove>" in out and "/m/027rn" in out


def test_a_slow_client_times_out(files):
    d, keys = files
    with running(config(d, body_timeout=0.5, reload_interval=0)) as url:
        host, port = url[7:].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /v1/models/glove/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Authorization: Bearer " + keys["read"].encode() + b"\r\nContent-Length: 100\r\n\r\n{")
            reply = b""
            while b"did not arrive" not in reply:          # the answer may come in several pieces
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
            reply = reply.decode()
        assert reply.startswith("HTTP/1.1 408") and "did not arrive" in reply


# -- back-pressure, deadlines, rate limits -----------------------------------------------------------------
def test_a_full_queue_answers_429_and_an_expired_deadline_drops_the_work(files):
    d, keys = files
    app = create_app(config(d, concurrency=1, queue=1, reload_interval=0))
    journal = app.state.ctx.models.get("glove").journals["embeddings"]
    h = _h(keys["write"])
    with running(app) as url:
        results = {}

        def call(name, path, body, extra=None):
            results[name] = httpx.post(url + path, json=body, headers={**h, **(extra or {})}, timeout=30)

        with journal.lock.write():                        # the one work thread now waits on this lock
            first = threading.Thread(target=call, args=("first", "/v1/models/glove/search", {"keys": ["king"]}))
            first.start()
            _wait(lambda: app.state.ctx.admission.running == 1)
            late = threading.Thread(target=call, args=("late", "/v1/models/glove/upsert",
                                                        {"keys": ["zz-dropped"], "vectors": [[1.0] * 50]},
                                                        {"X-Request-Timeout": "0.3"}))
            late.start()
            _wait(lambda: app.state.ctx.admission.waiting == 1)
            over = httpx.post(url + "/v1/models/glove/vectors", json={"keys": ["king"]}, headers=h)
            assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
            assert "queue is full" in over.json()["detail"]
            late.join(10)
        first.join(10)
        assert results["first"].status_code == 200
        assert results["late"].status_code == 504 and "no work was done" in results["late"].json()["detail"]
        r = httpx.post(url + "/v1/models/glove/vectors", json={"keys": ["zz-dropped"]}, headers=h)
        assert r.status_code == 404                        # the dropped upsert never ran
        metrics = httpx.get(url + "/metrics", headers=_h(keys["admin"])).text
        assert 'omnivec_rejected_total{reason="queue"} 1.0' in metrics
        assert 'omnivec_rejected_total{reason="deadline"} 1.0' in metrics


def _wait(cond, timeout=10.0):
    import time
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition never held"
        time.sleep(0.005)


def test_rate_limits_are_per_key(files):
    from omnivec.serve import add_key

    d, keys = files
    limited = add_key(d / "keys.json", "limited", scope="read", rate=0.5, burst=2)
    with running(config(d, reload_interval=0)) as url:
        codes = [httpx.get(url + "/v1/models", headers=_h(limited)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = httpx.get(url + "/v1/models", headers=_h(limited))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "limited" in r.json()["detail"]
        assert httpx.get(url + "/v1/models", headers=_h(keys["read"])).status_code == 200   # another key


# -- operations --------------------------------------------------------------------------------------------
def test_health_readiness_metrics_and_access_log(server, caplog):
    url, keys, _ = server
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(url + "/readyz").json()
    assert ready["status"] == "ready" and ready["models"] == ["glove", "static", "nations"]
    with caplog.at_level(logging.INFO, logger="omnivec.serve.access"):
        httpx.post(url + "/v1/models/glove/most_similar", json={"positive": ["king"], "k": 2}, headers=_h(keys["read"]))
        httpx.post(url + "/v1/models/glove/most_similar", json={"positive": ["zzzq"]}, headers=_h(keys["read"]))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "omnivec.serve.access"]
    ok = [x for x in lines if x["status"] == 200][-1]
    assert ok["route"] == "/v1/models/{model}/most_similar" and ok["model"] == "glove" and ok["key"] == "reader"
    assert {"ts", "request_id", "client", "method", "ms"} <= set(ok)
    assert keys["read"] not in caplog.text
    text = httpx.get(url + "/metrics", headers=_h(keys["admin"])).text
    assert ('omnivec_requests_total{endpoint="/v1/models/{model}/most_similar",model="glove",status="200"}'
            in text)
    assert 'omnivec_errors_total{endpoint="/v1/models/{model}/most_similar",model="glove",status="404"}' in text
    assert 'omnivec_request_seconds_bucket{endpoint="/v1/models/{model}/most_similar"' in text


def test_keys_added_or_revoked_apply_without_a_restart(files, tmp_path):
    from omnivec.serve import add_key, remove_key

    d, _ = files
    keys = tmp_path / "keys.json"
    first = add_key(keys, "first", scope="read", rate=0)
    with running(config(d, keys_file=str(keys), reload_interval=0.05)) as url:
        assert httpx.get(url + "/v1/models", headers=_h(first)).status_code == 200
        second = add_key(keys, "second", scope="read", rate=0)
        remove_key(keys, "first")
        _wait(lambda: httpx.get(url + "/v1/models", headers=_h(first)).status_code == 401)
        assert httpx.get(url + "/v1/models", headers=_h(second)).status_code == 200


def test_no_auth_is_for_loopback_only_and_keys_are_required_otherwise(files):
    from omnivec.serve import ServeConfig

    d, _ = files
    with pytest.raises(InputError, match="loopback"):
        ServeConfig(models=[("g", str(d / "glove.ov"))], no_auth=True, host="0.0.0.0").check()
    with pytest.raises(InputError, match="--keys"):
        ServeConfig(models=[("g", str(d / "glove.ov"))]).check()
    with running(config(d, keys_file=None, no_auth=True, reload_interval=0)) as url:
        assert httpx.get(url + "/v1/models").status_code == 200


def test_keys_file_holds_hashes_only(tmp_path, capsys):
    from omnivec.cli import main
    from omnivec.serve import list_keys, remove_key
    from omnivec.serve.keys import KeyRing

    path = tmp_path / "keys.json"
    assert main(["serve", "keys", "add", "app", "--keys", str(path), "--scope", "write", "--models", "glove",
                 "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["key"]
    assert token not in path.read_text() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = KeyRing.load(path).find(token)
    assert key.name == "app" and key.scope == "write" and key.models == ("glove",)
    assert KeyRing.load(path).find(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert main(["serve", "keys", "add", "app", "--keys", str(path)]) == 1          # names are unique
    assert main(["serve", "keys", "add", "x", "--keys", str(path), "--scope", "root"]) == 1
    assert "valid scopes are: read, write, admin" in capsys.readouterr().err
    assert [k["name"] for k in list_keys(path)] == ["app"]
    assert main(["serve", "keys", "list", "--keys", str(path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["keys"]
    assert [(k["name"], k["scope"], k["models"]) for k in listed] == [("app", "write", ["glove"])]
    assert "sha256" not in listed[0]
    assert main(["serve", "keys", "remove", "app", "--keys", str(path)]) == 0
    assert main(["serve", "keys", "add", "app", "--keys", str(path)]) == 0
    remove_key(path, "app")
    assert list_keys(path) == []
    with pytest.raises(KeyNotFound):
        remove_key(path, "app")
    assert main(["serve", "--help"]) == 0
    capsys.readouterr()
    assert main(["serve", str(tmp_path / "nope.ov"), "--no-auth"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "keys.json"), "--host", "0.0.0.0", "--no-auth"]) == 1
    assert "loopback" in capsys.readouterr().err


def test_the_client_and_a_local_table_are_used_alike(server):
    url, keys, d = server

    def top(emb):       # code written against a table runs against the client unchanged
        return [k for k, _ in emb.most_similar("france", topn=3)], emb.search(["france"], k=3).keys[0]

    assert top(omnivec.Client(url, keys["read"], model="glove")) == top(omnivec.open(d / "glove.ov"))
    with pytest.raises(InputError, match="3 models"):
        omnivec.Client(url, keys["read"]).model


def test_schemathesis_finds_no_server_error(files):
    """Property-based requests from the OpenAPI schema: never a 5xx (bounded: a few examples per route)."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    d, keys = files
    # a writable copy, so fuzzed upserts and deletes land somewhere harmless
    import shutil
    work = d / "fuzz"
    work.mkdir(exist_ok=True)
    for name in ("glove.ov", "glove.ov.flat"):
        shutil.copy(d / name, work / name)
    app = create_app(config(d, models=[("glove", str(work / "glove.ov")), ("static", str(d / "static.ov")),
                                       ("nations", str(d / "nations.ov"))], reload_interval=0))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    for op in schema.get_all_operations():
        op = op.ok()

        @settings(max_examples=4, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def fuzz(case):
            r = case.call(headers=_h(keys["admin"]))
            if r.status_code >= 500:
                failures.append((case.method, case.formatted_path, r.status_code, r.text[:300]))

        fuzz()
    assert not failures, failures


def test_embeddings_of_a_document_table_use_its_recorded_encoder(files, tmp_path):
    d, keys = files
    enc = omnivec.open(d / "static.ov")
    docs = ["the king of france", "a city by the sea", "tokyo and paris"]
    enc.encode_corpus(docs, tmp_path / "docs.ov", ids=["a", "b", "c"])
    with running(config(d, models=[("docs", str(tmp_path / "docs.ov"))], reload_interval=0)) as url:
        r = httpx.post(url + "/v1/embeddings", json={"input": ["paris by the sea"], "model": "docs"},
                       headers=_h(keys["read"]))
        assert r.status_code == 200
        assert np.allclose(r.json()["data"][0]["embedding"], enc.encode(["paris by the sea"])[0], atol=1e-6)
        found = omnivec.Client(url, keys["read"]).search(np.asarray([r.json()["data"][0]["embedding"]],
                                                                     np.float32), k=1)
        assert found.keys == [["b"]]
