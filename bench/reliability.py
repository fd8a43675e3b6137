"""Hostile input, counted: mutated model and index files, malformed vector files, kills mid-write.

    python bench/reliability.py                       # every part, default counts
    python bench/reliability.py --parts model,index --mutations 300 --seed 1

Each case runs the real command line (`python -m omnivec ...`) in its own
process, so a crash is a signal or a traceback, never a hung test. A case is
*clean* when the process exits 0, or exits 1 with a single `omnivec: error:`
line; anything else (a signal, a Python traceback, exit 0 on data that was
damaged and then answered with impossible numbers) is counted and shown.
Prints one JSON line: per part, cases tried, clean, and the failures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GLOVE = ROOT / "tests" / "data" / "glove6b50d_top2100.npz"


def omnivec(*args, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "omnivec", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def verdict(proc: subprocess.CompletedProcess, report: bool = False) -> str | None:
    """Return None when the run was clean, else what went wrong (report: exit 1 may print a report)."""
    if proc.returncode < 0:
        return f"killed by signal {-proc.returncode}"
    if "Traceback (most recent call last)" in proc.stderr:
        return "traceback: " + proc.stderr.strip().splitlines()[-1][:160]
    if proc.returncode == 0 or (report and proc.returncode == 1):
        return None
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    if proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("omnivec: error: "):
        return None
    return f"exit {proc.returncode}: {' | '.join(lines)[:160]}"


def make_model(folder: Path) -> Path:
    import omnivec

    with np.load(GLOVE, allow_pickle=False) as z:
        emb = omnivec.Embeddings(z["keys"].tolist(), z["vectors"].astype(np.float32))
    path = folder / "base.ov"
    emb.save(path)
    return path


def mutations(data: bytes, n: int, rng: np.random.Generator):
    """Yield (description, mutated bytes): flips in every region, truncations, header edits."""
    (hlen,) = struct.unpack("<Q", data[:8])
    regions = {"length prefix": (0, 8), "header": (8, 8 + hlen), "tensor data": (8 + hlen, len(data))}
    kinds = ["flip", "flip", "flip", "truncate", "extend", "zero-run", "header-number"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        buf = bytearray(data)
        if kind == "flip":
            name = list(regions)[rng.integers(len(regions))]
            a, b = regions[name]
            for _ in range(int(rng.integers(1, 4))):
                p = int(rng.integers(a, b))
                buf[p] ^= 1 << int(rng.integers(8))
            yield f"bit flips in the {name}", bytes(buf)
        elif kind == "truncate":
            cut = int(rng.integers(0, len(data)))
            yield f"truncated to {cut} bytes", bytes(buf[:cut])
        elif kind == "extend":
            yield "garbage appended", bytes(buf) + rng.bytes(int(rng.integers(1, 5000)))
        elif kind == "zero-run":
            a = int(rng.integers(8 + hlen, len(data)))
            b = min(len(data), a + int(rng.integers(1, 4096)))
            buf[a:b] = bytes(b - a)
            yield "zeroed bytes in the tensor data", bytes(buf)
        else:
            header = bytes(buf[8:8 + hlen])
            digits = [j for j, c in enumerate(header) if 48 <= c <= 57]
            j = digits[int(rng.integers(len(digits)))]
            new = header[:j] + str(int(rng.integers(0, 10))).encode() * int(rng.integers(1, 20)) + header[j + 1:]
            new = new + b" " * (-(8 + len(new)) % 8)
            yield "a number in the header changed", struct.pack("<Q", len(new)) + new + bytes(buf[8 + hlen:])


def part_model(work: Path, n: int, rng) -> dict:
    base = make_model(work)
    data = base.read_bytes()
    failures, damaged_answered = [], 0
    for i, (what, blob) in enumerate(mutations(data, n, rng)):
        p = work / f"m{i}.ov"
        p.write_bytes(blob)
        v = omnivec("verify", p)
        q = omnivec("query", p, "king", "--json")
        for cmd, proc in (("verify", v), ("query", q)):
            bad = verdict(proc, report=cmd == "verify")
            if bad:
                failures.append(f"{what}: {cmd}: {bad}")
        if blob != data and v.returncode == 0 and q.returncode == 0:
            scores = [n["score"] for n in json.loads(q.stdout)["keys"][0]["neighbors"]]
            if any(abs(s) > 1.0001 for s in scores):
                damaged_answered += 1
                failures.append(f"{what}: verify said ok and query answered cosine {max(scores):.4f}")
        p.unlink()
    return {"cases": n, "commands": 2 * n, "clean": 2 * n - len(failures), "failures": failures[:20],
            "damaged_answers": damaged_answered}


def part_index(work: Path, n: int, rng) -> dict:
    base = make_model(work)
    out = {}
    for backend in ("hnsw", "ivfpq", "flat"):
        b = omnivec("index", "build", base, "--backend", backend, timeout=300)
        if b.returncode != 0:
            out[backend] = {"skipped": (b.stderr.strip().splitlines() or ["?"])[-1][:160]}
            continue
        idx = Path(f"{base}.{backend}")
        data = idx.read_bytes()
        failures = []
        for i, (what, blob) in enumerate(mutations(data, n, rng)):
            idx.write_bytes(blob)
            for cmd in (("index", "search", base, "king", "--backend", backend, "--json"),
                        ("verify", idx)):
                bad = verdict(omnivec(*cmd), report=cmd[0] == "verify")
                if bad:
                    failures.append(f"{what}: {cmd[0]} {cmd[1]}: {bad}")
        idx.write_bytes(data)
        out[backend] = {"cases": n, "commands": 2 * n, "clean": 2 * n - len(failures), "failures": failures[:20]}
        idx.unlink()
    return out


MALFORMED = {
    "empty file": b"",
    "header only": b"3 50\n",
    "huge row count": b"3999999999999 50\nking 0.1 0.2\n",
    "huge dim": b"1 536870912\nking 0.1\n",
    "20-digit header": b"99999999999999999999 5\nking 1 2 3 4 5\n",
    "ragged rows": b"king 0.1 0.2 0.3\nqueen 0.1 0.2\n",
    "NaN row": b"king 0.1 nan 0.3\nqueen 0.1 0.2 0.3\n",
    "not UTF-8": b"k\xffing 0.1 0.2\nqueen 0.1 0.2\n",
    "duplicate keys": b"king 0.1 0.2\nking 0.3 0.4\n",
    "binary garbage": bytes(range(256)) * 8,
    "a pickle": b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.",
    "a PNG": b"\x89PNG\r\n\x1a\n" + bytes(100),
    "word2vec binary, huge count": b"2000000000 50\nking " + bytes(200),
    "word2vec binary, cut": b"2 4\nking " + np.arange(4, dtype=np.float32).tobytes() + b"queen \x00\x00",
    "numbers only": b"1 2 3\n4 5 6\n",
    "one column": b"king\nqueen\n",
}


def part_malformed(work: Path, rng) -> dict:
    import gzip

    cases = dict(MALFORMED)
    for name, blob in list(MALFORMED.items())[:6]:
        z = gzip.compress(blob + b"king 0.1 0.2\n" * 50)
        cases[f"{name}, gzip cut"] = z[: max(10, len(z) // 2)]
    cases["corrupt gzip"] = gzip.compress(b"king 0.1 0.2\n" * 1000)[:20] + bytes(64)
    failures = []
    for i, (name, blob) in enumerate(cases.items()):
        ext = ".txt.gz" if "gzip" in name else (".bin" if "binary" in name else ".txt")
        src = work / f"bad{i}{ext}"
        src.write_bytes(blob)
        for cmd in (("convert", src, work / f"out{i}.ov"), ("train", "word2vec", src, "-o", work / f"w{i}.ov",
                                                             "--epochs", "1", "--min-count", "1")):
            bad = verdict(omnivec(*cmd))
            if bad:
                failures.append(f"{name}: {cmd[0]}: {bad}")
    return {"cases": len(cases), "commands": 2 * len(cases), "clean": 2 * len(cases) - len(failures),
            "failures": failures[:20]}


def part_kills(work: Path, n: int, rng) -> dict:
    """SIGKILL and SIGTERM `omnivec convert` at random moments: the destination is the old file or
    the complete new one, and the next write removes what a killed writer left."""
    with np.load(GLOVE, allow_pickle=False) as z:
        keys, vecs = z["keys"].tolist(), z["vectors"].astype(np.float32)
    src = work / "src.txt"
    with open(src, "w", encoding="utf-8") as fh:
        for r in range(40):                                 # 84,000 rows: long enough to be caught
            for k, v in zip(keys, vecs):
                fh.write(f"{k}_{r} " + " ".join(f"{x:.4f}" for x in v) + "\n")
    dst = work / "dst.ov"
    old = make_model(work)
    shutil.copy(old, dst)
    old_bytes = dst.read_bytes()
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "omnivec", "convert", src, work / "full.ov"], capture_output=True)
    full_time = time.perf_counter() - t
    bad, leftovers_after_next_write = [], 0
    for i in range(n):
        sig = signal.SIGKILL if i % 2 == 0 else signal.SIGTERM
        proc = subprocess.Popen([sys.executable, "-m", "omnivec", "convert", src, dst],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(float(rng.uniform(0.05, full_time * 1.1)))
        proc.send_signal(sig)
        proc.wait(60)
        err = proc.stderr.read()
        # -15: the signal came before the command installed its handler (Python still starting)
        # or after it finished; the destination is checked below either way
        if sig == signal.SIGTERM and proc.returncode not in (0, 143, -15):
            bad.append(f"SIGTERM gave exit {proc.returncode}: {err.strip()[-120:]}")
        now = dst.read_bytes()
        if now != old_bytes:
            check = omnivec("verify", dst)
            if check.returncode != 0:
                bad.append(f"kill {i}: destination neither old nor complete: {check.stderr.strip()[:120]}")
            old_bytes = now
        subprocess.run([sys.executable, "-m", "omnivec", "convert", old, work / "next.ov"], capture_output=True)
        leftovers_after_next_write += sum(1 for p in os.listdir(work) if p.endswith(".tmp"))
    return {"kills": n, "clean": n - len(bad), "temporaries_left_after_next_write": leftovers_after_next_write,
            "failures": bad[:20]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="model,index,malformed,kills")
    ap.add_argument("--mutations", type=int, default=100, help="mutated files per model/index backend")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    out: dict = {"bench": "reliability", "seed": a.seed}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for part in a.parts.split(","):
            sub = work / part
            sub.mkdir()
            t = time.perf_counter()
            if part == "model":
                out[part] = part_model(sub, a.mutations, rng)
            elif part == "index":
                out[part] = part_index(sub, a.mutations, rng)
            elif part == "malformed":
                out[part] = part_malformed(sub, rng)
            elif part == "kills":
                out[part] = part_kills(sub, a.kills, rng)
            else:
                raise SystemExit(f"unknown part {part!r}")
            out[part]["seconds"] = round(time.perf_counter() - t, 1)
            print(f"# {part}: {json.dumps(out[part])[:300]}", file=sys.stderr, flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
