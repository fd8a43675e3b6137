"""Every code block and command line of the README runs, in order, on small real data.

The README's file names are given real (small) files: GloVe 6B 50d rows for
`glove.6B.300d.txt` and `vectors.npy`, a fastText model for `en.ov`, WordNet
glosses for the corpus, Nations for `data/nations`. A few sizes are scaled
down (listed in SCALE) so the suite stays fast; lines that cannot run here
are listed in SKIP with the reason. A new block or command runs without
anyone adding it here, so the README cannot drift from the code again.
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

# Sizes that make a line slow, not different: (text in the README, text run here).
SCALE = [
    ("bucket=2_000_000", "bucket=20_000"),
    ("--epochs 200", "--epochs 20"),
    ("epochs=100", "epochs=10"),
    # UMAP's first call compiles for half a minute; tests/explore covers the UMAP layout
    ("-o glove-map", "-o glove-map --layout pca"),
    ("build_map(emb)", "build_map(emb, layout='pca')"),
    # distilling MiniLM's whole 30k-token vocabulary takes minutes; tests/encode covers it
    ("pca_dims=256)", "pca_dims=64, max_vocabulary=3000)"),
    ("-o static.ov --pca-dims 256", "-o static.ov --pca-dims 64 --max-vocabulary 3000"),
]
# Lines that cannot run in a test, and why.
SKIP = {
    "make demo": "the demo has its own test (tests/test_demo.py)",
    "make test": "this is the test suite",
    "pip install": "installs nothing in tests",
    "--serve": "serves until stopped (tests/explore covers the server)",
}


def readme_steps(text: str) -> list[tuple[str, int, str]]:
    """Return ("python" | "command", line number, code) for every step of the README, in order."""
    steps = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence:
            lang, start, body = fence.group(1), i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if lang == "python":
                steps.append(("python", start + 1, "\n".join(body)))
            elif lang in ("bash", "sh", "console"):
                steps += [("command", start + 1 + j, b) for j, b in enumerate(body) if b.strip()]
        elif line.startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            while i < len(lines) and lines[i].startswith("    "):
                steps.append(("command", i + 1, lines[i][4:]))
                i += 1
            continue
        i += 1
    return steps


def _command(line: str) -> list[str]:
    code = re.split(r"\s{2,}#", line)[0].split("  # ")[0].strip()
    return shlex.split(code)


def _skip_reason(code: str) -> str | None:
    for marker, why in SKIP.items():
        if marker in code:
            return why
    return None


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder holding the files the README names, made from tests/data."""
    ws = tmp_path_factory.mktemp("readme")
    keys = (DATA / "fasttext" / "glove_top20k.keys.txt").read_text(encoding="utf-8").split("\n")[:20000]
    vecs = np.load(DATA / "fasttext" / "glove_top20k.f16.npy").astype(np.float32)
    keys = keys[:len(vecs)]
    with open(ws / "glove.6B.300d.txt", "w", encoding="utf-8") as fh:     # GloVe's own text format
        for k, v in zip(keys, vecs):
            fh.write(k + " " + " ".join(f"{x:.5f}" for x in v) + "\n")
    np.save(ws / "vectors.npy", vecs)
    (ws / "words.txt").write_text("\n".join(keys) + "\n", encoding="utf-8")

    import omnivec
    top = np.load(DATA / "glove6b50d_top2100.npz", allow_pickle=False)
    omnivec.save(ws / "glove.6B.50d.ov",
                 omnivec.Embeddings([str(k) for k in top["keys"]], top["vectors"].astype(np.float32)))
    ft, _ = omnivec.read_fasttext_bin(DATA / "fasttext" / "wordnet_sg.bin")
    omnivec.save(ws / "en.ov", ft)
    shutil.copy(DATA / "words" / "wordnet_glosses.txt.gz", ws / "corpus.txt.gz")
    with gzip.open(ws / "corpus.txt.gz", "rt", encoding="utf-8") as fh:
        text = fh.read()
    (ws / "corpus.txt").write_text(text, encoding="utf-8")
    (ws / "corpus").mkdir()
    half = len(text.splitlines()) // 2
    (ws / "corpus" / "a.txt").write_text("\n".join(text.splitlines()[:half]) + "\n", encoding="utf-8")
    (ws / "corpus" / "b.txt").write_text("\n".join(text.splitlines()[half:]) + "\n", encoding="utf-8")
    shutil.copy(DATA / "words" / "questions-words-family-opposite.txt", ws / "questions-words.txt")
    shutil.copy(DATA / "words" / "wordsim353.tsv", ws / "wordsim353.tsv")
    shutil.copytree(DATA / "kg" / "nations", ws / "data" / "nations")
    from omnivec.evaluate.ir import load_collection
    col = load_collection(DATA / "ir" / "cranfield")
    with open(ws / "docs.tsv", "w", encoding="utf-8") as fh:     # id<TAB>text, the empty document left out
        fh.writelines(f"{i}\t{t}\n" for i, t in zip(col.doc_ids, col.doc_texts) if t.strip())
    (ws / "qrels.txt").write_text("1 0 d1 1\n1 0 d2 0\n2 0 d3 2\n", encoding="utf-8")
    shutil.copy(DATA / "graphs" / "karate" / "karate.adjlist", ws / "karate.adjlist")
    shutil.copy(DATA / "poincare" / "canine_closure.tsv", ws / "mammal_closure.tsv")   # its canine part
    shutil.copy(DATA / "graphs" / "karate" / "factions.tsv", ws / "factions.tsv")
    (ws / "pairs.txt").write_text("king king\nwoman woman\ncity city\n", encoding="utf-8")
    (ws / "lexicon.txt").write_text("big large great\ncar vehicle cars\n", encoding="utf-8")
    (ws / "run.txt").write_text("1 Q0 d2 1 0.9 x\n1 Q0 d1 2 0.8 x\n2 Q0 d3 1 0.7 x\n", encoding="utf-8")
    return ws


def test_the_readme_has_steps_to_run():
    kinds = {k for k, _, _ in readme_steps((ROOT / "README.md").read_text(encoding="utf-8"))}
    assert kinds == {"python", "command"}


def test_every_readme_step_runs(workspace, monkeypatch, capsys):
    from omnivec.cli import main

    monkeypatch.chdir(workspace)
    namespace: dict = {"__name__": "readme"}
    ran = 0
    for kind, line, code in readme_steps((ROOT / "README.md").read_text(encoding="utf-8")):
        if _skip_reason(code):
            continue
        for big, small in SCALE:
            code = code.replace(big, small)
        if kind == "python":
            try:
                exec(compile(code, f"README.md:{line}", "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"README.md line {line}: the Python block fails: {type(exc).__name__}: {exc}")
        else:
            argv = _command(code)
            if argv[0] == "python":
                continue           # bench scripts need the anchors; bench/ has its own runs
            assert argv[0] == "omnivec", f"README.md line {line}: not an omnivec command: {code}"
            status = main(argv[1:])
            err = capsys.readouterr().err
            assert status == 0, f"README.md line {line}: `{code}` exits {status}: {err.strip()[-500:]}"
        ran += 1
    assert ran >= 20
    assert os.path.exists("glove.ov")
