"""The HTTP service: a FastAPI app over the served models, behind one gate.

Every request passes the gate (`Gate`, a plain ASGI middleware) before a
route sees it: request id and deadline, body size and read timeout, the API
key, the route's scope and the model's, the key's rate limit; after it,
metrics and one structured access-log line.  The scope a route needs is
declared on the route itself (`openapi_extra={"x-omnivec-scope": ...}`),
so the OpenAPI schema shows it and the gate reads it from there; a route
that declares none needs the admin scope.  Work runs on a bounded queue in
front of a thread pool (`limits.Admission`).  Errors are JSON problem
details (RFC 9457) whose text never holds a file path or a stack trace.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Sequence, Union

import numpy as np

from ..core.neighbors import Neighbors
from ..errors import (DimensionError, FormatError, InputError, KeyNotFound, MissingDependencyError, OmnivecError,
                      UnknownNameError, require)
from .keys import SCOPES, KeyRing
from .limits import Admission, DeadlineExpired, Overloaded, RateLimits, TimedOut
from .models import Conflict, ModelSet

EXTRA = "serve"
access_log = logging.getLogger("omnivec.serve.access")
log = logging.getLogger("omnivec.serve")

fastapi = require("fastapi", EXTRA, "omnivec serve")
pydantic = require("pydantic", EXTRA, "omnivec serve")
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.routing import APIRoute  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Match  # noqa: E402

LOOPBACK = ("127.0.0.1", "::1", "localhost")
# Work this small runs on the event loop (a thread hop costs more): inputs, and numbers scanned in all.
CHEAP_ITEMS = 64
CHEAP_SCAN = 2_000_000
PUBLIC = "public"


@dataclass
class ServeConfig:
    """What `omnivec serve` serves and its limits (one per service; every worker reads the same)."""

    models: list[tuple[str, str]]
    keys_file: str | None = None
    no_auth: bool = False
    host: str = "127.0.0.1"
    max_body: int = 2 * 1024 * 1024       # bytes of a request body (413 beyond)
    max_batch: int = 2048                 # keys, queries, texts or pairs in one request (422 beyond)
    max_k: int = 1000                     # results per query (422 beyond)
    batch_size: int = 256                 # a bigger batch is split into batches of this size
    max_tokens: int = 512                 # tokens of one text for /v1/embeddings
    timeout: float = 10.0                 # seconds from arrival to answer (504 beyond)
    body_timeout: float = 10.0            # seconds to receive the body (408 beyond: a slow client)
    concurrency: int = 4                  # work threads of each worker process
    queue: int = 64                       # requests waiting for a thread (429 beyond)
    rate: float = 100.0                   # requests a second per key unless the key says (0: none)
    burst: int | None = None
    cors_origins: list[str] = field(default_factory=list)     # empty: CORS off
    reload_interval: float = 1.0          # seconds between checks for replaced model files (0: never)
    compact_every: int = 10_000           # journal records before the index file is rewritten
    oov: bool | None = None

    def check(self) -> "ServeConfig":
        """Return the config, or raise InputError for a setting the service must not run with."""
        if self.no_auth and self.host not in LOOPBACK:
            raise InputError(f"--no-auth serves without API keys and is allowed only on a loopback host "
                             f"(127.0.0.1, ::1); got --host {self.host}")
        if not self.no_auth and not self.keys_file:
            raise InputError("serving needs API keys: give --keys FILE (create keys with `omnivec serve keys add`) "
                             "or, on 127.0.0.1 only, --no-auth")
        for name in ("max_body", "max_batch", "max_k", "batch_size", "max_tokens", "concurrency"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be at least 1; got {getattr(self, name)}")
        if self.timeout <= 0 or self.body_timeout <= 0:
            raise InputError("timeouts must be positive seconds")
        return self

    def to_json(self) -> str:
        d = dict(self.__dict__)
        d["models"] = [list(m) for m in self.models]
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> "ServeConfig":
        d = json.loads(text)
        d["models"] = [tuple(m) for m in d["models"]]
        return cls(**d)


# -- problems --------------------------------------------------------------------------------------------
class Problem(Exception):
    """An HTTP error answered as a problem-details document."""

    def __init__(self, status: int, title: str, detail: str, headers: dict | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.headers = headers or {}
        self.extra = extra


class Scrubber:
    """Removes file paths from texts sent to clients: served paths become model names.

    The served files, their folders, the working folder, the home folder, the temporary
    folder and Python's prefix are cut out; nothing else is touched (a key such as
    "/m/027rn" stays), and the file system is never consulted, so an answer cannot tell
    whether some path exists.
    """

    def __init__(self, paths: dict[str, str]) -> None:
        import sys
        import tempfile

        self.pairs = sorted(((p, n) for n, p in paths.items()), key=lambda t: -len(t[0]))
        roots = {os.path.dirname(p) for p in paths.values()}
        roots |= {os.getcwd(), os.path.expanduser("~"), tempfile.gettempdir(), sys.prefix, sys.base_prefix}
        self.folders = sorted((r for r in roots if r and r != os.sep), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for p, n in self.pairs:
            text = text.replace(p, f"<model {n}>")
        for d in self.folders:
            text = text.replace(d, "<path>")
        return text


def problem_response(status: int, title: str, detail: str, request_id: str | None,
                     headers: dict | None = None, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if request_id:
        body["instance"] = f"urn:request:{request_id}"
    body.update(extra)
    h = {"Cache-Control": "no-store", **(headers or {})}
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, headers=h,
                    media_type="application/problem+json")


_STATUS_OF = [
    (Conflict, 409, "Conflict"),
    (KeyNotFound, 404, "Not found"),
    (DimensionError, 422, "Wrong dimensions"),
    (InputError, 422, "Invalid request"),
    (MissingDependencyError, 501, "Not available on this server"),
]


def _problem_of(exc: Exception, scrub: Scrubber) -> Problem:
    if isinstance(exc, Problem):
        return exc
    for cls, status, title in _STATUS_OF:
        if isinstance(exc, cls):
            detail = str(exc)
            if isinstance(exc, MissingDependencyError):
                detail = detail.split(" Install it")[0]
            return Problem(status, title, scrub(detail))
    if isinstance(exc, FormatError):
        return Problem(500, "Model file error", "a model or index file of this server failed its checks; "
                                               "the operator's log has the details")
    if isinstance(exc, Overloaded):
        return Problem(429, "Too many requests", str(exc), {"Retry-After": str(int(exc.retry_after))})
    if isinstance(exc, DeadlineExpired):
        return Problem(504, "Deadline passed", "the request's deadline passed while it waited in the queue; "
                                               "no work was done")
    if isinstance(exc, TimedOut):
        return Problem(504, "Timed out", "the work did not finish before the request's deadline")
    return Problem(500, "Internal error", "the server failed to answer; the operator's log has the details")


# -- request bodies ---------------------------------------------------------------------------------------
Key = Union[StrictStr, StrictInt]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VectorsRequest(_Body):
    keys: list[Key] = Field(description="keys to look up")
    table: Optional[str] = Field(None, description="table name (the model's default table when absent)")
    oov: Optional[bool] = Field(None, description="out-of-vocabulary vectors for unknown keys "
                                                  "(absent: as the model does)")
    encoding_format: Literal["float", "base64"] = "float"


class SimilarityRequest(_Body):
    pairs: list[tuple[Key, Key]]
    table: Optional[str] = None


class MostSimilarRequest(_Body):
    positive: list[Key] = []
    negative: list[Key] = []
    k: int = Field(10, ge=0)
    table: Optional[str] = None
    restrict_vocab: Optional[int] = Field(None, ge=1)
    approx: bool = Field(False, description="answer through the table's index when it has one")


class AnalogyRequest(_Body):
    a: Key
    b: Key
    c: Key
    k: int = Field(1, ge=0)
    method: Literal["3cosadd", "3cosmul"] = "3cosadd"
    table: Optional[str] = None
    restrict_vocab: Optional[int] = Field(None, ge=1)


class FilterBody(_Body):
    allow: Optional[list[Key]] = None
    deny: Optional[list[Key]] = None
    where: list[str] = Field([], description="conditions on per-key attributes, e.g. 'counts >= 5'")


class SearchRequest(_Body):
    keys: Optional[list[Key]] = Field(None, description="query by keys (a key never finds itself)")
    vectors: Optional[list[list[float]]] = Field(None, description="query by vectors")
    k: int = Field(10, ge=0)
    table: Optional[str] = None
    filter: Optional[FilterBody] = None
    exact: bool = Field(False, description="score every live key instead of asking the index")
    include_self: bool = False


class TailsRequest(_Body):
    head: StrictStr
    relation: StrictStr
    k: int = Field(10, ge=1)


class HeadsRequest(_Body):
    relation: StrictStr
    tail: StrictStr
    k: int = Field(10, ge=1)


class EmbeddingsRequest(BaseModel):
    input: Union[StrictStr, list[StrictStr]]
    model: StrictStr
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Optional[int] = Field(None, ge=1)
    user: Optional[str] = None
    truncate: bool = Field(False, description="cut texts longer than the server's token limit instead of "
                                              "refusing them; the response counts them")


class UpsertRequest(_Body):
    keys: list[Key]
    vectors: list[list[float]]
    table: Optional[str] = None


class DeleteRequest(_Body):
    keys: list[Key]
    table: Optional[str] = None
    missing: Literal["error", "ignore"] = "error"


class TableRequest(_Body):
    table: Optional[str] = None


# -- helpers ---------------------------------------------------------------------------------------------
def _json(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False),
                    status_code=status, media_type="application/json")


def _score(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _pairs(found) -> list[dict]:
    return [{"key": k, "score": _score(s)} for k, s in found]


def _check_keys(emb, keys: Sequence, what: str = "key") -> list:
    kind = emb.keys.kind
    for i, key in enumerate(keys):
        if kind == "int" and not isinstance(key, int):
            raise InputError(f"{what} {i} is {key!r}; table {emb.name!r} has integer keys")
        if kind == "str" and not isinstance(key, str):
            raise InputError(f"{what} {i} is {key!r}; table {emb.name!r} has string keys")
    return list(keys)


def _matrix(rows: list[list[float]], dim: int, what: str) -> np.ndarray:
    if not rows:
        return np.zeros((0, dim), np.float32)
    bad = next((i for i, r in enumerate(rows) if len(r) != dim), None)
    if bad is not None:
        raise DimensionError(f"{what} {bad} has {len(rows[bad])} numbers; the table has {dim} dimensions")
    X = np.asarray(rows, dtype=np.float64)
    finite = np.isfinite(X).all(axis=1)
    if not finite.all():
        raise InputError(f"{what} {int(np.flatnonzero(~finite)[0])} holds NaN or infinity")
    big = np.abs(X).max(axis=1) > np.finfo(np.float32).max
    if big.any():
        raise InputError(f"{what} {int(np.flatnonzero(big)[0])} holds a number beyond float32's range")
    return X.astype(np.float32)


def _encode_rows(X: np.ndarray, fmt: str) -> list:
    if fmt == "base64":
        return [base64.b64encode(np.ascontiguousarray(r, "<f4").tobytes()).decode("ascii") for r in X]
    return X.tolist()


# -- the gate ----------------------------------------------------------------------------------------------
class Gate:
    """Plain ASGI middleware: ids, deadlines, body limits, keys, scopes, rate limits, metrics, access log."""

    def __init__(self, app, ctx: "Context") -> None:
        self.app = app
        self.ctx = ctx

    def _route(self, scope):
        for route in self.ctx.app.router.routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                if isinstance(route, APIRoute):      # an endpoint: its declared scope, admin if none
                    need = (route.openapi_extra or {}).get("x-omnivec-scope", "admin")
                else:                                # FastAPI's own pages: /docs and /openapi.json
                    need = PUBLIC
                return route.path, need, child.get("path_params", {})
        return None, None, {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        ctx = self.ctx
        t0 = time.monotonic()
        rid = uuid.uuid4().hex[:16]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        limit = ctx.config.timeout
        try:
            asked = float(headers.get("x-request-timeout", "inf"))
            if asked > 0:
                limit = min(limit, asked)
        except ValueError:
            pass
        state["deadline"] = t0 + limit
        path, need, params = self._route(scope)
        model = params.get("model")
        status_box = {"status": 500}
        key = None

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                status_box["started"] = True
                status_box["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        async def answer(p: Problem):
            await problem_response(p.status, p.title, p.detail, rid, p.headers, **p.extra)(
                scope, receive, send_wrapped)

        try:
            if path is not None and need != PUBLIC:
                key = self._authorize(headers, need, model)
                state["key"] = key
                if key is not None:
                    wait = ctx.rates.wait(key)
                    if wait:
                        ctx.metrics.rejected("rate")
                        raise Problem(429, "Too many requests", f"key {key.name!r} is over its rate limit",
                                      {"Retry-After": str(max(1, math.ceil(wait)))})
            body = await self._read_body(headers, receive, scope)
            state["body"] = body
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_wrapped)
        except Exception as exc:           # nothing escapes as a stack trace
            p = _problem_of(exc, ctx.scrub)
            if p.status == 500:
                log.error("request %s failed", rid, exc_info=exc)
            if not status_box.get("started"):
                await answer(p)
        finally:
            status = status_box["status"]
            label = state.get("model_label") or (model if model in ctx.models.models else "-")
            seconds = time.monotonic() - t0
            ctx.metrics.observe(path or "unmatched", label, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("-", 0)
                access_log.info(json.dumps({
                    "ts": round(time.time(), 3), "request_id": rid, "client": client[0], "method": scope["method"],
                    "route": path or "unmatched", "model": label, "status": status,
                    "ms": round(seconds * 1000, 2), "key": None if key is None else key.name}))

    def _authorize(self, headers: dict, need: str, model: str | None):
        ctx = self.ctx
        if ctx.config.no_auth:
            return None
        token = None
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
        token = token or headers.get("x-api-key")
        if not token:
            raise Problem(401, "Unauthorized", "this server needs an API key: send 'Authorization: Bearer KEY'",
                          {"WWW-Authenticate": "Bearer"})
        key = ctx.keys.find(token)
        if key is None:
            raise Problem(401, "Unauthorized", "the API key is not valid", {"WWW-Authenticate": "Bearer"})
        if not key.allows(need):
            raise Problem(403, "Forbidden", f"key {key.name!r} has scope {key.scope!r}; this route needs {need!r}")
        if model is not None and not key.may_use(model):
            raise Problem(403, "Forbidden", f"key {key.name!r} may not use model {model!r}")
        return key

    async def _read_body(self, headers: dict, receive, scope) -> bytes:
        cfg = self.ctx.config
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise Problem(400, "Bad request", "Content-Length is not a number")
            if int(length) > cfg.max_body:
                raise Problem(413, "Request body too large",
                              f"the body has {int(length)} bytes; this server's limit is {cfg.max_body}")
        chunks, size = [], 0
        try:
            async with asyncio.timeout(cfg.body_timeout):
                while True:
                    msg = await receive()
                    if msg["type"] == "http.disconnect":
                        break
                    chunk = msg.get("body", b"")
                    size += len(chunk)
                    if size > cfg.max_body:
                        raise Problem(413, "Request body too large",
                                      f"the body has more than {cfg.max_body} bytes, this server's limit")
                    chunks.append(chunk)
                    if not msg.get("more_body", False):
                        break
        except TimeoutError:
            raise Problem(408, "Request timeout",
                          f"the body did not arrive within {cfg.body_timeout:g} seconds") from None
        return b"".join(chunks)


# -- metrics ---------------------------------------------------------------------------------------------
class Metrics:
    """Prometheus metrics of the service (one registry per app; multi-process when workers share a folder)."""

    def __init__(self) -> None:
        prom = require("prometheus_client", EXTRA, "the /metrics endpoint")
        self.prom = prom
        self.registry = prom.CollectorRegistry(auto_describe=True)
        self.requests = prom.Counter("omnivec_requests", "requests answered", ["endpoint", "model", "status"],
                                     registry=self.registry)
        self.errors = prom.Counter("omnivec_errors", "requests answered with an error status (>= 400)",
                                   ["endpoint", "model", "status"], registry=self.registry)
        self.latency = prom.Histogram("omnivec_request_seconds", "time from arrival to answer",
                                      ["endpoint", "model"], registry=self.registry,
                                      buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10))
        self.rejects = prom.Counter("omnivec_rejected", "requests refused before any work",
                                    ["reason"], registry=self.registry)
        self.reloads = prom.Counter("omnivec_model_reloads", "model files reloaded after a replace",
                                    ["model"], registry=self.registry)

    def observe(self, endpoint: str, model: str, status: int, seconds: float) -> None:
        s = str(status)
        self.requests.labels(endpoint, model, s).inc()
        if status >= 400:
            self.errors.labels(endpoint, model, s).inc()
        self.latency.labels(endpoint, model).observe(seconds)

    def rejected(self, reason: str) -> None:
        self.rejects.labels(reason).inc()

    def render(self) -> tuple[bytes, str]:
        prom = self.prom
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess
            reg = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(reg)
            return prom.generate_latest(reg), prom.CONTENT_TYPE_LATEST
        return prom.generate_latest(self.registry), prom.CONTENT_TYPE_LATEST


# -- the app ---------------------------------------------------------------------------------------------
class Context:
    """What the routes share: config, models, keys, limits, metrics."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config.check()
        self.models = ModelSet(config.models, oov=config.oov, compact_every=config.compact_every)
        self.keys = KeyRing.load(config.keys_file) if config.keys_file else KeyRing()
        self.rates = RateLimits(config.rate, config.burst)
        self.admission = Admission(config.concurrency, config.queue)
        self.metrics = Metrics()
        self.scrub = Scrubber(self.models.paths)
        self.ready = False
        self.app: FastAPI | None = None

    def served(self, request: Request, name: str):
        key = request.state.key if hasattr(request.state, "key") else None
        if key is not None and not key.may_use(name):
            raise Problem(403, "Forbidden", f"key {key.name!r} may not use model {name!r}")
        try:
            return self.models.get(name)
        except UnknownNameError:
            visible = [m for m in self.models.models if key is None or key.may_use(m)]
            raise Problem(404, "Not found", f"no model {name!r}; the models are: {', '.join(visible)}") from None

    async def work(self, request: Request, fn, *, cheap: bool = False):
        """Return fn() within the request's deadline: inline when cheap, else through the bounded queue."""
        if cheap:
            done, result = self.admission.inline(fn, request.state.deadline)
            if done:
                return result
        try:
            return await self.admission.run(fn, request.state.deadline)
        except Overloaded:
            self.metrics.rejected("queue")
            raise
        except DeadlineExpired:
            self.metrics.rejected("deadline")
            raise

    @staticmethod
    def cheap(items: int, scan: int = 0) -> bool:
        """Return whether work on `items` inputs, each scanning `scan` numbers, is cheaper than a thread hop."""
        return items <= CHEAP_ITEMS and items * scan <= CHEAP_SCAN

    def check_k(self, k: int) -> int:
        if k > self.config.max_k:
            raise InputError(f"k is {k}; this server's limit is max_k={self.config.max_k}")
        return k

    def check_batch(self, n: int, what: str) -> None:
        if n > self.config.max_batch:
            raise InputError(f"{n} {what} in one request; this server's limit is max_batch={self.config.max_batch}")


