"""Subword tables: hashed character n-gram vectors (fastText) for out-of-vocabulary keys."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class Subwords:
    """fastText-style character n-grams of `<key>` hashed into `bucket` rows.

    `vectors` holds the bucket rows (bucket x dim, float32).  `word_vectors`,
    when present, holds each key's own input row as fastText keeps it, so a
    model can be written back to a fastText `.bin` exactly; `output` holds the
    fastText output matrix for the same reason.
    """

    minn: int
    maxn: int
    bucket: int
    vectors: np.ndarray
    kind: str = "fasttext"
    word_vectors: np.ndarray | None = None
    output: np.ndarray | None = None
    settings: dict = field(default_factory=dict)   # the rest of fastText's Args, for .bin export

    def to_meta(self) -> dict:
        """Return the JSON settings stored in the file header."""
        return {"kind": self.kind, "minn": int(self.minn), "maxn": int(self.maxn),
                "bucket": int(self.bucket), "settings": self.settings}

    def tensors(self) -> dict[str, np.ndarray]:
        """Return the arrays to store, by field name."""
        out = {"subword_vectors": self.vectors}
        if self.word_vectors is not None:
            out["subword_word_vectors"] = self.word_vectors
        if self.output is not None:
            out["subword_output"] = self.output
        return out

    @classmethod
    def from_stored(cls, meta: dict, tensors: dict[str, np.ndarray]) -> "Subwords":
        """Return the Subwords described by header `meta` and stored `tensors`."""
        return cls(minn=int(meta["minn"]), maxn=int(meta["maxn"]), bucket=int(meta["bucket"]),
                   kind=str(meta.get("kind", "fasttext")), vectors=tensors["subword_vectors"],
                   word_vectors=tensors.get("subword_word_vectors"),
                   output=tensors.get("subword_output"), settings=dict(meta.get("settings", {})))
