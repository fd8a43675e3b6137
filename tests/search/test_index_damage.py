"""Damaged and crafted index files: a clean OmnivecError, never a crash of the engine.

Real small index files of every backend are mutated: bytes flipped in every
region (the CRC-32s must catch them), files cut short, and crafted files whose
CRC-32s were recomputed after a count, an offset, a key or a neighbour slot
was changed (the structural checks must catch those).  Each file is opened,
searched and verified in a child process, so a segmentation fault fails the
test instead of ending pytest; the child reports each file before touching
it, so a crash names the file that caused it.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import omnivec
from omnivec.search import build_index, index_path, verify_index
from omnivec.search.index import INDEX_FORMAT
from omnivec.store import container

from search_helpers import DATA, need_engine

ROWS = 300
ALLOWED = {"CorruptFileError", "FormatError", "UnsupportedVersionError"}
BACKEND_PARAMS = {"flat": {}, "hnsw": {"M": 8, "ef_construction": 64},
                  "ivfpq": {"nlist": 8, "m": 10, "nbits": 4}}

# The child: for each case, say which file comes next, verify it, open it, search it.
CHILD = r"""
import json, sys
import numpy as np
import omnivec
from omnivec.errors import OmnivecError
from omnivec.search import open_index, verify_index

cases = json.load(open(sys.argv[1]))
tables = {}
for i in range(int(sys.argv[2]), len(cases)):
    case = cases[i]
    print(json.dumps({"begin": i}), flush=True)
    out = {"i": i}
    if case["model"] not in tables:
        tables[case["model"]] = omnivec.open(case["model"])
    emb = tables[case["model"]]
    try:
        out["verify_ok"] = verify_index(case["file"], emb)["ok"]
    except OmnivecError as exc:
        out["verify_ok"] = False
    except Exception as exc:
        out["verify_ok"] = f"{type(exc).__name__}: {exc}"
    try:
        if case.get("beside"):
            found = omnivec.open(case["beside"]).search(emb.store.decode(slice(0, 3)), 5, approx=True)
            assert found.ids.shape == (3, 5)
        else:
            idx = open_index(case["file"], emb)
            Q = emb.store.decode(slice(0, 4)).astype(np.float32)
            idx.search(Q, 5)
            idx.search(Q[0], 3)
            idx.search([emb.keys.key(1), emb.keys.key(2)], 4)
            idx.add(["__added__"] if emb.keys.kind == "str" else [2**40], Q[:1] + 0.5)
            idx.search(Q, 5)
        out["error"] = None
    except OmnivecError as exc:
        out.update(error=type(exc).__name__, message=str(exc), omnivec=True)
    except Exception as exc:
        out.update(error=type(exc).__name__, message=str(exc), omnivec=False)
    print(json.dumps(out), flush=True)
"""


def run_cases(cases: list[dict], folder: Path) -> dict[int, dict]:
    """Return each case's outcome from child processes; a child that dies marks its case a crash."""
    spec = folder / "cases.json"
    spec.write_text(json.dumps(cases))
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1")
    results: dict[int, dict] = {}
    start = 0
    while start < len(cases):
        proc = subprocess.run([sys.executable, "-c", CHILD, str(spec), str(start)], capture_output=True,
                              text=True, env=env, timeout=300)
        last = None
        for line in proc.stdout.splitlines():
            if not line.startswith("{"):
                continue
            msg = json.loads(line)
            if "begin" in msg:
                last = msg["begin"]
            else:
                results[msg["i"]] = msg
        if proc.returncode == 0 and last == len(cases) - 1 and last in results:
            break
        if last is None or last in results:   # died outside a case: nothing to blame
            raise AssertionError(f"the child exited with status {proc.returncode}:\n{proc.stderr[-3000:]}")
        results[last] = {"i": last, "crash": proc.returncode, "stderr": proc.stderr[-2000:]}
        start = last + 1
    return results


