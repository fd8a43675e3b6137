"""MUVERA: multi-vector retrieval through fixed dimensional encodings (Dhulipala et al., 2024).

A fixed dimensional encoding (FDE) turns a set of vectors into one vector
whose dot product with another set's FDE approximates their late-interaction
(Chamfer / MaxSim) similarity.  Per repetition, `k_sim` random hyperplanes
(SimHash) cut space into 2^k_sim buckets; every vector is projected to
`d_proj` dims (a random +-1/sqrt(d_proj) matrix; the identity when d_proj is
the input width); a query's block for a bucket is the SUM of its projected
vectors there, a document's the AVERAGE, and a document bucket that got no
vector takes the projected vector whose SimHash bits are nearest (Hamming) to
the bucket's (fill_empty).  The repetitions are concatenated, and optionally
compressed to `final_dim` with a Count Sketch.  So

    FDE(Q) . FDE(D) = sum over repetitions and buckets b of
                      (sum of q in b) . (mean of d in b, or the filled vector)

`MuveraIndex` indexes the documents' FDEs with an existing index backend
(flat, hnsw, ...), then re-ranks each query's `candidates` best by exact
MaxSim.  With `refine_dim`, a cheaper stage sits between the two: the
token vectors' top `refine_dim` principal axes (fitted on the documents'
vectors) give a reduced copy of every token vector, MaxSim in that space
(a query's vectors projected on the same axes) keeps each query's `refine`
best candidates, and only those are scored exactly.  Late-interaction cost
grows with the width of the vectors, so a 64-dim stage over 400 candidates
costs about what 70 exact scorings do, and lets the FDE stage pass many
more candidates for the same time.  It saves beside the multi-vector model:
``docs.ov.muvera`` (a model file holding the FDE table, the encoder's
settings and, with a refine stage, the reduced token vectors and the axes)
and the backend's index of the FDEs beside that (``docs.ov.muvera.hnsw``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..core.neighbors import Neighbors
from ..core.vectors import VectorStore
from ..embeddings import Embeddings
from ..model import Model
from ..errors import CorruptFileError, DimensionError, FormatError, InputError
from .index import BACKENDS, _fingerprint_problem, build_index, fingerprint, index_path, open_index
from .multivector import MultiVectors, _check_rows, _ragged, _sort_topk, maxsim_pairs

MUVERA_FORMAT = "omnivec-muvera"
MUVERA_VERSION = 2
#: the tables of a .muvera file: the FDEs, and with a refine stage the reduced token vectors and their axes
TABLES = ("fde",)
REFINE_TABLES = ("fde", "refine", "refine_axes")
#: token vectors sampled to fit the refine stage's axes
REFINE_SAMPLE = 65536
SUFFIX = "muvera"
#: vectors encoded in one block (bounds the (vectors x buckets) work arrays)
ENCODE_ROWS = 65536


def _int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise InputError(f"{name} must be an int in {span}; got {value!r}")
    return int(value)


class FDEEncoder:
    """Fixed dimensional encodings of vector sets: ``encode_queries(sets)``, ``encode_documents(sets)``.

    `dim`: the input width; `k_sim`: SimHash hyperplanes per repetition
    (2^k_sim buckets); `reps`: repetitions; `d_proj`: projected width per
    bucket (None or `dim`: no projection); `final_dim`: Count Sketch of the
    concatenation to this width (None: keep reps x 2^k_sim x d_proj);
    `fill_empty`: give a document's empty buckets the nearest vector.  The
    random matrices are drawn from `seed` (one stream per repetition), so an
    encoder is defined by its settings.
    """

    def __init__(self, dim: int, *, k_sim: int = 4, reps: int = 20, d_proj: int | None = 16,
                 final_dim: int | None = None, fill_empty: bool = True, seed: int = 0,
                 center: np.ndarray | None = None) -> None:
        self.dim = _int("dim", dim, 1)
        self.k_sim = _int("k_sim", k_sim, 0, 16)
        self.reps = _int("reps", reps, 1)
        self.d_proj = self.dim if d_proj is None else _int("d_proj", d_proj, 1)
        self.final_dim = None if final_dim is None else _int("final_dim", final_dim, 1)
        if not isinstance(fill_empty, bool):
            raise InputError(f"fill_empty must be true or false; got {fill_empty!r}")
        self.fill_empty = fill_empty
        self.seed = _int("seed", seed, 0)
        self.buckets = 1 << self.k_sim
        self.block = self.buckets * self.d_proj
        self.raw_dim = self.reps * self.block
        self._hyper: list[np.ndarray] = []
        self._proj: list[np.ndarray | None] = []
        for r in range(self.reps):
            rng = np.random.default_rng([self.seed, r])
            self._hyper.append(rng.standard_normal((self.dim, self.k_sim)).astype(np.float32))
            if self.d_proj == self.dim:
                self._proj.append(None)
            else:
                signs = rng.integers(0, 2, size=(self.dim, self.d_proj)).astype(np.float32) * 2 - 1
                self._proj.append(signs / np.float32(np.sqrt(self.d_proj)))
        self._sketch = None
        if self.final_dim is not None:
            rng = np.random.default_rng([self.seed, self.reps, 1])
            self._sketch = (rng.integers(0, self.final_dim, size=self.raw_dim),
                            (rng.integers(0, 2, size=self.raw_dim) * 2 - 1).astype(np.float32))
        self.center = None
        self._offset = [np.zeros(self.k_sim, np.float32)] * self.reps
        if center is not None:
            c = np.asarray(center, np.float64)
            if c.shape != (self.dim,) or not np.isfinite(c).all():
                raise InputError(f"center must be {self.dim} finite numbers; got shape {c.shape}")
            self.center = c.astype(np.float32)
            self._offset = [(self.center @ h).astype(np.float32) for h in self._hyper]
        self._hyper_all = np.ascontiguousarray(np.concatenate(self._hyper, axis=1))
        self._offset_all = np.concatenate(self._offset)
        self._proj_all = None if self._proj[0] is None else np.ascontiguousarray(np.concatenate(self._proj, axis=1))
        # Hamming distance between every pair of bucket ids (their k_sim SimHash bits)
        ids = np.arange(self.buckets)
        x = ids[:, None] ^ ids[None, :]
        self._hamming = np.zeros((self.buckets, self.buckets), np.int64)
        for b in range(self.k_sim):
            self._hamming += (x >> b) & 1

    @property
    def out_dim(self) -> int:
        """Return the width of an encoding."""
        return self.final_dim if self.final_dim is not None else self.raw_dim

    def params(self) -> dict[str, Any]:
        """Return the settings that define this encoder (JSON-able)."""
        return {"dim": self.dim, "k_sim": self.k_sim, "reps": self.reps, "d_proj": self.d_proj,
                "final_dim": self.final_dim, "fill_empty": self.fill_empty, "seed": self.seed,
                "center": None if self.center is None else [float(x) for x in self.center]}

    def __repr__(self) -> str:
        return "FDEEncoder(" + ", ".join(f"{k}={v!r}" for k, v in self.params().items()) + ")"

    def buckets_of(self, vectors: np.ndarray, rep: int = 0) -> np.ndarray:
        """Return the bucket (0 .. 2^k_sim - 1) of each vector in repetition `rep`: bit j is the side of hyperplane j."""
        X = _check_rows(np.asarray(vectors), "the vectors", self.dim)
        rep = _int("rep", rep, 0, self.reps - 1)
        return self._bucket(X, rep)

    def project(self, vectors: np.ndarray, rep: int = 0) -> np.ndarray:
        """Return the vectors projected to d_proj dims as repetition `rep` projects them."""
        X = _check_rows(np.asarray(vectors), "the vectors", self.dim)
        P = self._proj[_int("rep", rep, 0, self.reps - 1)]
        return X.copy() if P is None else X @ P

    def _bucket(self, X: np.ndarray, rep: int) -> np.ndarray:
        if not self.k_sim:
            return np.zeros(len(X), np.int64)
        bits = (X @ self._hyper[rep]) > self._offset[rep]                    # vectors x k_sim
        return (bits.astype(np.int64) << np.arange(self.k_sim)).sum(axis=1)

    # -- encoding --------------------------------------------------------------------------
    def _sets(self, sets, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Return (rows, offsets) of ragged input: a list of (count x dim) arrays, or (rows, offsets)."""
        if isinstance(sets, MultiVectors):
            return sets.tokens.vectors, sets.offsets
        if isinstance(sets, tuple) and len(sets) == 2 and np.asarray(sets[1]).ndim == 1 \
                and np.asarray(sets[0]).ndim == 2:
            _, flat, off = _ragged(sets[0], sets[1], None, what)
            if flat.shape[1] != self.dim:
                raise DimensionError(f"the {what} vectors have {flat.shape[1]} dims; this encoder takes {self.dim}")
            return _check_rows(flat, f"the {what}", self.dim, "this encoder takes"), off
        if isinstance(sets, np.ndarray) and sets.ndim == 2:
            sets = [sets]
        items, _, _ = _ragged(sets, None, None, what)
        parts = []
        for i, s in enumerate(items):
            s = _check_rows(s, f"{what} {i}", self.dim, "this encoder takes")
            if s.shape[1] != self.dim:
                raise DimensionError(f"{what} {i} has {s.shape[1]} dims; this encoder takes {self.dim}")
            parts.append(s)
        counts = np.array([len(p) for p in parts], np.int64)
        flat = np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
        return np.ascontiguousarray(flat), np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def encode_queries(self, sets) -> np.ndarray:
        """Return the (sets x out_dim) float32 FDEs of query sets: per bucket the SUM of projected vectors."""
        X, off = self._sets(sets, "query")
        return self._encode(X, off, document=False)

    def encode_documents(self, sets) -> np.ndarray:
        """Return the (sets x out_dim) float32 FDEs of document sets: per bucket the AVERAGE (empty ones filled)."""
        X, off = self._sets(sets, "document")
        return self._encode(X, off, document=True)

    def _encode(self, X: np.ndarray, off: np.ndarray, *, document: bool) -> np.ndarray:
        n = len(off) - 1
        out = np.zeros((n, self.out_dim), np.float32)
        a = 0
        while a < n:   # blocks of whole sets, about ENCODE_ROWS vectors each
            b = int(np.searchsorted(off, off[a] + ENCODE_ROWS, side="right")) - 1
            b = min(max(b, a + 1), n)
            raw = self._encode_block(X[off[a]:off[b]], off[a:b + 1] - off[a], document)
            out[a:b] = raw if self._sketch is None else self._count_sketch(raw)
            a = b
        return out

    def _encode_block(self, X: np.ndarray, off: np.ndarray, document: bool) -> np.ndarray:
        n = len(off) - 1
        B, P, k = self.buckets, self.d_proj, self.k_sim
        N = len(X)
        owner = np.repeat(np.arange(n), np.diff(off))
        raw = np.zeros((n, self.reps, B, P), np.float32)
        # every repetition's hyperplanes and projection in one matrix product each
        if k:
            sides = (X @ self._hyper_all) > self._offset_all                   # vectors x reps*k_sim
        proj_all = None if self._proj_all is None else X @ self._proj_all     # vectors x reps*d_proj
        weights = np.int64(1) << np.arange(k, dtype=np.int64)
        for r in range(self.reps):
            bucket = sides[:, r * k:(r + 1) * k] @ weights if k else np.zeros(N, np.int64)
            proj = X if proj_all is None else proj_all[:, r * P:(r + 1) * P]
            cell = owner * B + bucket
            # the vectors of one (set, bucket) cell made contiguous, then summed per cell
            order = np.argsort(cell, kind="stable")
            sorted_cells = cell[order]
            starts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_cells)) + 1])
            cells = sorted_cells[starts]
            sums = np.add.reduceat(proj[order], starts, axis=0, dtype=np.float64)
            if document:
                sizes = np.diff(np.concatenate([starts, [N]]))
                sums /= sizes[:, None]
            raw[cells // B, r, cells % B] = sums
            if document and self.fill_empty and len(cells) < n * B:
                filled = np.zeros(n * B, bool)
                filled[cells] = True
                filled = filled.reshape(n, B)
                short = np.flatnonzero(~filled.all(axis=1))                 # sets with an empty bucket
                rows = np.concatenate([np.arange(off[i], off[i + 1]) for i in short.tolist()])
                seg = np.concatenate([[0], np.cumsum(off[short + 1] - off[short])[:-1]])
                # for each empty (set, bucket): the set's vector of fewest differing SimHash bits,
                # the first such vector on a tie
                key = self._hamming[bucket[rows]] * N + rows[:, None]        # vectors x buckets
                nearest = np.minimum.reduceat(key, seg, axis=0) % N          # short sets x buckets
                es, eb = np.nonzero(~filled[short])
                raw[short[es], r, eb] = proj[nearest[es, eb]]
        return raw.reshape(n, self.raw_dim)

    def _count_sketch(self, raw: np.ndarray) -> np.ndarray:
        where, sign = self._sketch
        out = np.zeros((len(raw), self.final_dim), np.float32)
        for i in range(len(raw)):
            out[i] = np.bincount(where, weights=raw[i] * sign, minlength=self.final_dim)
        return out


def _check_mv(mv) -> MultiVectors:
    if not isinstance(mv, MultiVectors):
        raise InputError(f"MUVERA indexes a MultiVectors model (omnivec.search.MultiVectors), not a "
                         f"{type(mv).__name__}")
    return mv


def _fingerprints(mv: MultiVectors) -> dict:
    return {"docs": fingerprint(mv.docs), "tokens": fingerprint(mv.tokens)}


class Refiner:
    """The refine stage: token vectors reduced to their top principal axes, MaxSim in that space.

    `axes` is (1 + width) x dim: the mean of the token vectors, then the
    axes; `tokens` the reduced copy of every token vector (an Embeddings,
    rows in the tokens table's order).  Queries are projected without
    centring: the mean's share of a query vector's dot products is the same
    for every document, so it does not change the order.
    """

    def __init__(self, axes: Embeddings, tokens: Embeddings, keep: int) -> None:
        self.axes = axes
        self.tokens = tokens
        self.keep = int(keep)

    @property
    def dim(self) -> int:
        return self.tokens.dim

    @classmethod
    def fit(cls, mv: MultiVectors, width: int, keep: int, seed: int) -> "Refiner":
        """Return the refine stage of `mv`: its top `width` axes (from a seeded sample) and reduced tokens."""
        X = mv.tokens.vectors
        rng = np.random.default_rng([seed, 7])
        sample = X if len(X) <= REFINE_SAMPLE else X[np.sort(rng.choice(len(X), REFINE_SAMPLE, replace=False))]
        mean = np.asarray(sample, np.float64).mean(axis=0)
        _, _, vt = np.linalg.svd(np.asarray(sample, np.float64) - mean, full_matrices=False)
        axes = np.concatenate([mean[None], vt[:width]]).astype(np.float32)
        reduced = np.empty((len(X), width), np.float32)
        for a in range(0, len(X), ENCODE_ROWS):
            reduced[a:a + ENCODE_ROWS] = (np.asarray(X[a:a + ENCODE_ROWS], np.float32) - axes[0]) @ axes[1:].T
        ax = Embeddings(["mean", *(f"axis {i}" for i in range(width))], axes, metric="dot",
                        name="refine_axes")
        red = Embeddings.from_parts(keys=mv.tokens.keys, store=VectorStore.encode(reduced), metric="dot",
                                    name="refine")
        return cls(ax, red, keep)

    def narrow(self, mv: MultiVectors, Q: np.ndarray, qoff: np.ndarray, cand: np.ndarray, keep: int
               ) -> np.ndarray:
        """Return each query's `keep` best candidates by MaxSim in the reduced space (queries x keep, -1 pads)."""
        Qr = np.ascontiguousarray(np.asarray(Q, np.float32) @ self.axes.vectors[1:].T)
        data = self.tokens.vectors
        scores = maxsim_pairs(lambda s, e: data[s:e], mv._start, mv._count, Qr, qoff, cand, tokens=data)
        scores[cand < 0] = -np.inf
        ids, s = _sort_topk(cand, scores, keep)
        ids[~np.isfinite(s)] = -1
        return ids

    def problem(self, mv: MultiVectors) -> str | None:
        """Return what does not fit `mv` (a message), or None."""
        if self.axes.dim != mv.dim or len(self.axes) != self.dim + 1:
            return (f"the refine axes ({len(self.axes)} x {self.axes.dim}) do not fit {self.dim}-dim reduced "
                    f"vectors of {mv.dim}-dim tokens")
        if len(self.tokens) != len(mv.tokens):
            return f"the reduced token table has {len(self.tokens)} rows; the model has {len(mv.tokens)} tokens"
        return None


class MuveraIndex:
    """FDE candidates from an index backend, re-ranked by exact MaxSim: ``search(queries, k, candidates)``."""

    def __init__(self, mv: MultiVectors, encoder: FDEEncoder, fde: Embeddings, inner, *,
                 fp: dict | None = None, candidates: int = 100, refiner: Refiner | None = None) -> None:
        self.mv = mv
        self.encoder = encoder
        self.fde = fde
        self.inner = inner
        self.candidates = int(candidates)
        self.refiner = refiner
        self._fingerprint = fp
        self.path: str | None = None

    @property
    def backend(self) -> str:
        """Return the name of the index backend over the FDEs."""
        return self.inner.name

    def __len__(self) -> int:
        return len(self.fde)

    def __repr__(self) -> str:
        refine = "" if self.refiner is None else \
            f", refine_dim={self.refiner.dim}, refine={self.refiner.keep}"
        return (f"MuveraIndex(keys={len(self)}, backend={self.backend!r}, fde_dim={self.encoder.out_dim}, "
                f"k_sim={self.encoder.k_sim}, reps={self.encoder.reps}, d_proj={self.encoder.d_proj}, "
                f"candidates={self.candidates}{refine})")

    @classmethod
    def build(cls, mv: MultiVectors, backend: str = "flat", *, k_sim: int = 4, reps: int = 20,
              d_proj: int | None = 16, final_dim: int | None = None, fill_empty: bool = True,
              seed: int = 0, candidates: int = 100, refine_dim: int | None = None, refine: int = 150,
              show_progress: bool | None = None, **params: Any) -> "MuveraIndex":
        """Return the MUVERA index of `mv`: the FDE of every key, indexed with `backend` (and its `params`).

        `candidates`: FDE neighbours per query that are re-ranked (the
        default of `search`).  `refine_dim` (None: no refine stage): width
        of the reduced token vectors that narrow the candidates to the
        `refine` best before exact MaxSim (see the module docstring).
        """
        _check_mv(mv)
        candidates = _int("candidates", candidates, 1)
        if refine_dim is not None:
            refine_dim = _int("refine_dim", refine_dim, 1, mv.dim)
            refine = _int("refine", refine, 1)
        BACKENDS.get(backend)   # an unknown backend fails before any encoding
        enc = FDEEncoder(mv.dim, k_sim=k_sim, reps=reps, d_proj=d_proj, final_dim=final_dim,
                         fill_empty=fill_empty, seed=seed)
        F = enc.encode_documents((mv.tokens.vectors, mv.offsets))
        fde = Embeddings.from_parts(keys=mv.keys, store=VectorStore.encode(F), metric="dot", name="fde",
                                    meta={SUFFIX: {"format": MUVERA_FORMAT,
                                                   "version": 1 if refine_dim is None else MUVERA_VERSION,
                                                   "encoder": enc.params(), "backend": BACKENDS.canonical(backend),
                                                   "candidates": candidates,
                                                   "refine": None if refine_dim is None else
                                                   {"dim": refine_dim, "keep": refine},
                                                   "fingerprint": _fingerprints(mv)}})
        inner = build_index(fde, backend, show_progress=show_progress, **params)
        refiner = None if refine_dim is None else Refiner.fit(mv, refine_dim, refine, seed)
        return cls(mv, enc, fde, inner, fp=fde.meta[SUFFIX]["fingerprint"], candidates=candidates,
                   refiner=refiner)

    # -- search --------------------------------------------------------------------------
    def search(self, queries, k: int = 10, *, candidates: int | None = None, refine: int | None = None
               ) -> Neighbors:
        """Return the k best keys by exact MaxSim among each query's FDE candidates (Neighbors, queries x k).

        `queries` as in `MultiVectors.search` (ragged vectors or keys);
        `candidates` (default: the index's) FDE neighbours per query are
        re-ranked; more candidates, higher recall, more work.  With a refine
        stage, `refine` (default: the index's; at least k) of them survive
        the reduced-space MaxSim to be scored exactly.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"k must be an int >= 0; got {k!r}")
        Q, qoff, _ = self.mv._queries(queries)
        ids, scores = self._search_rows(Q, qoff, int(k), candidates, refine)
        return Neighbors(ids, scores, self.mv.keys.keys_of)

    def candidates_of(self, queries, candidates: int | None = None) -> np.ndarray:
        """Return the FDE candidates of each query (queries x candidates document rows, -1 for none)."""
        Q, qoff, _ = self.mv._queries(queries)
        return self._candidates(Q, qoff, candidates)

    def _candidates(self, Q: np.ndarray, qoff: np.ndarray, candidates: int | None) -> np.ndarray:
        c = self.candidates if candidates is None else _int("candidates", candidates, 1)
        c = min(c, len(self))
        Fq = self.encoder._encode(Q, qoff, document=False)
        return self.inner.search(Fq, c).ids

    def _search_rows(self, Q: np.ndarray, qoff: np.ndarray, k: int, candidates: int | None,
                     refine: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (rows, scores), queries x k: FDE candidates (narrowed by the refine stage) by exact MaxSim."""
        if refine is not None:
            refine = _int("refine", refine, 1)
            if self.refiner is None:
                raise InputError("refine= needs an index built with a refine stage (refine_dim=...)")
        cand = self._candidates(Q, qoff, candidates)
        if k == 0 or len(cand) == 0:
            return np.full((len(qoff) - 1, k), -1, np.int64), np.full((len(qoff) - 1, k), -np.inf, np.float32)
        if self.refiner is not None:
            keep = max(k, self.refiner.keep if refine is None else refine)
            if cand.shape[1] > keep:
                cand = self.refiner.narrow(self.mv, Q, qoff, cand, keep)
        scores = self.mv.rescore(Q, qoff, cand)
        scores[cand < 0] = -np.inf
        ids, s = _sort_topk(cand, scores, k)
        ids[~np.isfinite(s)] = -1
        return ids, s

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the index beside the model (``<model>.muvera`` by default) and return its path.

        The FDE table goes to `path` (a model file), the backend's index of
        it to ``<path>.<backend>``; both atomically.
        """
        if path is None:
            if not self.mv.path:
                raise InputError("this multi-vector model has no file; pass the path to save the index to")
            path = muvera_path(self.mv.path)
        path = Path(path)
        if self.refiner is None:
            self.fde.save(path)
        else:
            Model({"fde": self.fde, "refine": self.refiner.tokens, "refine_axes": self.refiner.axes}).save(path)
        self.inner.save(index_path(path, self.backend))
        self.path = os.fspath(path)
        return path

    def check_model(self, mv: MultiVectors) -> None:
        """Raise InputError unless this index was built over `mv`'s keys and vectors."""
        if mv is self.mv:
            return
        problem = _model_problem(self._fingerprint or _fingerprints(self.mv), mv)
        if problem:
            raise InputError(f"this MUVERA index does not belong to {mv.path or 'this model'}: {problem}")

    def info(self) -> dict[str, Any]:
        """Return a JSON-able summary: sizes, encoder settings, backend."""
        return {"backend": SUFFIX, "inner_backend": self.backend, "path": self.path, "keys": len(self),
                "fde_dim": self.encoder.out_dim, "encoder": self.encoder.params(),
                "candidates": self.candidates, "model": self.mv.path,
                "refine_dim": None if self.refiner is None else self.refiner.dim,
                "refine": None if self.refiner is None else self.refiner.keep,
                "vectors": self.mv.total_vectors, "dim": self.mv.dim,
                "inner_params": {k: (v.item() if isinstance(v, np.generic) else v)
                                 for k, v in self.inner.params.items()}}


def _model_problem(stored: dict, mv: MultiVectors) -> str | None:
    if not isinstance(stored, dict):
        return "its fingerprint is missing"
    for table in ("docs", "tokens"):
        fp = stored.get(table)
        if not isinstance(fp, dict):
            return f"its fingerprint of the {table} table is missing"
        problem = _fingerprint_problem(fp, fingerprint(mv.tables[table]))
        if problem:
            return f"{table} table: {problem}"
    return None


def muvera_path(model_path: str | os.PathLike) -> Path:
    """Return where the MUVERA index of a multi-vector model file lives: ``<model>.muvera``."""
    return Path(f"{os.fspath(model_path)}.{SUFFIX}")


def _read_fde(path: str | os.PathLike) -> tuple[Embeddings, dict, Model]:
    """Return (the FDE table, its MUVERA settings, the file's tables) of a .muvera file, or raise FormatError."""
    from ..store.model import open_model

    path = os.fspath(path)
    model = open_model(path)
    if tuple(model) not in (TABLES, REFINE_TABLES):
        raise FormatError(f"not a MUVERA index file: it holds the tables {', '.join(model)}, not "
                          f"{' or '.join(' + '.join(t) for t in (TABLES, REFINE_TABLES))}; build one with "
                          "`omnivec index build MODEL --backend muvera`", path=path)
    fde = model["fde"]
    head = fde.meta.get(SUFFIX) if isinstance(fde.meta, dict) else None
    if not isinstance(head, dict) or head.get("format") != MUVERA_FORMAT:
        raise FormatError("not a MUVERA index file: its table has no MUVERA settings", path=path)
    if not isinstance(head.get("version"), int) or head["version"] > MUVERA_VERSION:
        raise FormatError(f"MUVERA index format version {head.get('version')!r}; this omnivec reads up to "
                          f"{MUVERA_VERSION}", path=path)
    enc = head.get("encoder")
    if not isinstance(enc, dict) or not isinstance(head.get("backend"), str):
        raise CorruptFileError("the MUVERA settings lack the encoder or the backend", path=path, offset=8)
    refine = head.get("refine")
    if (refine is None) != (tuple(model) == TABLES) or (refine is not None and not (
            isinstance(refine, dict) and isinstance(refine.get("keep"), int) and refine["keep"] > 0
            and refine.get("dim") == model["refine"].dim)):
        raise CorruptFileError(f"the MUVERA refine settings ({refine!r}) do not match the file's tables "
                               f"({', '.join(model)})", path=path, offset=8)
    return fde, head, model


def _encoder_of(head: dict, path: str) -> FDEEncoder:
    enc = head["encoder"]
    try:
        encoder = FDEEncoder(enc["dim"], k_sim=enc["k_sim"], reps=enc["reps"], d_proj=enc["d_proj"],
                             final_dim=enc.get("final_dim"), fill_empty=enc.get("fill_empty", True),
                             seed=enc.get("seed", 0))
    except (KeyError, TypeError, InputError) as exc:
        raise CorruptFileError(f"the MUVERA encoder settings are not valid ({exc})", path=path, offset=8) from None
    return encoder


def open_muvera(path: str | os.PathLike, mv: MultiVectors | None = None) -> MuveraIndex:
    """Return the MUVERA index stored at `path`, for `mv` (default: the model file it sits beside).

    FormatError (CorruptFileError for damage) names the file and what is
    wrong: not a MUVERA file, damaged, or built for another model.
    """
    import omnivec

    path = os.fspath(path)
    fde, head, tables = _read_fde(path)
    encoder = _encoder_of(head, path)
    if mv is None:
        model_file = path[:-len(SUFFIX) - 1] if path.endswith("." + SUFFIX) else None
        if model_file is None or not os.path.exists(model_file):
            raise FormatError("no multi-vector model beside this MUVERA index (expected "
                              f"{model_file or 'a name ending .muvera'}); pass the model", path=path)
        mv = omnivec.open(model_file)
    _check_mv(mv)
    problem = _model_problem(head.get("fingerprint"), mv)
    if problem:
        raise FormatError(f"this MUVERA index was built for another model: {problem}; rebuild it with "
                          "`omnivec index build MODEL --backend muvera`", path=path)
    if encoder.dim != mv.dim or encoder.out_dim != fde.dim or len(fde) != len(mv):
        raise CorruptFileError(f"the FDE table ({len(fde)} x {fde.dim}) does not fit the encoder "
                               f"({encoder.out_dim} dims) or the model ({len(mv)} keys of {mv.dim} dims)",
                               path=path, offset=8)
    inner = open_index(index_path(path, head["backend"]), fde, backend=head["backend"]) \
        if index_path(path, head["backend"]).exists() else None
    if inner is None:
        raise FormatError(f"the {head['backend']} index of the FDEs is missing "
                          f"(expected {index_path(path, head['backend'])}); rebuild the MUVERA index", path=path)
    refiner = None
    if head.get("refine") is not None:
        refiner = Refiner(tables["refine_axes"], tables["refine"], head["refine"]["keep"])
        problem = refiner.problem(mv)
        if problem:
            raise CorruptFileError(f"the refine stage does not fit the model: {problem}", path=path, offset=8)
    cand = head.get("candidates", 100)
    index = MuveraIndex(mv, encoder, fde, inner, fp=head.get("fingerprint"),
                        candidates=cand if isinstance(cand, int) and cand > 0 else 100, refiner=refiner)
    index.path = path
    return index


def find_muvera(mv: MultiVectors) -> MuveraIndex | None:
    """Return the MUVERA index stored beside `mv`'s model file, opened and checked, or None."""
    if not mv.path:
        return None
    p = muvera_path(mv.path)
    return open_muvera(p, mv) if p.exists() else None


def is_muvera_file(path: str | os.PathLike) -> bool:
    """Return whether `path` is a model file holding a MUVERA FDE table (reads the header only)."""
    from ..store import container
    from ..store.model import read_header

    try:
        tables = read_header(container.read(path)).get("tables", {})
    except (FormatError, OSError, ValueError):
        return False
    t = tables.get("fde") if isinstance(tables, dict) and tuple(tables) in (TABLES, REFINE_TABLES) else None
    meta = t.get("meta") if isinstance(t, dict) else None
    return isinstance(meta, dict) and isinstance(meta.get(SUFFIX), dict) \
        and meta[SUFFIX].get("format") == MUVERA_FORMAT


def verify_muvera(path: str | os.PathLike) -> dict:
    """Return the result of a full check of a .muvera file: the FDE table, its backend index, the model."""
    from ..store.model import verify as verify_file
    from .integrity import verify_index

    path = os.fspath(path)
    checks: list[str] = []
    problems = list(verify_file(path))
    if not problems:
        checks.append("FDE table: CRC-32s, header and key index")
        try:
            fde, head, _ = _read_fde(path)
            _encoder_of(head, path)
            checks.append("MUVERA settings")
            inner_path = index_path(path, head["backend"])
            if inner_path.exists():
                r = verify_index(inner_path, fde)
                problems += r["problems"]
                checks += [f"{head['backend']} index: {c}" for c in r["checks"]]
            else:
                problems.append(f"the {head['backend']} index of the FDEs is missing ({inner_path})")
            if not problems:
                open_muvera(path)
                checks.append("built for the model beside it")
        except FormatError as exc:
            problems.append(str(exc))
    return {"path": path, "kind": "muvera", "ok": not problems, "checks": checks, "problems": problems,
            "bytes": os.path.getsize(path)}


def build_muvera(model: str | os.PathLike, *, k_sim: int = 4, reps: int = 20, d_proj: int | None = 16,
                 final_dim: int | None = None, seed: int = 0, backend: str = "flat",
                 candidates: int = 100, refine_dim: int | None = None, refine: int = 150,
                 out: str | os.PathLike | None = None,
                 show_progress: bool | None = None, **params: Any) -> dict:
    """Return a summary of building the MUVERA index of a multi-vector model file and saving it beside it."""
    import omnivec

    mv = omnivec.open(model)
    if not isinstance(mv, MultiVectors):
        raise InputError(f"{os.fspath(model)} is not a multi-vector model (kind 'multivector'); MUVERA "
                         "indexes several vectors per key")
    start = time.perf_counter()
    idx = MuveraIndex.build(mv, backend, k_sim=k_sim, reps=reps, d_proj=d_proj, final_dim=final_dim,
                            seed=seed, candidates=candidates, refine_dim=refine_dim, refine=refine,
                            show_progress=show_progress, **params)
    build_seconds = time.perf_counter() - start
    path = idx.save(out)
    size = path.stat().st_size + index_path(path, idx.backend).stat().st_size
    return {**idx.info(), "path": os.fspath(path), "build_seconds": build_seconds, "bytes": size}


__all__ = ["FDEEncoder", "MuveraIndex", "Refiner", "build_muvera", "find_muvera", "is_muvera_file", "muvera_path",
           "open_muvera", "verify_muvera"]
