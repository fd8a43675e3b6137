"""Fixtures of the service tests: real model files (GloVe rows, a static model, a KG model) and keys.

All traffic goes to 127.0.0.1; every server started here stops at the end of its test or module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("prometheus_client")

import omnivec  # noqa: E402
from omnivec.search import build_index, index_path  # noqa: E402
from omnivec.serve import ServeConfig, add_key, running  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
SRC = str(Path(omnivec.__file__).resolve().parents[1])


def glove_table() -> omnivec.Embeddings:
    top = np.load(DATA / "glove6b50d_top2100.npz", allow_pickle=False)
    return omnivec.Embeddings([str(k) for k in top["keys"]], top["vectors"].astype(np.float32),
                              counts=np.arange(len(top["keys"]), 0, -1, dtype=np.int64))


def static_from_table(emb: omnivec.Embeddings):
    """Return a static encoder over a word table: a lower-casing word-level tokenizer, one row per word."""
    tokenizers = pytest.importorskip("tokenizers")
    from omnivec.encode.static import ENCODER, TABLE, StaticEncoder

    vocab = {k: i for i, k in enumerate(emb.keys)}
    vocab["[UNK]"] = len(vocab)
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.Lowercase()
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    text = tok.to_str()
    meta = {"encoder": ENCODER, "normalize": True, "tokenizer": text,
            "tokenizer_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    tokens = omnivec.Embeddings(list(emb.keys), np.asarray(emb.vectors), name=TABLE, meta=meta)
    tokens = tokens.replace(extras={"token_id": np.arange(len(emb), dtype=np.int64)})
    return StaticEncoder(tokens)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder with glove.ov (+ a flat index), static.ov, nations.ov and a keys file; the keys by name."""
    d = tmp_path_factory.mktemp("serve")
    glove = glove_table()
    glove.save(d / "glove.ov")
    build_index(omnivec.open(d / "glove.ov"), "flat").save(index_path(d / "glove.ov", "flat"))
    static_from_table(glove).save(d / "static.ov")
    shutil.copy(DATA / "kg" / "nations_distmult16.ov", d / "nations.ov")
    keys = {"read": add_key(d / "keys.json", "reader", scope="read", rate=0),
            "write": add_key(d / "keys.json", "writer", scope="write", rate=0),
            "admin": add_key(d / "keys.json", "admin", scope="admin", rate=0),
            "other": add_key(d / "keys.json", "static-only", scope="admin", models=["static"], rate=0)}
    return d, keys


def config(d: Path, **kw) -> ServeConfig:
    models = kw.pop("models", [("glove", str(d / "glove.ov")), ("static", str(d / "static.ov")),
                               ("nations", str(d / "nations.ov"))])
    kw.setdefault("keys_file", str(d / "keys.json"))
    return ServeConfig(models=models, **kw)


@pytest.fixture(scope="module")
def server(files):
    """One in-process server over the three models (module scope); yields (url, keys, folder)."""
    d, keys = files
    with running(config(d, reload_interval=0)) as url:
        yield url, keys, d


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Subprocess:
    """`omnivec serve` in a child process on 127.0.0.1 (killed at the end)."""

    def __init__(self, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen([sys.executable, "-m", "omnivec", "serve", *args, "--port", str(self.port),
                                      "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not become ready")

    def kill(self, sig=9) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