def check_outcomes(cases: list[dict], results: dict[int, dict]) -> None:
    """Assert each case met its expectation; list every failure at once."""
    bad = []
    for i, case in enumerate(cases):
        r = results.get(i)
        what = f"{case['label']} ({case['file']})"
        if r is None:
            bad.append(f"{what}: no result")
        elif "crash" in r:
            bad.append(f"{what}: the process died with status {r['crash']}: {r['stderr'][-300:]}")
        elif r["verify_ok"] not in (True, False):
            bad.append(f"{what}: verify_index raised {r['verify_ok']}")
        elif r["error"] is not None and not r["omnivec"]:
            bad.append(f"{what}: {r['error']}: {r['message']}")
        elif case["expect"] == "sound" and (r["error"] is not None or r["verify_ok"] is not True):
            bad.append(f"{what}: a sound file failed: {r.get('message')}")
        elif case["expect"] in ("crc", "damage"):
            if r["error"] not in ALLOWED:
                bad.append(f"{what}: expected a clean error, got {r['error'] or 'none'}")
            elif r["verify_ok"] is not False:
                bad.append(f"{what}: verify_index called it sound")
            elif case["expect"] == "crc" and "CRC-32" not in r["message"]:
                bad.append(f"{what}: not caught by the CRC-32s: {r['message']}")
            elif case["file"] not in r["message"]:
                bad.append(f"{what}: the message does not name the file: {r['message']}")
    assert not bad, f"{len(bad)} of {len(cases)} cases failed:\n" + "\n".join(bad)


# -- the files ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """Model files and their index files (with added, deleted and upserted keys) per backend."""
    folder = tmp_path_factory.mktemp("damage")
    with np.load(DATA) as z:
        keys = [str(k) for k in z["keys"][:ROWS]]
        vecs = z["vectors"][:ROWS].astype(np.float32)
    out = {"folder": folder, "models": {}, "indexes": {}}
    for name, table in (("words", omnivec.Embeddings(keys, vecs, name="words")),
                        ("ids", omnivec.Embeddings(np.arange(ROWS, dtype=np.int64) * 7, vecs, metric="dot",
                                                   name="ids"))):
        path = folder / f"{name}.ov"
        table.save(path)
        out["models"][name] = path
    emb = omnivec.open(out["models"]["words"])
    for backend, params in BACKEND_PARAMS.items():
        if backend != "flat":
            try:
                need_engine(backend)
            except pytest.skip.Exception:
                continue
        idx = build_index(emb, backend, **params)
        idx.add(["zz-new", "zz-gone"], vecs[:2] + 1)
        idx.delete(["zz-gone", keys[3]])
        idx.upsert([keys[4]], vecs[4:5] * 2)
        idx.save(index_path(out["models"]["words"], backend))
        out["indexes"][backend] = index_path(out["models"]["words"], backend)
    ints = omnivec.open(out["models"]["ids"])
    idx = build_index(ints, "flat")
    idx.add([1, 2], vecs[:2])
    idx.upsert([14], vecs[2:3])
    idx.save(index_path(out["models"]["ids"], "flat"))
    out["indexes"]["flat-ids"] = index_path(out["models"]["ids"], "flat")
    return out


def engine_bytes(path) -> bytearray:
    c = container.read(path)
    head = json.loads(c.metadata[INDEX_FORMAT])
    return bytearray(c.tensors["engine"].view(np.uint8)[:head["engine_bytes"]].tobytes())


