"""Corpus files for the encoders: TSV, JSONL and plain text, UTF-8 checked line by line."""

import pytest

from omnivec import EncodingError, InputError, ParseError
from omnivec.encode.corpus import corpus_layout, read_documents


def docs(path, **kw):
    return [(d.id, d.text, d.line) for d in read_documents(path, **kw)]


def test_layout_follows_the_suffix():
    assert [corpus_layout(p) for p in ("a.tsv", "B.TAB", "c.jsonl", "d.ndjson", "e.txt", "f")] == \
        ["tsv", "tsv", "jsonl", "jsonl", "text", "text"]


def test_tsv_with_a_header_without_one_and_by_column_number(tmp_path):
    p = tmp_path / "h.tsv"
    p.write_text("title\tdocid\ttext\nT1\tx1\tfirst text\nT2\tx2\tsecond\n", "utf-8")
    assert docs(p) == [("x1", "first text", 2), ("x2", "second", 3)]
    assert docs(p, id_column="title") == [("T1", "first text", 2), ("T2", "second", 3)]
    two = tmp_path / "two.tsv"
    two.write_text("a\talpha\nb\tbeta\n\n", "utf-8")
    assert docs(two) == [("a", "alpha", 1), ("b", "beta", 2)]
    one = tmp_path / "one.tsv"
    one.write_text("alpha\nbeta\n", "utf-8")
    assert docs(one) == [(None, "alpha", 1), (None, "beta", 2)]
    three = tmp_path / "three.tsv"
    three.write_text("1\tx\ty\n", "utf-8")
    with pytest.raises(ParseError, match="3 tab-separated columns"):
        docs(three)
    assert docs(three, text_column=2, id_column=0) == [("1", "y", 1)]


def test_tsv_bad_lines_name_their_line(tmp_path):
    p = tmp_path / "b.tsv"
    p.write_text("id\ttext\na\tone\n\nb\ttwo\n", "utf-8")
    with pytest.raises(ParseError, match="line 3.*blank"):
        docs(p)
    with pytest.raises(ParseError, match="no column named 'body'"):
        docs(p, text_column="body")


def test_jsonl_fields_and_errors(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"_id": "d1", "text": "one"}\n\n{"_id": 7, "text": "two", "title": "t"}\n', "utf-8")
    assert docs(p) == [("d1", "one", 1), ("7", "two", 3)]
    assert docs(p, text_column="text", id_column="_id")[1] == ("7", "two", 3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n[1, 2]\n', "utf-8")
    with pytest.raises(ParseError, match="line 2.*not an object"):
        docs(bad)
    bad.write_text('{"text": 3}\n', "utf-8")
    with pytest.raises(ParseError, match="line 1.*not a string"):
        docs(bad)
    bad.write_text('{"text": "x"\n', "utf-8")
    with pytest.raises(ParseError, match="line 1.*not a JSON object"):
        docs(bad)


def test_plain_text_lines_are_documents(tmp_path):
    p = tmp_path / "p.txt"
    p.write_bytes("\ufeffone\r\n\r\nthree ✓\n\n".encode("utf-8"))
    assert docs(p) == [(None, "one", 1), (None, "", 2), (None, "three ✓", 3)]
    with pytest.raises(InputError, match="no columns"):
        docs(p, text_column="text")


def test_bytes_that_are_not_utf8_name_the_file_line_and_byte(tmp_path):
    p = tmp_path / "l.txt"
    p.write_bytes(b"fine\nna\xefve\n")
    with pytest.raises(EncodingError) as err:
        docs(p)
    assert (err.value.path, err.value.line, err.value.offset) == (str(p), 2, 7)
    assert str(p) in str(err.value) and "line 2" in str(err.value) and "byte 7" in str(err.value)


def test_a_missing_file_is_a_format_error(tmp_path):
    from omnivec import FormatError

    with pytest.raises(FormatError, match="no such file"):
        docs(tmp_path / "nope.tsv")
