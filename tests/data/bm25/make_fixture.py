"""Cut the Cranfield fixture of the BM25 tests (200 documents, 20 queries) out of ../shared/data/ir.

The first 20 queries of `cran.qry` (so Cranfield's numbering by position is
kept), every document judged for them, and the lowest-numbered other
documents up to 200; the judgements of those queries on those documents.
Records are copied byte for byte.

    python tests/data/bm25/make_fixture.py [SOURCE]   # SOURCE defaults to ../shared/data/ir
"""

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUERIES = 20
DOCS = 200


def records(data: bytes) -> list[tuple[str, bytes]]:
    """Split a SMART file into (id, raw bytes of the record)."""
    starts = [m.start() for m in re.finditer(rb"^\.I ", data, re.M)] + [len(data)]
    return [(data[a:b].split(None, 2)[1].decode(), data[a:b]) for a, b in zip(starts, starts[1:])]


def cut(src: Path, dst: Path) -> None:
    cran, out = src / "cranfield", dst / "cranfield"
    out.mkdir(parents=True, exist_ok=True)
    queries = records((cran / "cran.qry").read_bytes())[:QUERIES]
    qrels = [ln for ln in (cran / "cranqrel").read_bytes().splitlines(keepends=True)
             if ln.split() and int(ln.split()[0]) <= QUERIES]
    docs = records((cran / "cran.all.1400").read_bytes())
    keep = {ln.split()[1].decode() for ln in qrels}
    for i, _ in docs:
        if len(keep) >= DOCS:
            break
        keep.add(i)
    (out / "cran.qry").write_bytes(b"".join(raw for _, raw in queries))
    (out / "cranqrel").write_bytes(b"".join(ln for ln in qrels if ln.split()[1].decode() in keep))
    (out / "cran.all.1400").write_bytes(b"".join(raw for i, raw in docs if i in keep))


if __name__ == "__main__":
    cut(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[3] / "shared" / "data" / "ir", HERE)
