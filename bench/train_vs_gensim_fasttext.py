"""Word-vector training, side by side: omnivec vs gensim 4.x vs Facebook fastText (fasttext-wheel).

Corpus: ../shared/data/text/imdb_reviews.tsv.gz (column 5, ``<br />`` removed,
lower-cased, tokens [a-z0-9']+), the same token file for every tool.
Same hyper-parameters for every tool: dim 100, window 5, negative 5, sample
1e-3, min_count 5, 5 epochs, `--threads` threads; lr 0.025 skip-gram, 0.05
CBOW and fastText mode.  Settings:

    sg      word2vec skip-gram   ours Word2Vec | gensim Word2Vec(sg=1) | fastText skipgram, maxn=0
    cbow    word2vec CBOW        ours Word2Vec | gensim Word2Vec(sg=0) | fastText cbow, maxn=0
    ft-sg   fastText skip-gram   ours FastText | gensim FastText(sg=1) | fastText skipgram (minn 3, maxn 6, bucket 2M)

Every run is its own process (peak RSS is that process's; its private part,
RssAnon, and its shared-library pages, RssFile, are sampled every 50 ms and
reported apart), runs of the tools
are interleaved and repeated per seed; throughput is corpus words x epochs
per wall second of the whole fit (vocabulary scan included), quality is
measured by one evaluator (omnivec.evaluate) on every tool's vectors:
Google analogy (3CosAdd, restrict_vocab 300000, case-insensitive), WordSim353
and SimLex-999 Spearman.  One JSON line per setting (and thread count):
medians of throughput, mean and spread of quality over seeds, max peak RSS,
and ratios ours / anchor.

    python bench/train_vs_gensim_fasttext.py --max-tokens 5000000 --seeds 1,2,3 --settings sg,cbow,ft-sg
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
CORPUS = DATA / "text" / "imdb_reviews.tsv.gz"
EVAL = DATA / "eval" / "gensim"
OUT = HERE / "out"
TOOLS = ("omnivec", "gensim", "fasttext")
SETTINGS = ("sg", "cbow", "ft-sg")
HP = dict(dim=100, window=5, negative=5, sample=1e-3, min_count=5, epochs=5)


def prepare(max_tokens: int | None) -> tuple[Path, int]:
    """Return (token file, tokens): the benchmark corpus as one lower-cased line per review."""
    sys.path.insert(0, str(HERE))
    import _data

    return _data.imdb_tokens(max_tokens, CORPUS)


# ----------------------------------------------------------------------------- one run (child)
def _rss_now() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _MemWatch:
    """Samples the process's private (RssAnon) and file-backed (RssFile) resident memory every 50 ms.

    Peak RSS counts both; file-backed pages are shared-library code and data
    (for us mostly LLVM, for gensim scipy's libraries): shared between
    processes and reclaimable, unlike the private part.
    """

    def __init__(self) -> None:
        import threading

        self.peak = {"RssAnon": 0.0, "RssFile": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        with open("/proc/self/status") as fh:
            for line in fh:
                key = line.split(":", 1)[0]
                if key in self.peak:
                    self.peak[key] = max(self.peak[key], int(line.split()[1]) / 1024)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def start(self) -> "_MemWatch":
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def child(spec: dict) -> dict:
    import numpy as np

    tool, setting, corpus, seed, threads = (spec["tool"], spec["setting"], spec["corpus"], spec["seed"],
                                            spec["threads"])
    arch = "cbow" if setting == "cbow" else "skipgram"
    lr = 0.05 if setting != "sg" else 0.025
    subwords = setting == "ft-sg"
    if tool == "omnivec":
        from omnivec.learn.fasttext import FastText
        from omnivec.learn.word2vec import Word2Vec
    elif tool == "gensim":
        from gensim.models import FastText as GFT
        from gensim.models import Word2Vec as GW2V
        from gensim.models.word2vec import LineSentence
    else:
        import fasttext
    # the tool's own import cost (numba and LLVM for us, scipy for gensim), before any work
    base_rss = _rss_now()
    watch = _MemWatch().start()
    if tool == "omnivec":
        cls = FastText if subwords else Word2Vec
        kw = dict(min_lr=lr * 1e-4) if not subwords else {}
        learner = cls(dim=HP["dim"], window=HP["window"], negative=HP["negative"], sample=HP["sample"],
                      min_count=HP["min_count"], epochs=HP["epochs"], architecture=arch, lr=lr,
                      workers=threads, seed=seed, progress=False, **kw)
        t0 = time.perf_counter()
        emb = learner.fit(corpus)
        secs = time.perf_counter() - t0
        keys, vecs = list(emb), np.asarray(emb.vectors)
    elif tool == "gensim":
        cls = GFT if subwords else GW2V
        t0 = time.perf_counter()
        m = cls(LineSentence(corpus), vector_size=HP["dim"], window=HP["window"], negative=HP["negative"],
                sample=HP["sample"], min_count=HP["min_count"], epochs=HP["epochs"],
                sg=0 if arch == "cbow" else 1, alpha=lr, min_alpha=lr * 1e-4, workers=threads, seed=seed)
        secs = time.perf_counter() - t0
        keys, vecs = list(m.wv.index_to_key), np.asarray(m.wv.vectors)
    else:
        extra = {} if subwords else {"maxn": 0}
        t0 = time.perf_counter()
        m = fasttext.train_unsupervised(corpus, model=arch, dim=HP["dim"], ws=HP["window"],
                                        neg=HP["negative"], t=HP["sample"], minCount=HP["min_count"],
                                        epoch=HP["epochs"], lr=lr, thread=threads, verbose=0,
                                        **extra)   # fasttext-wheel 0.9.2 has no seed option
        secs = time.perf_counter() - t0
        keys = [w for w in m.get_words() if w != "</s>"]
        vecs = np.stack([m.get_word_vector(w) for w in keys])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    watch.stop()
    from omnivec import Embeddings
    from omnivec.evaluate.analogy import evaluate_analogies
    from omnivec.evaluate.similarity import evaluate_similarity

    emb = Embeddings(keys, vecs.astype(np.float32))
    an = evaluate_analogies(emb, EVAL / "questions-words.txt")
    return {"seconds": secs, "words_per_second": spec["tokens"] * HP["epochs"] / secs, "peak_rss_mb": rss,
            "import_rss_mb": base_rss, "peak_private_mb": watch.peak["RssAnon"],
            "peak_shared_lib_mb": watch.peak["RssFile"],
            "analogy": an.accuracy, "analogy_oov": an.oov_ratio,
            "ws353": evaluate_similarity(emb, EVAL / "wordsim353.tsv").spearman,
            "simlex": evaluate_similarity(emb, EVAL / "simlex999.txt").spearman, "vocab": len(keys)}


def run_child(spec: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0].get("error") if runs else "no runs"}

    def ms(key):
        xs = [r[key] for r in ok]
        return {"mean": round(statistics.fmean(xs), 4),
                "spread": round(max(xs) - min(xs), 4), "values": [round(x, 4) for x in xs]}

    return {"words_per_second": round(statistics.median(r["words_per_second"] for r in ok)),
            "seconds": [round(r["seconds"], 2) for r in ok],
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in ok)),
            "import_rss_mb": round(max(r.get("import_rss_mb", float("nan")) for r in ok)),
            "peak_private_mb": round(max(r["peak_private_mb"] for r in ok)),
            "peak_shared_lib_mb": round(max(r["peak_shared_lib_mb"] for r in ok)),
            "analogy": ms("analogy"), "ws353": ms("ws353"), "simlex": ms("simlex"), "runs": len(ok),
            "vocab": ok[0]["vocab"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-tokens", type=int, default=None, help="use the first reviews up to this many tokens")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--threads", default="2", help="comma-separated thread counts, e.g. 1,2")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    corpus, tokens = prepare(args.max_tokens)
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = args.settings.split(",")
    tools = args.tools.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    results: dict = {}
    load = [os.getloadavg()[0]]
    for th in threads:
        for i, seed in enumerate(seeds):
            for setting in settings:
                # rotate the order so no tool always runs first (interleaved, shared CPU)
                order = tools[i % len(tools):] + tools[:i % len(tools)]
                for tool in order:
                    spec = {"tool": tool, "setting": setting, "corpus": str(corpus), "seed": seed,
                            "threads": th, "tokens": tokens}
                    r = run_child(spec)
                    load.append(os.getloadavg()[0])
                    results.setdefault((setting, th), {}).setdefault(tool, []).append(r)
                    print(json.dumps({"progress": spec | {"corpus": corpus.name}, "result": r}), file=sys.stderr)
    for (setting, th), per_tool in results.items():
        line = {"setting": setting, "threads": th, "corpus_tokens": tokens, "epochs": HP["epochs"],
                "seeds": seeds, "hyper_parameters": HP}
        summ = {t: summarize(rs) for t, rs in per_tool.items()}
        line.update(summ)
        ours = summ.get("omnivec", {})
        for anchor in ("gensim", "fasttext"):
            a = summ.get(anchor, {})
            if "words_per_second" in ours and "words_per_second" in a:
                line[f"throughput_vs_{anchor}"] = round(ours["words_per_second"] / a["words_per_second"], 3)
                line[f"rss_vs_{anchor}"] = round(ours["peak_rss_mb"] / a["peak_rss_mb"], 3)
                line[f"private_memory_vs_{anchor}"] = round(ours["peak_private_mb"] / a["peak_private_mb"], 3)
                for q in ("analogy", "ws353", "simlex"):
                    line[f"{q}_minus_{anchor}_points"] = round(100 * (ours[q]["mean"] - a[q]["mean"]), 2)
        line["load_average"] = {"min": round(min(load), 2), "median": round(statistics.median(load), 2),
                                "max": round(max(load), 2), "cores": os.cpu_count()}
        print(json.dumps(line))


if __name__ == "__main__":
    main()