def craft(src, dst, *, engine: bytes | None = None, head: dict | None = None, raw_head: str | None = None,
          tensors: dict | None = None, drop: tuple = ()) -> Path:
    """Write a copy of index file `src` with some parts replaced and every CRC-32 recomputed."""
    c = container.read(src)
    arrays = {k: np.array(v) for k, v in c.tensors.items() if k not in drop}
    meta = {k: v for k, v in c.metadata.items() if k != "checksums"}
    h = json.loads(meta[INDEX_FORMAT])
    if engine is not None:
        padded = np.zeros((len(engine) + 7) // 8 * 8, np.uint8)
        padded[:len(engine)] = np.frombuffer(bytes(engine), np.uint8)
        arrays["engine"] = padded.view(np.uint64)
        h["engine_bytes"] = len(engine)
    h.update(head or {})
    arrays.update(tensors or {})
    meta[INDEX_FORMAT] = json.dumps(h, sort_keys=True) if raw_head is None else raw_head
    container.write(dst, arrays, meta)
    return Path(dst)


# -- the engine layouts, read independently of the code under test ------------------------------
def usearch_layout(e: bytes) -> dict:
    rows, bpv = struct.unpack_from("<II", e, 0)
    head = 8 + rows * bpv
    graph = head + 64
    n, conn, connb, maxl, entry = struct.unpack_from("<5Q", e, graph)
    lv_at = graph + 40
    levels = np.frombuffer(bytes(e), "<i2", n, lv_at).astype(np.int64)
    sizes = 10 + (4 + 4 * connb) + (4 + 4 * conn) * levels
    starts = lv_at + 2 * n + np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return dict(rows=rows, head=head, graph=graph, n=n, conn=conn, connb=connb, maxl=maxl, entry=entry,
                lv_at=lv_at, levels=levels, starts=starts.astype(np.int64))


def faiss_layout(e: bytes) -> dict:
    off = {}
    p = 4
    off["d"], off["ntotal"] = p, p + 4
    p += 4 + 8 + 16 + 1 + 4
    off["nlist"] = p
    p += 16
    off["qtag"], off["qntotal"] = p, p + 8
    p += 4 + 4 + 8 + 16 + 1 + 4
    off["qlen"] = p
    p += 8 + 4 * struct.unpack_from("<Q", e, p)[0]
    off["dm"] = p
    p += 9
    off["byres"], off["code_size"] = p, p + 1
    p += 9
    off["pq_d"], off["pq_M"], off["pq_nbits"], off["pq_len"] = p, p + 8, p + 16, p + 24
    p += 24 + 8 + 4 * struct.unpack_from("<Q", e, p + 24)[0]
    off["ilar"], off["kind"], off["sizes"] = p, p + 20, p + 32
    nlist, cs = struct.unpack_from("<QQ", e, p + 4)
    sizes = np.frombuffer(bytes(e), "<u8", nlist, p + 32).astype(np.int64)
    p += 32 + 8 * nlist
    off["lists"] = p
    ids = []
    for s in sizes:
        p += int(s) * cs
        ids.extend(range(p, p + 8 * int(s), 8))
        p += 8 * int(s)
    return dict(off=off, nlist=nlist, code_size=cs, sizes=sizes, id_at=ids)


def put(e: bytearray, fmt: str, at: int, *values) -> bytearray:
    struct.pack_into("<" + fmt, e, at, *values)
    return e


def usearch_crafts(e: bytes) -> dict:
    L = usearch_layout(e)
    h, g, n = L["head"], L["graph"], L["n"]
    base_cap = L["connb"]
    starts, levels = L["starts"], L["levels"]
    base = [int(s) + 10 for s in starts]                      # each node's level-0 list

    def with_count(min_count=1):
        return next(i for i in range(n) if struct.unpack_from("<I", e, base[i])[0] >= min_count)

    upper = next(i for i in range(n) if levels[i] >= 1 and
                 struct.unpack_from("<I", e, base[i] + 4 + 4 * base_cap)[0] >= 1)
    flat_node = int(np.flatnonzero(levels == 0)[0])
    j = with_count()
    out = {
        "matrix rows": put(bytearray(e), "I", 0, L["rows"] + 1),
        "bytes a vector": put(bytearray(e), "I", 4, 12),
        "magic": put(bytearray(e), "B", h, ord("x")),
        "major version": put(bytearray(e), "H", h + 7, 3),
        "metric kind": put(bytearray(e), "B", h + 13, ord("c")),
        "scalar kind": put(bytearray(e), "B", h + 14, 12),
        "key kind": put(bytearray(e), "B", h + 15, 15),
        "present count": put(bytearray(e), "Q", h + 17, n + 5),
        "deleted count": put(bytearray(e), "Q", h + 25, 1),
        "dimensions": put(bytearray(e), "Q", h + 33, 51),
        "multi": put(bytearray(e), "B", h + 41, 1),
        "node count": put(bytearray(e), "Q", g, n + 1),
        "node count huge": put(bytearray(e), "Q", g, 2**62),
        "connectivity": put(bytearray(e), "Q", g + 8, L["conn"] + 1),
        "base connectivity huge": put(bytearray(e), "Q", g + 16, 10**12),
        "max level": put(bytearray(e), "Q", g + 24, L["maxl"] + 1),
        "entry slot": put(bytearray(e), "Q", g + 32, n),
        "negative level": put(bytearray(e), "h", L["lv_at"] + 2 * flat_node, -1),
        "huge level": put(bytearray(e), "h", L["lv_at"] + 2 * flat_node, 30000),
        "huge level, told everywhere": put(put(put(put(bytearray(e), "h", L["lv_at"] + 2 * flat_node, 30000),
                                                   "h", int(starts[flat_node]) + 8, 30000),
                                               "Q", g + 24, 30000), "Q", g + 32, flat_node),
        "one more level, told everywhere": put(put(bytearray(e), "h", L["lv_at"] + 2 * flat_node, 1),
                                               "h", int(starts[flat_node]) + 8, 1),
        "node key past the ids": put(bytearray(e), "Q", int(starts[5]), n + 40),
        "node key repeated": put(bytearray(e), "Q", int(starts[6]), struct.unpack_from("<Q", e, int(starts[7]))[0]),
        "node level disagrees": put(bytearray(e), "h", int(starts[flat_node]) + 8, 1),
        "neighbour count over capacity": put(bytearray(e), "I", base[j], base_cap + 1),
        "neighbour count huge": put(bytearray(e), "I", base[j], 2**32 - 1),
        "neighbour slot past the nodes": put(bytearray(e), "I", base[j] + 4, n + 100),
        "neighbour slot all ones": put(bytearray(e), "I", base[j] + 4, 2**32 - 1),
        "upper neighbour on level 0 only": put(bytearray(e), "I", base[upper] + 4 + 4 * base_cap + 4, flat_node),
        "cut short": bytearray(e[:-100]),
        "cut inside the vectors": bytearray(e[:h - 10]),
        "cut to 5 bytes": bytearray(e[:5]),
        "trailing bytes": bytearray(e) + b"\x00" * 24,
    }
    return out


def faiss_crafts(e: bytes, total: int, deleted_id: int) -> dict:
    L = faiss_layout(e)
    o, ids = L["off"], L["id_at"]
    sizes = L["sizes"]
    a, b = int(np.flatnonzero(sizes > 1)[0]), int(np.flatnonzero(sizes > 1)[-1])
    shifted = bytearray(e)
    put(shifted, "Q", o["sizes"] + 8 * a, int(sizes[a]) - 1)
    put(shifted, "Q", o["sizes"] + 8 * b, int(sizes[b]) + 1)
    return {
        "type tag": put(bytearray(e), "4s", 0, b"IwQR"),
        "dimension": put(bytearray(e), "i", o["d"], 51),
        "ntotal": put(bytearray(e), "q", o["ntotal"], total + 3),
        "nlist": put(bytearray(e), "Q", o["nlist"], 9),
        "nlist huge": put(bytearray(e), "Q", o["nlist"], 2**60),
        "quantizer tag": put(bytearray(e), "4s", o["qtag"], b"IxHe"),
        "quantizer count": put(bytearray(e), "q", o["qntotal"], 7),
        "centroid count": put(bytearray(e), "Q", o["qlen"], 2**61),
        "direct map": put(bytearray(e), "B", o["dm"], 1),
        "by_residual": put(bytearray(e), "B", o["byres"], 7),
        "code size": put(bytearray(e), "Q", o["code_size"], 9),
        "pq M": put(bytearray(e), "Q", o["pq_M"], 5),
        "pq nbits": put(bytearray(e), "Q", o["pq_nbits"], 12),
        "pq centroid count": put(bytearray(e), "Q", o["pq_len"], 3),
        "list tag": put(bytearray(e), "4s", o["ilar"], b"ilxx"),
        "size table kind": put(bytearray(e), "4s", o["kind"], b"sprs"),
        "size table kind unknown": put(bytearray(e), "4s", o["kind"], b"what"),
        "one list longer": put(bytearray(e), "Q", o["sizes"], int(sizes[0]) + 1),
        "one list huge": put(bytearray(e), "Q", o["sizes"], 2**62),
        "a code moved between lists": shifted,
        "id past the ids": put(bytearray(e), "q", ids[0], total + 10),
        "negative id": put(bytearray(e), "q", ids[1], -1),
        "id repeated": put(bytearray(e), "q", ids[2], struct.unpack_from("<q", e, ids[3])[0]),
        "deleted id listed": put(bytearray(e), "q", ids[4], deleted_id),
        "cut inside the lists": bytearray(e[:-37]),
        "cut inside the header": bytearray(e[:30]),
        "trailing bytes": bytearray(e) + b"\x01" * 16,
    }


def header_crafts(src, folder: Path, label: str, emb_dim: int) -> list[tuple[str, Path]]:
    c = container.read(src)
    h = json.loads(c.metadata[INDEX_FORMAT])
    n_base, n_extra = h["n_base"], h["n_extra"]
    deleted = np.array(c.tensors["deleted"])
    deleted2 = deleted.copy()
    deleted2[0] = 2
    nan = np.array(c.tensors["extra_vectors"])
    nan[0, 0] = np.nan
    fp_n = dict(h["fingerprint"], n=n_base + 1)
    pad = np.array(c.tensors["engine"]).view(np.uint8).copy()
    crafted = {
        "n_base": dict(head={"n_base": n_base + 1}),
        "n_extra": dict(head={"n_extra": n_extra + 1}),
        "n_extra negative": dict(head={"n_extra": -1}),
        "dim": dict(head={"dim": emb_dim + 1}),
        "dim huge": dict(head={"dim": 2**40}),
        "engine_bytes": dict(head={"engine_bytes": h["engine_bytes"] + 9}),
        "engine_bytes a string": dict(head={"engine_bytes": "12"}),
        "backend unknown": dict(head={"backend": "annoy"}),
        "params not an object": dict(head={"params": [1, 2]}),
        "params bad value": dict(head={"params": dict(h["params"], **{next(iter(h["params"]), "x"): "x"})}),
        "fingerprint not an object": dict(head={"fingerprint": 7}),
        "fingerprint rows": dict(head={"fingerprint": fp_n}),
        "newer version": dict(head={"version": 99}),
        "header nested deep": dict(raw_head="[" * 100_000 + "]" * 100_000),
        "header with NaN": dict(raw_head=json.dumps(dict(h, n_extra=float("nan")))),
        "header not an object": dict(raw_head="[1]"),
        "delete mask value 2": dict(tensors={"deleted": deleted2}),
        "delete mask short": dict(tensors={"deleted": deleted[:-1]}),
        "added vector NaN": dict(tensors={"extra_vectors": nan}),
        "added vectors wrong dtype": dict(tensors={"extra_vectors": nan.astype(np.float64)}),
        "engine missing": dict(drop=("engine",)),
        "unexpected tensor": dict(tensors={"surprise": np.zeros(3, np.uint8)}),
    }
    if len(pad) % 8 == 0 and h["engine_bytes"] % 8:
        pad[-1] = 1
        crafted["engine padding"] = dict(tensors={"engine": pad.view(np.uint64)})
    if "hnsw" in label:
        crafted["ef huge"] = dict(head={"params": dict(h["params"], ef=2**40)})
        crafted["M changed"] = dict(head={"params": dict(h["params"], M=9)})
    if "ivfpq" in label:
        crafted["nlist param"] = dict(head={"params": dict(h["params"], nlist=0)})
        crafted["refine huge"] = dict(head={"params": dict(h["params"], refine=10**9)})
    if "extra_keys_offsets" in c.tensors:
        off = np.array(c.tensors["extra_keys_offsets"])
        off2 = off.copy()
        off2[1] = off[-1] + 5
        crafted["key offsets past the blob"] = dict(tensors={"extra_keys_offsets": off2})
        blob = np.array(c.tensors["extra_keys_blob"])
        blob[0] = 0xFF
        crafted["key not UTF-8"] = dict(tensors={"extra_keys_blob": blob})
    if "extra_keys_ids" in c.tensors:
        ids = np.array(c.tensors["extra_keys_ids"])
        live = [j for j in range(len(ids)) if not deleted[n_base + j]]
        dup = ids.copy()
        dup[live[1]] = dup[live[0]]
        crafted["added key live twice"] = dict(tensors={"extra_keys_ids": dup})
        clash = ids.copy()
        clash[live[0]] = 7 * 10        # row 10's key, live in the table
        crafted["added key shadows a live row"] = dict(tensors={"extra_keys_ids": clash})
    return [(f"{label}: header {name}", craft(src, folder / f"{label}-head-{i}", **kw))
            for i, (name, kw) in enumerate(crafted.items())]


def flips(src, folder: Path, label: str) -> list[dict]:
    """Flip bytes in every region of the file, CRC-32s untouched."""
    raw = Path(src).read_bytes()
    c = container.read(src)
    cases = []

    def flip(at: int, region: str, expect: str, bit: int = 0x10):
        data = bytearray(raw)
        data[at] ^= bit
        path = folder / f"{label}-flip-{len(cases)}"
        path.write_bytes(bytes(data))
        cases.append({"label": f"{label}: flip in {region} at byte {at}", "file": str(path), "expect": expect})

    for at in (0, 3, 7):
        flip(at, "the header length", "damage")
    for at in (8, 9, 8 + (c.data_start - 8) // 3, 8 + (c.data_start - 8) // 2, c.data_start - 3, c.data_start - 1):
        flip(at, "the JSON header", "any")
    for name, ent in c.entries.items():
        a, b = (c.data_start + x for x in ent["data_offsets"])
        if b > a:
            for at in sorted({a, (a + b) // 2, b - 1}):
                flip(at, f"tensor {name!r}", "crc")
    e = engine_bytes(src)
    e0 = c.data_start + c.entries["engine"]["data_offsets"][0]
    if "hnsw" in label:
        L = usearch_layout(e)
        for part, at in (("matrix header", 2), ("vectors", 8 + 37), ("usearch header", L["head"] + 3),
                         ("graph header", L["graph"] + 9), ("levels", L["lv_at"] + 1),
                         ("a node key", int(L["starts"][2])), ("a neighbour list", int(L["starts"][9]) + 14)):
            flip(e0 + at, f"the engine's {part}", "crc")
    if "ivfpq" in label:
        L = faiss_layout(e)
        for part, at in (("index header", L["off"]["ntotal"]), ("quantizer", L["off"]["qlen"] + 20),
                         ("product quantizer", L["off"]["pq_len"] + 40), ("size table", L["off"]["sizes"]),
                         ("an id", L["id_at"][5])):
            flip(e0 + at, f"the engine's {part}", "crc", bit=0x80)
    for cut in (0, 5, 8, c.data_start // 2, c.data_start, c.data_start + 3, (c.data_start + len(raw)) // 2,
                len(raw) - 1):
        path = folder / f"{label}-cut-{cut}"
        path.write_bytes(raw[:cut])
        cases.append({"label": f"{label}: cut to {cut} bytes", "file": str(path), "expect": "damage"})
    return cases


def all_cases(files) -> list[dict]:
    folder = files["folder"]
    words, ids = str(files["models"]["words"]), str(files["models"]["ids"])
    cases = []
    for label, src in files["indexes"].items():
        model = ids if label == "flat-ids" else words
        cases.append({"label": f"{label}: as written", "file": str(src), "expect": "sound", "model": model})
        more = flips(src, folder, label)
        more += [{"label": name, "file": str(p), "expect": "damage"}
                 for name, p in header_crafts(src, folder, label, 50)]
        e = engine_bytes(src)
        if label.startswith("flat"):
            crafts = {"engine bytes in a flat index": bytearray(b"\x01" * 12)}
        elif label == "hnsw":
            crafts = usearch_crafts(e)
        else:
            total = len(container.read(src).tensors["deleted"])
            crafts = faiss_crafts(e, total, deleted_id=3)
        for i, (name, eng) in enumerate(crafts.items()):
            p = craft(src, folder / f"{label}-engine-{i}", engine=eng)
            more.append({"label": f"{label}: engine {name}", "file": str(p), "expect": "damage"})
        for case in more:
            case["model"] = model
        cases += more
    return cases


# -- the tests ------------------------------------------------------------------------------------
def test_damaged_and_crafted_index_files_fail_cleanly(files):
    cases = all_cases(files)
    assert len(cases) > 150 and {"flat", "flat-ids"} <= set(files["indexes"])
    check_outcomes(cases, run_cases(cases, files["folder"]))


def test_a_damaged_index_beside_the_model_fails_cleanly_on_approx_search(files, tmp_path):
    cases = []
    for label, src in files["indexes"].items():
        if label == "flat-ids":
            continue
        for kind in ("sound", "damage"):
            folder = tmp_path / f"{label}-{kind}"
            folder.mkdir()
            model = folder / "words.ov"
            model.symlink_to(files["models"]["words"])
            beside = index_path(model, label)
            if kind == "sound":
                beside.write_bytes(Path(src).read_bytes())
            elif label == "flat":
                craft(src, beside, engine=b"\x07" * 8)
            else:
                e = engine_bytes(src)
                e[len(e) // 2:] = b"\xff" * (len(e) - len(e) // 2)
                craft(src, beside, engine=e)
            cases.append({"label": f"{label} beside the model ({kind})", "file": str(beside), "expect": kind,
                          "model": str(files["models"]["words"]), "beside": str(model)})
    check_outcomes(cases, run_cases(cases, tmp_path))


def test_verify_index_reports_each_check(files):
    for label, src in files["indexes"].items():
        result = verify_index(src)
        assert result["ok"] is True and result["problems"] == [], result
        assert result["model"] and result["table"] and not result["notes"]
        text = " ".join(result["checks"])
        for what in ("header", "table", "CRC-32", "tensors"):
            assert what in text
        engine = {"hnsw": "usearch graph", "ivfpq": "FAISS IVF-PQ"}.get(label, "engine: none")
        assert engine in result["checks"][-1]


def test_verify_index_without_its_model_still_checks_the_file(files, tmp_path):
    src = files["indexes"]["flat"]
    alone = tmp_path / "alone.flat"
    alone.write_bytes(Path(src).read_bytes())
    result = verify_index(alone)
    assert result["ok"] is True and result["table"] is None and result["notes"]
    data = bytearray(alone.read_bytes())
    data[-1] ^= 1
    alone.write_bytes(bytes(data))
    result = verify_index(alone)
    assert result["ok"] is False and "CRC-32" in result["problems"][0] and "alone.flat" in result["problems"][0]


def test_omnivec_verify_command_checks_index_files(files, tmp_path, capsys):
    from omnivec.cli import main

    src = files["indexes"]["flat"]
    assert main(["verify", str(src)]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "flat index" in out and "CRC-32" in out
    assert main(["verify", str(src), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "index" and data["ok"] is True and len(data["checks"]) >= 5
    bad = craft(src, tmp_path / "words.ov.flat", tensors={"deleted": np.full(ROWS + 2, 3, np.uint8)})
    assert main(["verify", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "tensor 'deleted'" in err and "words.ov.flat" in err


# -- random damage -----------------------------------------------------------------------------
try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # the fuzz below needs hypothesis; the cases above do not
    given = None


def _fuzz_engine_bytes(files, tmp_path_factory, edits):
    """Bytes of the engine changed at random, CRC-32s recomputed: sound or a clean error, never a crash."""
    folder = tmp_path_factory.mktemp("fuzz")
    cases = []
    for label, src in files["indexes"].items():
        if label.startswith("flat"):
            continue
        e = engine_bytes(src)
        for j, (where, xor, tail) in enumerate(edits):
            bad = bytearray(e)
            # half the edits land past the vectors (the graph's or lists' own structure)
            start = usearch_layout(e)["head"] if label == "hnsw" and tail else 0
            at = start + int(where * (len(e) - start))
            bad[at] ^= xor
            path = craft(src, folder / f"{label}-{j}", engine=bad)
            cases.append({"label": f"{label}: byte {at} ^ {xor}", "file": str(path), "expect": "any",
                          "model": str(files["models"]["words"])})
    check_outcomes(cases, run_cases(cases, folder))


if given is not None:
    @settings(max_examples=4, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255), st.booleans()),
                    min_size=12, max_size=12))
    def test_random_engine_damage_with_fixed_checksums_never_crashes(files, tmp_path_factory, edits):
        _fuzz_engine_bytes(files, tmp_path_factory, edits)
