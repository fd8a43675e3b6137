"""Reading triples: unseen labels in valid/test, damaged gzip files, folders, a readable summary."""

from __future__ import annotations

import gzip

import pytest

from omnivec.errors import InputError, ParseError
from omnivec.learn.kge import load_triples


def _write(folder, **splits):
    folder.mkdir(exist_ok=True)
    for name, rows in splits.items():
        (folder / f"{name}.txt").write_text("".join("\t".join(r) + "\n" for r in rows))
    return folder


TRAIN = [("paris", "capital_of", "france"), ("rome", "capital_of", "italy"), ("france", "borders", "italy")]


def test_test_triples_with_labels_never_seen_in_training_are_left_out_and_counted(tmp_path):
    d = _write(tmp_path / "kg", train=TRAIN,
               test=[("paris", "borders", "italy"), ("madrid", "capital_of", "spain"),
                     ("rome", "twinned_with", "paris")])
    ts = load_triples(d)
    assert ts.entities == ["paris", "france", "rome", "italy"]       # nothing from the test file
    assert ts.relations == ["capital_of", "borders"]
    assert len(ts.splits["test"]) == 1
    assert ts.reports["test"].bad == {"label not in the train split": 2}
    with pytest.raises(InputError, match="'madrid' never occurs in the train split"):
        load_triples(d, unseen="error")


def test_a_summary_fits_one_line(tmp_path):
    ts = load_triples(_write(tmp_path / "kg", train=TRAIN, test=[("madrid", "capital_of", "spain")]))
    text = repr(ts)
    assert "\n" not in text and len(text) < 120
    assert "4 entities" in text and "2 relations" in text and "train 3" in text and "1 rows skipped" in text


def test_damaged_gzip_is_a_parse_error_naming_the_file(tmp_path):
    d = tmp_path / "kg"
    d.mkdir()
    blob = gzip.compress(("".join("\t".join(r) + "\n" for r in TRAIN * 2000)).encode())
    (d / "train.txt.gz").write_bytes(blob[: len(blob) // 2])          # truncated
    with pytest.raises(ParseError, match="damaged gzip") as ei:
        load_triples(d)
    assert "train.txt.gz" in str(ei.value)
    (d / "train.txt.gz").write_bytes(blob[:10] + bytes(200) + blob[210:])   # corrupt in the middle
    with pytest.raises(ParseError, match="damaged gzip"):
        load_triples(d)


def test_a_folder_named_like_a_split_is_a_clean_error(tmp_path):
    d = tmp_path / "kg"
    (d / "train.txt").mkdir(parents=True)
    with pytest.raises(InputError, match="is a folder"):
        load_triples(d)
