"""Cut the small Cranfield and CISI fixtures in this folder, and the BM25 tests' larger
Cranfield fixture in ../bm25, out of ../shared/data/ir.

Records are copied byte for byte (Cranfield's query file keeps its CRLF line
ends); the judgements of the chosen queries are kept, their documents and a
few more (an empty Cranfield document, 471, and one with a second `.W`,
576).  Cranfield's `cranqrel` numbers queries by their position in
`cran.qry`, so the fixture's `cranqrel` renumbers the chosen queries 1..n.

The BM25 fixture: the first 20 queries of `cran.qry` (so Cranfield's
numbering by position is kept), every document judged for them, and the
lowest-numbered other documents up to 200; the judgements of those queries
on those documents.

    python tests/data/ir/make_fixture.py [SOURCE]   # SOURCE defaults to ../shared/data/ir
"""

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CRAN_QUERIES = [4, 5, 9]              # positions in cran.qry (ids .I 008, 009, 015)
CRAN_EXTRA_DOCS = ["1", "2", "471", "576"]
CISI_QUERIES = ["4", "6", "14", "36", "101"]   # 36 has no judgements; 101 has .T/.A/.B fields
CISI_EXTRA_DOCS = ["1", "2"]
BM25_QUERIES = 20
BM25_DOCS = 200


def records(data: bytes) -> list[tuple[str, bytes]]:
    """Split a SMART file into (id, raw bytes of the record)."""
    starts = [m.start() for m in re.finditer(rb"^\.I ", data, re.M)] + [len(data)]
    return [(data[a:b].split(None, 2)[1].decode(), data[a:b]) for a, b in zip(starts, starts[1:])]


def cut(src: Path, dst: Path) -> None:
    cran, out = src / "cranfield", dst / "cranfield"
    out.mkdir(parents=True, exist_ok=True)
    queries = records((cran / "cran.qry").read_bytes())
    qrel_lines = (cran / "cranqrel").read_bytes().splitlines(keepends=True)
    chosen, lines = [], []
    for new, pos in enumerate(CRAN_QUERIES, 1):
        chosen.append(queries[pos - 1][1])
        for line in qrel_lines:
            cols = line.split()
            if cols and int(cols[0]) == pos:
                lines.append(line.replace(cols[0], str(new).encode(), 1))
    docs_needed = {ln.split()[1].decode() for ln in lines} | set(CRAN_EXTRA_DOCS)
    docs = [raw for i, raw in records((cran / "cran.all.1400").read_bytes()) if i in docs_needed]
    (out / "cran.qry").write_bytes(b"".join(chosen))
    (out / "cranqrel").write_bytes(b"".join(lines))
    (out / "cran.all.1400").write_bytes(b"".join(docs))

    cisi, out = src / "cisi", dst / "cisi"
    out.mkdir(parents=True, exist_ok=True)
    queries = [raw for i, raw in records((cisi / "CISI.QRY").read_bytes()) if i in CISI_QUERIES]
    lines = [ln for ln in (cisi / "CISI.REL").read_bytes().splitlines(keepends=True)
             if ln.split() and ln.split()[0].decode() in CISI_QUERIES]
    docs_needed = {ln.split()[1].decode() for ln in lines} | set(CISI_EXTRA_DOCS)
    docs = [raw for i, raw in records((cisi / "CISI.ALL").read_bytes()) if i in docs_needed]
    (out / "CISI.QRY").write_bytes(b"".join(queries))
    (out / "CISI.REL").write_bytes(b"".join(lines))
    (out / "CISI.ALL").write_bytes(b"".join(docs))


def cut_bm25(src: Path, dst: Path) -> None:
    cran, out = src / "cranfield", dst / "cranfield"
    out.mkdir(parents=True, exist_ok=True)
    queries = records((cran / "cran.qry").read_bytes())[:BM25_QUERIES]
    qrels = [ln for ln in (cran / "cranqrel").read_bytes().splitlines(keepends=True)
             if ln.split() and int(ln.split()[0]) <= BM25_QUERIES]
    docs = records((cran / "cran.all.1400").read_bytes())
    keep = {ln.split()[1].decode() for ln in qrels}
    for i, _ in docs:
        if len(keep) >= BM25_DOCS:
            break
        keep.add(i)
    (out / "cran.qry").write_bytes(b"".join(raw for _, raw in queries))
    (out / "cranqrel").write_bytes(b"".join(ln for ln in qrels if ln.split()[1].decode() in keep))
    (out / "cran.all.1400").write_bytes(b"".join(raw for i, raw in docs if i in keep))


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[3] / "shared" / "data" / "ir"
    cut(source, HERE)
    cut_bm25(source, HERE.parent / "bm25")
