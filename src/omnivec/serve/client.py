"""`omnivec.Client`: a served table with the query methods of a local one.

    emb = omnivec.open("glove.ov")                                   # local
    emb = omnivec.Client("http://127.0.0.1:8000", api_key)          # remote: the same calls
    emb.most_similar("king", topn=5); emb["queen"]; emb.search(["paris"], k=3)

A client is bound to one model (the only one the server serves, or `model=`)
and one of its tables (`table=`); `client.table(model, table)` gives another
binding over the same connection.  Errors come back as omnivec's: an unknown
key is `KeyNotFound`, a bad argument `InputError`, anything else
`RemoteError` with the HTTP status and the server's problem details.
"""

from __future__ import annotations

import base64
from typing import Any, Sequence

import numpy as np

from ..core.neighbors import Neighbors
from ..errors import DimensionError, InputError, KeyNotFound, OmnivecError, require


class RemoteError(OmnivecError):
    """The server refused a request; `status` and `problem` hold its answer."""

    def __init__(self, status: int, problem: dict) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"HTTP {status} {problem.get('title', '')}: {problem.get('detail', '')}".strip())


class Client:
    """A table served by `omnivec serve`, queried with the methods of `omnivec.Embeddings`."""

    def __init__(self, url: str, api_key: str | None = None, *, model: str | None = None,
                 table: str | None = None, timeout: float = 30.0, _http=None) -> None:
        httpx = require("httpx", "serve", "omnivec.Client")
        self.url = url.rstrip("/")
        self._http = _http if _http is not None else httpx.Client(
            base_url=self.url, timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
        self._model = model
        self._table = table
        self._info: dict | None = None

    # -- plumbing -----------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        r = self._http.request(method, path, json=body)
        if r.status_code >= 400:
            try:
                problem = r.json()
            except ValueError:
                problem = {"title": r.reason_phrase, "detail": r.text[:200]}
            detail = str(problem.get("detail", ""))
            if r.status_code == 404 and path.startswith("/v1/models/") and problem.get("title") == "Not found":
                raise KeyNotFound(detail)
            if r.status_code == 422 and problem.get("title") == "Wrong dimensions":
                raise DimensionError(detail)
            if r.status_code in (400, 422):
                raise InputError(detail)
            raise RemoteError(r.status_code, problem)
        return r.json()

    @property
    def model(self) -> str:
        """Return the name of the model this client queries."""
        if self._model is None:
            names = [m["name"] for m in self.models()]
            if len(names) != 1:
                raise InputError(f"the server has {len(names)} models ({', '.join(names)}); "
                                 f"name one with Client(..., model=NAME) or client.table(NAME)")
            self._model = names[0]
        return self._model

    def _post(self, what: str, body: dict) -> dict:
        if self._table is not None and "table" not in body:
            body = {**body, "table": self._table}
        return self._call("POST", f"/v1/models/{self.model}/{what}", body)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- what the server holds ---------------------------------------------------------------------
    def models(self) -> list[dict]:
        """Return the models this key may use, each with its tables."""
        return self._call("GET", "/v1/models")["models"]

    def table(self, model: str | None = None, table: str | None = None) -> "Client":
        """Return a client for `table` of `model` over the same connection."""
        return Client(self.url, model=model or self.model, table=table, _http=self._http)

    def info(self) -> dict:
        """Return this client's table as the server describes it (rows, dim, metric, index)."""
        if self._info is None:
            m = self._call("GET", f"/v1/models/{self.model}")
            name = self._table or m["default_table"]
            self._info = next((t for t in m["tables"] if t["name"] == name), m["tables"][0])
        return self._info

    def __len__(self) -> int:
        return int(self.info()["rows"])

    @property
    def dim(self) -> int:
        return int(self.info()["dim"])

    @property
    def metric(self) -> str:
        return str(self.info()["metric"])

    def __repr__(self) -> str:
        return f"Client({self.url!r}, model={self._model!r}, table={self._table!r})"

    # -- lookups -----------------------------------------------------------------------------------
    def vectors_of(self, keys: Sequence, *, oov: bool | None = None) -> np.ndarray:
        """Return the (len(keys) x dim) float32 vectors of keys."""
        body: dict = {"keys": list(keys), "encoding_format": "base64"}
        if oov is not None:
            body["oov"] = oov
        rows = self._post("vectors", body)["vectors"]
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([np.frombuffer(base64.b64decode(r), "<f4").astype(np.float32) for r in rows])

    def vector(self, key, *, oov: bool | None = None, norm: bool = False) -> np.ndarray:
        """Return the float32 vector of key (its unit vector with norm=True)."""
        v = self.vectors_of([key], oov=oov)[0]
        if norm:
            n = float(np.linalg.norm(v))
            return v / n if n > 0 else v
        return v

    get_vector = vector

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (list, tuple, np.ndarray)):
            return self.vectors_of(list(key))
        return self.vector(key)

    def __contains__(self, key) -> bool:
        try:
            self.vectors_of([key], oov=False)
        except KeyNotFound:
            return False
        return True

    # -- queries -----------------------------------------------------------------------------------
    def similarity(self, a, b) -> float:
        """Return the metric's score between keys a and b."""
        return self._post("similarity", {"pairs": [[a, b]]})["scores"][0]

    def most_similar(self, positive=None, negative=None, topn: int = 10, restrict_vocab: int | None = None, *,
                     approx: bool = False) -> list[tuple[Any, float]]:
        """Return the topn (key, score) pairs nearest the mean of positive minus negative keys."""
        pos = [positive] if isinstance(positive, (str, int)) else list(positive or [])
        neg = [negative] if isinstance(negative, (str, int)) else list(negative or [])
        body = {"positive": pos, "negative": neg, "k": topn, "approx": approx}
        if restrict_vocab is not None:
            body["restrict_vocab"] = restrict_vocab
        return [(r["key"], r["score"]) for r in self._post("most_similar", body)["results"]]

    def similar_by_key(self, key, topn: int = 10) -> list[tuple[Any, float]]:
        """Return the topn (key, score) pairs nearest `key` (itself excluded)."""
        return self.most_similar([key], topn=topn)

    similar_by_word = similar_by_key

    def analogy(self, a, b, c, topn: int = 1, *, method: str = "3cosadd") -> list[tuple[Any, float]]:
        """Return the topn answers to "a is to b as c is to ?"."""
        out = self._post("analogy", {"a": a, "b": b, "c": c, "k": topn, "method": method})
        return [(r["key"], r["score"]) for r in out["results"]]

    def search(self, queries, k: int = 10, *, exclude_self: bool = True, filter: dict | None = None,
               exact: bool = False) -> Neighbors:
        """Return the k nearest keys of each query (keys or vectors) as Neighbors, always 2-D."""
        if isinstance(queries, np.ndarray) and queries.dtype.kind == "f":
            body: dict = {"vectors": np.atleast_2d(queries).astype(np.float64).tolist()}
        else:
            body = {"keys": [queries] if isinstance(queries, (str, int)) else list(queries)}
        body.update(k=k, include_self=not exclude_self, exact=exact)
        if filter is not None:
            body["filter"] = filter
        results = self._post("search", body)["results"]
        width = max((len(r) for r in results), default=0)
        ids = np.full((len(results), width), -1, np.int64)
        scores = np.full((len(results), width), -np.inf, np.float32)
        for i, r in enumerate(results):
            ids[i, :len(r)] = [x["id"] for x in r]
            scores[i, :len(r)] = [np.nan if x["score"] is None else x["score"] for x in r]
        return Neighbors(ids, scores, [[x["key"] for x in r] for r in results])

    def predict_tails(self, head: str, relation: str, k: int = 10) -> list[tuple[str, float]]:
        """Return the k most plausible tails of (head, relation, ?) of a knowledge-graph model."""
        out = self._call("POST", f"/v1/models/{self.model}/kg/tails", {"head": head, "relation": relation, "k": k})
        return [(r["key"], r["score"]) for r in out["results"]]

    def predict_heads(self, relation: str, tail: str, k: int = 10) -> list[tuple[str, float]]:
        """Return the k most plausible heads of (?, relation, tail) of a knowledge-graph model."""
        out = self._call("POST", f"/v1/models/{self.model}/kg/heads", {"relation": relation, "tail": tail, "k": k})
        return [(r["key"], r["score"]) for r in out["results"]]

    def encode(self, texts: Sequence[str] | str, *, dimensions: int | None = None,
               truncate: bool = False) -> np.ndarray:
        """Return the float32 vectors of texts from the server's /v1/embeddings (a static model)."""
        body: dict = {"input": texts if isinstance(texts, str) else list(texts), "model": self.model,
                      "encoding_format": "base64", "truncate": truncate}
        if dimensions is not None:
            body["dimensions"] = dimensions
        data = self._call("POST", "/v1/embeddings", body)["data"]
        return np.stack([np.frombuffer(base64.b64decode(d["embedding"]), "<f4").astype(np.float32) for d in data])

    # -- updates -----------------------------------------------------------------------------------
    def upsert(self, keys: Sequence, vectors: np.ndarray) -> int:
        """Add or replace keys' vectors in the table's index (durable when this returns); return the live count."""
        X = np.atleast_2d(np.asarray(vectors, np.float32))
        return self._post("upsert", {"keys": list(keys), "vectors": X.astype(np.float64).tolist()})["live"]

    def delete(self, keys: Sequence, *, missing: str = "error") -> int:
        """Delete keys from the table's index (durable when this returns); return how many were deleted."""
        return self._post("delete", {"keys": list(keys), "missing": missing})["deleted"]
