import json

import numpy as np

import omnivec
from omnivec.cli import main
from planted_words import DATA


def test_train_then_evaluate_from_the_command_line(tmp_path, capsys, glosses):
    out = tmp_path / "wn.omv"
    rc = main(["train", "word2vec", str(glosses), "-o", str(out), "--dim", "20", "--epochs", "1",
               "--min-count", "3", "--workers", "2", "--architecture", "cbow", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    emb = omnivec.load(out)
    assert summary["words"] == len(emb) and summary["epochs_done"] == 1
    assert emb.meta["params"]["architecture"] == "cbow"
    assert main(["eval", "similarity", str(out), str(DATA / "simlex999.txt"), "--json"]) == 0
    sim = json.loads(capsys.readouterr().out)
    assert sim["pairs"] == 999 and 0 < sim["used"] <= 999
    assert main(["eval", "analogy", str(out), str(DATA / "questions-words-family-opposite.txt")]) == 0
    text = capsys.readouterr().out
    assert "family" in text and "total" in text


def test_fasttext_from_the_command_line(tmp_path, capsys, glosses):
    out = tmp_path / "ft.omv"
    rc = main(["train", "fasttext", str(glosses), "-o", str(out), "--dim", "8", "--epochs", "1",
               "--bucket", "20000", "--min-count", "5", "--workers", "1"])
    assert rc == 0
    emb = omnivec.load(out, oov=True)
    assert emb.subwords is not None and emb.subwords.bucket == 20000
    assert np.isfinite(emb["unseenwordlike"]).all()


def test_bad_input_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe\n")
    rc = main(["train", "word2vec", str(bad), "-o", str(tmp_path / "m.omv")])
    err = capsys.readouterr().err
    assert rc == 1 and "invalid UTF-8" in err and "line 2" in err
    rc = main(["train", "word2vec", str(bad), "-o", str(tmp_path / "m.omv"), "--loss", "softmax"])
    assert rc == 1 and "'negative', 'hierarchical_softmax'" in capsys.readouterr().err
    assert not (tmp_path / "m.omv").exists()


def test_interrupted_training_keeps_the_model_but_exits_130(tmp_path, capsys, glosses, monkeypatch):
    from omnivec.learn import _trainer

    real, calls = _trainer.K.train_chunk, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) > 1:         # the first call only compiles, before training starts
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(_trainer.K, "train_chunk", interrupted)
    out = tmp_path / "wn.omv"
    rc = main(["train", "word2vec", str(glosses), "-o", str(out), "--dim", "8", "--epochs", "2",
               "--min-count", "5", "--workers", "1"])
    cap = capsys.readouterr()
    assert rc == 130
    assert "interrupted" in cap.out and "omnivec: interrupted" in cap.err
    assert omnivec.load(out).meta["training"][-1]["interrupted"]