def create_app(config: ServeConfig) -> FastAPI:
    """Return the FastAPI app serving `config.models` (models opened now, memory-mapped)."""
    ctx = Context(config)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(_reloader(ctx)) if config.reload_interval > 0 else None
        ctx.ready = True
        try:
            yield
        finally:
            ctx.ready = False
            if task is not None:
                task.cancel()
            ctx.admission.close()
            ctx.models.close()

    app = FastAPI(title="omnivec", version=_version(), lifespan=lifespan, redoc_url=None,
                  description="Vectors, neighbours, search, knowledge-graph predictions and OpenAI-style "
                              "embeddings over memory-mapped omnivec model files. Send the API key as "
                              "'Authorization: Bearer KEY'.")
    ctx.app = app
    app.state.ctx = ctx

    def scoped(scope: str, model: str | None = "path") -> dict:
        extra = {"x-omnivec-scope": scope}
        if model:
            extra["x-omnivec-model"] = model
        return {"openapi_extra": extra}

    # -- errors --
    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception):
        p = _problem_of(exc, ctx.scrub)
        if p.status == 500:
            log.error("request %s failed", getattr(request.state, "request_id", "-"), exc_info=exc)
        return problem_response(p.status, p.title, p.detail, getattr(request.state, "request_id", None),
                                p.headers, **p.extra)

    app.add_exception_handler(Problem, _any)
    app.add_exception_handler(OmnivecError, _any)
    for cls in (Overloaded, DeadlineExpired, TimedOut):
        app.add_exception_handler(cls, _any)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        rid = getattr(request.state, "request_id", None)
        if any(e.get("type") == "json_invalid" for e in errors) or any(
                tuple(e.get("loc", ())) == ("body",) and not _is_json(getattr(request.state, "body", b""))
                for e in errors):
            return problem_response(400, "Malformed JSON", "the request body is not valid JSON", rid)
        shown = [{"loc": [str(x) for x in e.get("loc", ())], "msg": ctx.scrub(str(e.get("msg", "")))}
                 for e in errors[:20]]
        first = shown[0] if shown else {"loc": [], "msg": "invalid"}
        return problem_response(422, "Invalid request", f"{'.'.join(first['loc'])}: {first['msg']}", rid,
                                errors=shown)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        titles = {404: "Not found", 405: "Method not allowed"}
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        return problem_response(exc.status_code, titles.get(exc.status_code, "Error"), ctx.scrub(detail),
                                getattr(request.state, "request_id", None), dict(exc.headers or {}))

    # -- operations --
    @app.get("/healthz", tags=["operations"], **scoped(PUBLIC, None))
    async def healthz():
        """The process answers."""
        return _json({"status": "ok"})

    @app.get("/readyz", tags=["operations"], **scoped(PUBLIC, None))
    async def readyz():
        """The models are open and the server takes requests (503 while starting or stopping)."""
        if not ctx.ready:
            return problem_response(503, "Not ready", "the server is starting or stopping", None)
        return _json({"status": "ready", "models": list(ctx.models.models), "queue": ctx.admission.depth})

    @app.get("/metrics", tags=["operations"], **scoped("admin", None))
    async def metrics():
        """Prometheus metrics: requests, latency histograms and errors by endpoint and model."""
        data, ctype = ctx.metrics.render()
        return Response(data, media_type=ctype)

    # -- models --
    @app.get("/v1/models", tags=["models"], **scoped("read", None))
    async def list_models(request: Request):
        """The models this key may use, with their tables (rows, dim, metric, index) and queries."""
        key = getattr(request.state, "key", None)
        return _json({"models": [m.describe() for n, m in ctx.models.models.items()
                                 if key is None or key.may_use(n)]})

    @app.get("/v1/models/{model}", tags=["models"], **scoped("read"))
    async def get_model(request: Request, model: str):
        """One model: its kind, tables and queries."""
        return _json(ctx.served(request, model).describe())

    # -- table queries --
    @app.post("/v1/models/{model}/vectors", tags=["queries"], **scoped("read"))
    async def vectors(request: Request, model: str, body: VectorsRequest):
        """The vectors of a batch of keys (out-of-vocabulary vectors as the model gives them)."""
        served = ctx.served(request, model)
        tname, emb = served.table(body.table)
        keys = _check_keys(emb, body.keys)
        ctx.check_batch(len(keys), "keys")

        def run():
            index, journal = served.index(tname)
            with (journal.lock.read() if journal else contextlib.nullcontext()):
                index = journal.index if journal else None
                X, known = _lookup(emb, index, keys, body.oov, ctx.config.batch_size)
            return _json({"model": model, "table": tname, "dim": emb.dim,
                          "vectors": _encode_rows(X, body.encoding_format), "oov": [not k for k in known]})
        return await ctx.work(request, run, cheap=ctx.cheap(len(keys)))

    @app.post("/v1/models/{model}/similarity", tags=["queries"], **scoped("read"))
    async def similarity(request: Request, model: str, body: SimilarityRequest):
        """The metric's score of each pair of keys."""
        served = ctx.served(request, model)
        tname, emb = served.table(body.table)
        ctx.check_batch(len(body.pairs), "pairs")
        _check_keys(emb, [x for p in body.pairs for x in p])

        def run():
            scores = [_score(emb.similarity(a, b)) for a, b in body.pairs]
            return _json({"model": model, "table": tname, "metric": emb.metric, "scores": scores})
        return await ctx.work(request, run, cheap=ctx.cheap(len(body.pairs)))

    @app.post("/v1/models/{model}/most_similar", tags=["queries"], **scoped("read"))
    async def most_similar(request: Request, model: str, body: MostSimilarRequest):
        """The k keys nearest the mean of positive minus negative keys (input keys never returned)."""
        served = ctx.served(request, model)
        tname, emb = served.table(body.table)
        ctx.check_k(body.k)
        ctx.check_batch(len(body.positive) + len(body.negative), "keys")
        _check_keys(emb, body.positive + body.negative)
        if not body.positive and not body.negative:
            raise InputError("most_similar needs at least one positive or negative key")

        def run():
            found = emb.most_similar(positive=body.positive, negative=body.negative, topn=body.k,
                                     restrict_vocab=body.restrict_vocab, approx=body.approx)
            return _json({"model": model, "table": tname, "results": _pairs(found)})
        scan = 0 if body.approx and emb.index is not None else len(emb) * emb.dim
        return await ctx.work(request, run, cheap=ctx.cheap(1, scan))

    @app.post("/v1/models/{model}/analogy", tags=["queries"], **scoped("read"))
    async def analogy(request: Request, model: str, body: AnalogyRequest):
        """The answers to "a is to b as c is to ?" (3CosAdd or 3CosMul)."""
        served = ctx.served(request, model)
        tname, emb = served.table(body.table)
        ctx.check_k(body.k)
        _check_keys(emb, [body.a, body.b, body.c])

        def run():
            found = emb.analogy(body.a, body.b, body.c, topn=body.k, method=body.method,
                                restrict_vocab=body.restrict_vocab)
            return _json({"model": model, "table": tname, "method": body.method, "results": _pairs(found)})
        return await ctx.work(request, run, cheap=ctx.cheap(1, len(emb) * emb.dim * (3 if body.method == "3cosmul" else 1)))

    @app.post("/v1/models/{model}/search", tags=["queries"], **scoped("read"))
    async def search(request: Request, model: str, body: SearchRequest):
        """The k nearest keys of each query (keys or vectors), through the table's index unless exact."""
        served = ctx.served(request, model)
        tname, emb = served.table(body.table)
        ctx.check_k(body.k)
        if (body.keys is None) == (body.vectors is None):
            raise InputError("search takes either \"keys\" or \"vectors\"")
        queries = _check_keys(emb, body.keys) if body.keys is not None else _matrix(body.vectors, emb.dim, "vector")
        ctx.check_batch(len(queries), "queries")
        flt = None
        if body.filter is not None:
            from ..search import Filter
            f = body.filter
            ctx.check_batch(len(f.allow or ()) + len(f.deny or ()), "filter keys")
            flt = Filter(allow=f.allow, deny=f.deny, where=f.where)

        def run():
            index, journal = served.index(tname)
            with (journal.lock.read() if journal else contextlib.nullcontext()):
                if journal:
                    index = journal.index
                results: list = []
                step = ctx.config.batch_size
                for s in range(0, len(queries), step):
                    part = queries[s:s + step]
                    found = _search(served, tname, emb, index, part, body, flt)
                    results += [[{"key": k, "id": int(i), "score": _score(x)}
                                 for k, i, x in zip(found.keys[q], found.ids[q].tolist(), found.scores[q].tolist())]
                                for q in range(len(found))]
            return _json({"model": model, "table": tname, "index": None if index is None or body.exact
                          else index.name, "results": results})
        index = emb.index
        graph = index is not None and index.name != "flat" and not body.exact and flt is None
        return await ctx.work(request, run, cheap=ctx.cheap(len(queries), 0 if graph else len(emb) * emb.dim))

    # -- knowledge graphs --
    @app.post("/v1/models/{model}/kg/tails", tags=["knowledge graphs"], **scoped("read"))
    async def kg_tails(request: Request, model: str, body: TailsRequest):
        """The k most plausible tails of (head, relation, ?)."""
        served = ctx.served(request, model)
        kg = _kg(served)
        ctx.check_k(body.k)

        def run():
            found = kg.predict_tails(body.head, body.relation, body.k)
            return _json({"model": model, "head": body.head, "relation": body.relation, "results": _pairs(found)})
        return await ctx.work(request, run, cheap=ctx.cheap(1, kg.num_entities * kg.dim))

    @app.post("/v1/models/{model}/kg/heads", tags=["knowledge graphs"], **scoped("read"))
    async def kg_heads(request: Request, model: str, body: HeadsRequest):
        """The k most plausible heads of (?, relation, tail)."""
        served = ctx.served(request, model)
        kg = _kg(served)
        ctx.check_k(body.k)

        def run():
            found = kg.predict_heads(body.relation, body.tail, body.k)
            return _json({"model": model, "relation": body.relation, "tail": body.tail, "results": _pairs(found)})
        return await ctx.work(request, run, cheap=ctx.cheap(1, kg.num_entities * kg.dim))

    # -- OpenAI-style embeddings --
    @app.post("/v1/embeddings", tags=["embeddings"], **scoped("read", "body"))
    async def embeddings(request: Request, body: EmbeddingsRequest):
        """Texts to vectors in OpenAI's request and response format (static models and encoded tables).

        Texts longer than the server's token limit are refused unless "truncate" is true; the
        response's "truncated" counts the texts that were cut.  A batch bigger than the server's
        batch size is split on the server.
        """
        served = ctx.served(request, body.model)
        request.state.model_label = body.model
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        if not texts:
            raise InputError("input is empty; give a text or a list of texts")
        ctx.check_batch(len(texts), "texts")
        blank = next((i for i, t in enumerate(texts) if not t.strip()), None)
        if blank is not None:
            raise InputError(f"input {blank} is empty")
        def run():
            encoder = served.encoder()          # loaded at the first call (a thread: it may be a large model)
            parts, tokens, cut = [], 0, 0
            step = ctx.config.batch_size
            for s in range(0, len(texts), step):
                X, n, c = encoder.encode(texts[s:s + step], max_tokens=ctx.config.max_tokens)
                parts.append(X)
                tokens += n
                cut += c
            if cut and not body.truncate:
                raise InputError(f"{cut} of {len(texts)} texts have more than {ctx.config.max_tokens} tokens, "
                                 f"this server's limit; shorten them or send \"truncate\": true")
            X = np.concatenate(parts)
            if body.dimensions is not None:
                if body.dimensions > X.shape[1]:
                    raise InputError(f"dimensions is {body.dimensions}; model {body.model!r} gives "
                                     f"{X.shape[1]}-dimensional vectors")
                X = X[:, :body.dimensions]
                n = np.linalg.norm(X, axis=1, keepdims=True)
                X = np.where(n > 0, X / np.where(n > 0, n, 1), X).astype(np.float32)
            rows = _encode_rows(X, body.encoding_format)
            return _json({"object": "list", "model": body.model,
                          "data": [{"object": "embedding", "index": i, "embedding": r} for i, r in enumerate(rows)],
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}, "truncated": cut})
        if not served.embeds():
            raise InputError(f"model {body.model!r} does not embed texts: /v1/embeddings takes a static "
                             f"model (omnivec distill) or a document table written by omnivec encode")
        static = served.kind == "static" or served._encoder is not None and served._encoder.kind == "static"
        cheap = static and ctx.cheap(len(texts), sum(map(len, texts)) * 50 // max(1, len(texts)))
        return await ctx.work(request, run, cheap=cheap)

    # -- updates --
    @app.post("/v1/models/{model}/upsert", tags=["updates"], **scoped("write"))
    async def upsert(request: Request, model: str, body: UpsertRequest):
        """Add keys to the table's index or replace their vectors; answered once the journal is on disk.

        Concurrent upserts of one key: the last one written to the journal wins.
        """
        served = ctx.served(request, model)
        tname, emb = served.table(body.table)
        journal = served.journal(tname)
        keys = _check_keys(emb, body.keys)
        ctx.check_batch(len(keys), "keys")
        if len(set(keys)) != len(keys):
            raise InputError(f"{len(keys) - len(set(keys))} keys repeat within one upsert")
        if len(body.vectors) != len(keys):
            raise InputError(f"{len(keys)} keys but {len(body.vectors)} vectors")
        X = _matrix(body.vectors, emb.dim, "vector")
        from .journal import upsert_record
        record = upsert_record(keys, X)

        def run():
            journal.commit(record)
            return _json({"model": model, "table": tname, "upserted": len(keys), "live": len(journal.index)})
        return await ctx.work(request, run)

    @app.post("/v1/models/{model}/delete", tags=["updates"], **scoped("write"))
    async def delete(request: Request, model: str, body: DeleteRequest):
        """Delete keys from the table's index; answered once the journal is on disk."""
        served = ctx.served(request, model)
        tname, emb = served.table(body.table)
        journal = served.journal(tname)
        keys = _check_keys(emb, body.keys)
        ctx.check_batch(len(keys), "keys")
        from .journal import delete_record
        record = delete_record(keys)
        counted = {}

        def check(index):
            ids = index.ids_of(keys)
            counted["n"] = len(set(int(i) for i in ids if i >= 0))
            if body.missing == "error" and (ids < 0).any():
                i = int(np.flatnonzero(ids < 0)[0])
                raise KeyNotFound(f"key {keys[i]!r} is not in the index of table {tname!r} (or already deleted); "
                                  f"send \"missing\": \"ignore\" to skip absent keys")

        def run():
            journal.commit(record, check)
            return _json({"model": model, "table": tname, "deleted": counted["n"], "live": len(journal.index)})
        return await ctx.work(request, run)

    @app.post("/v1/models/{model}/compact", tags=["updates"], **scoped("admin"))
    async def compact(request: Request, model: str, body: TableRequest):
        """Write the journal's updates into the index file (atomic rename) and start an empty journal."""
        served = ctx.served(request, model)
        tname, _ = served.table(body.table)
        journal = served.journal(tname)

        def run():
            n = journal.compact()
            return _json({"model": model, "table": tname, "compacted": n})
        return await ctx.work(request, run)

    app.add_middleware(Gate, ctx=ctx)
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    return app


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _version() -> str:
    from .. import __version__
    return __version__


def _stamp(path: str | None):
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return None if st is None else (st.st_ino, st.st_mtime_ns, st.st_size)


async def _reloader(ctx: Context) -> None:
    loop = asyncio.get_running_loop()
    keys_stamp = _stamp(ctx.config.keys_file)
    while True:
        await asyncio.sleep(ctx.config.reload_interval)
        stamp = _stamp(ctx.config.keys_file)
        if stamp != keys_stamp and stamp is not None:       # a key added or revoked: no restart needed
            try:
                ctx.keys = KeyRing.load(ctx.config.keys_file)
                keys_stamp = stamp
                log.info("keys file reloaded: %d keys", len(ctx.keys))
            except (OmnivecError, OSError) as exc:
                log.error("the keys file does not read, keeping the keys loaded before: %s", type(exc).__name__)
        try:
            done = await loop.run_in_executor(None, ctx.models.refresh)
        except Exception:  # never let the reloader die
            log.exception("model reload check failed")
            continue
        for name in done:
            ctx.metrics.reloads.labels(name).inc()
        if done:
            ctx.scrub = Scrubber(ctx.models.paths)


def _kg(served):
    kg = served.opened
    if not hasattr(kg, "predict_tails"):
        raise InputError(f"model {served.name!r} is not a knowledge-graph model (its kind is {served.kind!r})")
    return kg


def _lookup(emb, index, keys: list, oov: bool | None, step: int) -> tuple[np.ndarray, list[bool]]:
    """Return (vectors, known) of keys: the index's live vectors when the table has one, else the table's."""
    use_oov = emb.oov if oov is None else bool(oov)
    X = np.empty((len(keys), emb.dim), np.float32)
    known = [True] * len(keys)
    for s in range(0, len(keys), step):
        part = keys[s:s + step]
        if index is not None:
            ids = index.ids_of(part)
        else:
            ids = emb.keys.rows(part)
        for j, i in enumerate(ids.tolist()):
            if i >= 0:
                continue
            if not use_oov:
                raise KeyNotFound(f"key {part[j]!r} is not in table {emb.name!r} ({len(emb)} keys); "
                                  f"send \"oov\": true for an out-of-vocabulary vector")
            known[s + j] = False
            X[s + j] = emb.oov_vector(part[j])
        ok = ids >= 0
        if ok.any():
            rows = ids[ok]
            out = np.empty((len(rows), emb.dim), np.float32)
            base = rows < (len(emb) if index is None else index.n_base)
            if base.any():
                out[base] = emb.store.decode(rows[base])
            if (~base).any():
                out[~base] = index.extra_vectors[rows[~base] - index.n_base]
            X[s:s + len(part)][ok] = out
    return X, known


def _search(served, tname, emb, index, queries, body: SearchRequest, flt):
    """Return the Neighbors of one batch of queries."""
    k = int(body.k)
    if not len(queries):
        return Neighbors(np.zeros((0, 0), np.int64), np.zeros((0, 0), np.float32), [])
    if index is not None:
        return index.search(queries, k, filter=flt, exclude_self=not body.include_self, exact=body.exact)
    if flt is not None:
        index = served_flat(served, tname, emb)
        return index.search(queries, k, filter=flt, exclude_self=not body.include_self, exact=True)
    return emb.search(queries if isinstance(queries, np.ndarray) else list(queries), k,
                      exclude_self=not body.include_self)


def served_flat(served, tname: str, emb):
    """Return a flat (exact) index over a table without an index file, for filtered searches (built once)."""
    cache = served.__dict__.setdefault("_flat", {})
    if tname not in cache:
        from ..search import build_index
        cache[tname] = build_index(emb, "flat", show_progress=False)
    return cache[tname]
