"""Helpers the cluster tests ship to Ray workers (importable there through PYTHONPATH).

`static_model` builds a real static encoder without torch: GloVe vectors for the
words that are single tokens of all-MiniLM-L6-v2's WordPiece vocabulary, with that
tokenizer.  `KillOnce` builds an encoder whose process kills itself (SIGKILL) in
the middle of its `at`-th batch, once per marker file: a worker dying mid-encode.
"""

import json
import os
import signal
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data"


def static_model(path):
    """Write a static encoder (GloVe 50d rows under MiniLM's tokenizer) to `path`; return the path."""
    import omnivec
    from omnivec.encode.sentence import _packaged_path
    from omnivec.encode.static import _sha256

    tok = json.loads((Path(_packaged_path("all-MiniLM-L6-v2")) / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    tok["post_processor"] = None
    tok["padding"] = None
    tok["truncation"] = None
    stored = json.dumps(tok, ensure_ascii=False, separators=(",", ":"))
    d = np.load(DATA / "glove6b50d_top2100.npz")
    keep = [(k, vocab[k], i) for i, k in enumerate(d["keys"].tolist()) if k in vocab]
    emb = omnivec.Embeddings([k for k, _, _ in keep], d["vectors"][[i for _, _, i in keep]].astype(np.float32),
                             name="tokens", meta={"encoder": "static", "normalize": True, "tokenizer": stored,
                                                  "tokenizer_sha256": _sha256(stored)})
    emb = emb.replace(extras={"token_id": np.asarray([t for _, t, _ in keep], np.int64)})
    _save(emb, path)
    return os.fspath(path)


def _save(emb, path):
    from omnivec.encode.static import StaticEncoder

    StaticEncoder(emb).save(path)


class _Dying:
    def __init__(self, inner, marker, at):
        self.inner, self.marker, self.at, self.batches = inner, marker, at, 0

    def encode(self, texts):
        self.batches += 1
        if self.batches == self.at:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        return self.inner.encode(texts)


class KillOnce:
    """A zero-argument encoder factory: the static model at `model`, dying once in its `at`-th batch."""

    def __init__(self, model, marker, at=2):
        self.model, self.marker, self.at = os.fspath(model), os.fspath(marker), at

    def __call__(self):
        import omnivec

        return _Dying(omnivec.open(self.model), self.marker, self.at)
