"""The IVF-PQ backend: FAISS's inverted file with product-quantized codes.

The coarse quantizer and the codebooks are trained on a fixed-seed sample of
the table (`train_size` rows), then every row is encoded.  Filters and
deletes go into the search as a FAISS id selector (a bitmap), so lists are
scanned for allowed ids only; `refine` re-ranks `refine * k` candidates by
exact scores computed from the table's own vectors, which lifts recall
without storing a second copy of the vectors in the index.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError, require
from . import tune
from .index import BACKENDS, REBUILD, Index


MAX_NLIST = 1 << 20    # past these a header is damaged, not set
MAX_REFINE = 1 << 12


def _faiss():
    return require("faiss", "faiss", "the IVF-PQ index")


@BACKENDS.register("ivfpq", aliases=("faiss_ivfpq",))
class IVFPQIndex(Index):
    """Approximate search over FAISS IndexIVFPQ; `nprobe` and `refine` trade speed for recall."""

    name = "ivfpq"
    # nlist 0 = about 4 * sqrt(n); m 0 = the largest divisor of dim that is <= dim / 4
    build_defaults: dict[str, Any] = {"nlist": 0, "m": 0, "nbits": 8, "train_size": 0, "seed": 0,
                                       "target_recall": 0.0}
    # Measured on GloVe 6B 50d (50k rows, m=10, nlist=894; queries are table rows):
    # nprobe 16 without re-ranking reached recall@10 0.64 (PQ codes cap it near 0.65);
    # nprobe 32 with refine 8 reaches 0.966 for ~1.4x the query time.  target_recall= tunes both.
    search_defaults: dict[str, Any] = {"nprobe": 32, "refine": 8}
    exact_fraction = 0.02

    @classmethod
    def check_params(cls, params):
        out = super().check_params(params)
        if out["nbits"] not in range(1, 17):
            raise InputError(f"the 'nbits' parameter of the ivfpq index must be in [1, 16]; got {out['nbits']}")
        tune.check_target(out["target_recall"], cls.name)
        return out

    def __init__(self, emb, params, fp=None) -> None:
        super().__init__(emb, params, fp)
        self._params_cache: dict[int, Any] = {}

    def _settings(self) -> tuple[int, int, int]:
        n, d = self.n_base, self.dim
        # 39 training points per centroid is what k-means needs to settle.
        nlist = self.params["nlist"] or max(1, min(65536, int(4 * math.sqrt(n)), n // 39))
        m = self.params["m"]
        if not m:
            m = max(x for x in range(1, max(1, d // 4) + 1) if d % x == 0)
        if d % m:
            raise InputError(f"the 'm' parameter of the ivfpq index must divide the dimension {d}; got {m}")
        nlist = min(nlist, n)
        return nlist, m, self.params["nbits"]

    def _engine_build(self, task) -> None:
        faiss = _faiss()
        nlist, m, nbits = self._settings()
        need = max(nlist * 39, 2 ** nbits * 39)
        train_size = self.params["train_size"] or min(self.n_base, max(need, 50_000))
        if train_size < max(nlist, 2 ** nbits):
            raise InputError(f"the ivfpq index needs at least {max(nlist, 2 ** nbits)} training vectors "
                             f"(nlist={nlist}, nbits={nbits}); the table has {self.n_base}. Lower nlist/nbits "
                             f"or use the 'hnsw' or 'flat' backend")
        self.params.update(nlist=nlist, m=m, train_size=min(train_size, self.n_base))
        rng = np.random.default_rng(self.params["seed"])
        sample = np.sort(rng.choice(self.n_base, size=min(train_size, self.n_base), replace=False))
        T = self._prepare(self.emb.store.decode(sample))
        mt = faiss.METRIC_L2 if self.metric.space == "l2" else faiss.METRIC_INNER_PRODUCT
        quant = faiss.IndexFlatL2(self.dim) if mt == faiss.METRIC_L2 else faiss.IndexFlatIP(self.dim)
        eng = faiss.IndexIVFPQ(quant, self.dim, nlist, m, nbits, mt)
        eng.cp.seed = int(self.params["seed"])
        eng.pq.cp.seed = int(self.params["seed"])
        eng.train(T)
        for s, X in self._base_chunks():
            eng.add_with_ids(X, np.arange(s, s + len(X), dtype=np.int64))
            task.advance(len(X))
        self.engine = eng
        self._quant = quant
        if self.params["target_recall"]:
            self.tuning = tune.tune(self, self.params["target_recall"], self._tune_candidates)

    # -- choosing nprobe and refine by measurement (target_recall) ----------
    TUNE_REFINE = (32, 16, 8, 4, 2, 0)    # dearest first: its nprobe bounds the cheaper ones' cost

    def _cost(self, nprobe: int, refine: int, k: int) -> float:
        """Return a query's estimated work in ns: coarse scan + codes scanned + rows re-ranked."""
        nlist, m = self.params["nlist"], self.params["m"]
        scanned = nprobe * self.n_base / nlist
        fetch = k * refine if refine > 1 else 0
        return nlist * self.dim / 8 + scanned * m * 0.5 + fetch * (60 + self.dim / 4)

    def _tune_candidates(self, probe: tune.Probe, target: float) -> list[tuple[float, dict]]:
        """Return (cost, {"nprobe", "refine"}) for each refine with the least nprobe reaching target."""
        nlist, k = self.params["nlist"], probe.k
        steps = sorted({min(nlist, v) for e in range(17) for v in (2 ** e, 3 * 2 ** e // 2)} | {nlist})
        found: list[tuple[float, dict]] = []
        best = math.inf
        for refine in self.TUNE_REFINE:
            # settings dearer than one already found cannot win: never measure them
            probes = [p for p in steps if self._cost(p, refine, k) < best]
            if not probes:
                continue
            nprobe = tune.smallest(probes, lambda p: probe.recall(self, nprobe=p, refine=refine) >= target)
            if nprobe is not None:
                best = min(best, self._cost(nprobe, refine, k))
                found.append((self._cost(nprobe, refine, k), {"nprobe": nprobe, "refine": refine}))
        if not found:  # the target is out of reach: keep the most thorough setting
            found.append((math.inf, {"nprobe": nlist, "refine": self.TUNE_REFINE[0]}))
        return found

    def _engine_add(self, X: np.ndarray, ids: np.ndarray) -> None:
        self.engine.add_with_ids(X, ids.astype(np.int64))

    def _mark_deleted(self, ids: np.ndarray) -> None:
        super()._mark_deleted(ids)
        if len(ids):
            # Drop the codes too: lists stay short and the selector has less to skip.
            self.engine.remove_ids(np.asarray(ids, np.int64))

    def _scores(self, D: np.ndarray) -> np.ndarray:
        return self.metric.engine_scores(D)   # FAISS gives inner products or squared distances

    def _search_one(self, q, k):
        if not math.isfinite(float(q @ q)):
            return None  # NaN or infinity: search() says which
        ids, scores = self._engine_search(q[None, :], k, None, self.total, self.search_params, False)
        return None if ids[0, -1] < 0 else (ids, scores)

    def _engine_search(self, Q, k, allowed, n_ok, sp, filtered):
        faiss = _faiss()
        Qp = self._prepare(Q)
        refine = int(sp["refine"])
        fetch = k * refine if refine > 1 else k
        nprobe = int(sp["nprobe"])
        if not filtered:
            allowed = None  # deleted codes are already gone from the lists
        if allowed is None:
            # Building SWIG parameter objects costs more than a small search: keep one per nprobe.
            params = self._params_cache.get(nprobe)
            if params is None:
                params = self._params_cache[nprobe] = faiss.SearchParametersIVF(nprobe=nprobe)
        else:
            bits = np.packbits(allowed, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
            params = faiss.SearchParametersIVF(nprobe=nprobe, sel=sel)
        D, I = self.engine.search(Qp, fetch, params=params)
        I = I.astype(np.int64, copy=False)
        if refine > 1:
            return self._refine(Q, I, k)
        return I, self._scores(D).astype(np.float32, copy=False)

    def _engine_bytes(self) -> np.ndarray:
        return _faiss().serialize_index(self.engine)

    @classmethod
    def _engine_check(cls, f) -> str:
        from ..errors import CorruptFileError
        from ._faiss_layout import check_ivfpq

        p = f.params
        m_ok = 1 <= p["m"] <= f.dim and f.dim % p["m"] == 0
        if not (1 <= p["nlist"] <= MAX_NLIST and m_ok and p["refine"] <= MAX_REFINE):
            raise CorruptFileError(f"the index header's params: nlist={p['nlist']}, m={p['m']}, "
                                   f"refine={p['refine']} do not fit {f.dim} dims (nlist 1..{MAX_NLIST}, m a "
                                   f"divisor of the dimension, refine at most {MAX_REFINE}){REBUILD}",
                                   path=f.path, offset=8)
        return check_ivfpq(f.engine, path=f.path, base=f.engine_offset, dim=f.dim, space=f.metric.space,
                           nlist=p["nlist"], m=p["m"], nbits=p["nbits"], deleted=f.deleted)

    def _engine_load(self, buf: np.ndarray) -> None:
        # The codes are small (m bytes a vector): reading them into memory is fine.
        self.engine = _faiss().deserialize_index(np.array(buf))
