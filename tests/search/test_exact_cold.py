"""The first query after opening a file needs no compiler, and answers as the compiled path does."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import omnivec

DATA = Path(__file__).resolve().parents[1] / "data" / "glove6b50d_top2100.npz"


import pytest


@pytest.mark.parametrize("wide", [False, True], ids=["50 dims", "100 dims"])
def test_the_first_queries_load_no_compiler_and_match_the_compiled_path(tmp_path, wide):
    with np.load(DATA) as z:
        vecs = z["vectors"].astype(np.float32)
        keys = z["keys"].tolist()
    table = np.concatenate([vecs, vecs[::-1] * 0.5], axis=1) if wide else vecs.copy()
    table[7] = table[3]                                                # a tie, broken by the lower row
    omnivec.save(tmp_path / "m.ov", omnivec.Embeddings(keys, table))
    script = textwrap.dedent(f"""
        import sys, json
        import omnivec
        e = omnivec.open({str(tmp_path / 'm.ov')!r})
        cold = [e.most_similar(e.key(i), topn=10) for i in (0, 3, 50, 999)]
        cold.append(e.most_similar(e.key(3), topn=2100))
        loaded = "numba" in sys.modules
        from omnivec.core import exact
        exact.K.threads()                                              # now load the compiled path
        warm = [e.most_similar(e.key(i), topn=10) for i in (0, 3, 50, 999)]
        warm.append(e.most_similar(e.key(3), topn=2100))
        keys = [[k for k, _ in c] for c in cold] == [[k for k, _ in w] for w in warm]
        close = all(abs(a[1] - b[1]) < 1e-5 for c, w in zip(cold, warm) for a, b in zip(c, w))
        print(json.dumps({{"loaded": loaded, "same": keys and close}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith('{"loaded": false, "same": true}'), out.stdout + out.stderr
