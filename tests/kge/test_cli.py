"""`omnivec train kge` and `omnivec eval linkpred` end to end on Nations."""

import json
import os

from kge_planted import DATA
from omnivec.cli import main
from omnivec.learn.kge import KGModel

NATIONS = os.path.join(DATA, "nations")


def test_train_then_eval(tmp_path, capsys):
    out = tmp_path / "nations.omnivec"
    assert main(["train", "kge", NATIONS, "-o", str(out), "--model", "complex", "--dim", "8", "--epochs", "3",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "ComplEx" and summary["entities"] == 14 and "test" in summary
    km = KGModel.open(out)
    assert km.model == "ComplEx"
    assert main(["eval", "linkpred", str(out), NATIONS, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["triples"] == 201 and abs(res["mrr"] - summary["test"]["mrr"]) < 1e-9


def test_cli_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "train.txt").write_text("a\tr\tb\nbroken\n", encoding="utf-8")
    assert main(["train", "kge", str(tmp_path), "-o", str(tmp_path / "m.ov"), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "train.txt, line 2" in err and "--skip-bad" in err
    assert main(["train", "kge", str(tmp_path), "-o", str(tmp_path / "m.ov"), "--epochs", "1", "--skip-bad",
                 "--model", "nope"]) == 1
    assert "valid names are: TransE" in capsys.readouterr().err
    assert main(["train", "kge", str(tmp_path), "-o", str(tmp_path / "m.ov"), "--epochs", "1",
                 "--skip-bad"]) == 0
    assert "skipped 1 bad rows" in capsys.readouterr().out
    (tmp_path / "test.txt").write_text("a\tr\tzzz\n", encoding="utf-8")
    assert main(["eval", "linkpred", str(tmp_path / "m.ov"), str(tmp_path / "test.txt")]) == 1
    assert "unknown entity 'zzz'" in capsys.readouterr().err


def test_one_training_file_is_enough(tmp_path, capsys):
    rows = open(os.path.join(NATIONS, "train.txt"), encoding="utf-8").read()
    (tmp_path / "triples.tsv").write_text(rows, encoding="utf-8")
    out = tmp_path / "m.ov"
    assert main(["train", "kge", str(tmp_path / "triples.tsv"), "-o", str(out), "--dim", "8",
                 "--epochs", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["entities"] == 14 and list(summary["triples"]) == ["train"] and "test" not in summary
