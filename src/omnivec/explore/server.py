"""A local HTTP server for a map folder (127.0.0.1 only), with neighbours on demand.

Static files are served as they are.  When the map was built without
neighbours for every point, `GET /api/neighbors?point=I` computes point I's
nearest neighbours in the original space by exact search.
"""

from __future__ import annotations

import json
import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from ..errors import InputError


class OnDemandNeighbors:
    """Exact k nearest neighbours of one point at a time, over the map's points."""

    def __init__(self, vectors: np.ndarray, metric: str, k: int) -> None:
        from ..metrics import get_metric
        from ..core.vectors import VectorStore

        self.store = VectorStore.encode(np.ascontiguousarray(vectors, np.float32), "float32")
        self.metric = get_metric(metric)
        self.k = int(k)
        self.lock = threading.Lock()

    def __call__(self, point: int) -> tuple[list[int], list[float]]:
        """Return (neighbour point ids, scores) of `point`, best first, itself left out."""
        from ..core import exact

        if not 0 <= point < len(self.store):
            raise InputError(f"point must be in [0, {len(self.store)}); got {point}")
        q = self.store.data[point:point + 1]
        with self.lock:
            rows, scores = exact.topk(self.store, self.metric, q, self.k, exclude=[[point]])
        return rows[0].tolist(), [float(s) for s in scores[0]]


#: the Host names a browser sends for this server; any other name means a page elsewhere reached it
#: through a DNS name that resolves to 127.0.0.1 (DNS rebinding), and is refused
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _host_name(host: str) -> str:
    """Return the name part of a Host header: 'localhost:8765' -> 'localhost', '[::1]:80' -> '[::1]'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1] if "]" in host else host
    return host.split(":", 1)[0]


class _Handler(SimpleHTTPRequestHandler):
    on_demand: OnDemandNeighbors | None = None

    def log_message(self, format, *args) -> None:  # keep the terminal quiet; errors still show
        pass

    def _refused(self) -> bool:
        """Send a 400 and return True for a request this server does not answer (foreign Host, NUL bytes)."""
        if _host_name(self.headers.get("Host") or "") not in LOCAL_HOSTS:
            self._send_json(400, {"error": "this server answers only http://127.0.0.1 and http://localhost"})
            return True
        if "\x00" in self.path or "%00" in self.path:
            self._send_json(400, {"error": "bad path"})
            return True
        return False

    def list_directory(self, path):  # no folder listings, only the map's files
        self.send_error(404, "Not Found")
        return None

    def do_HEAD(self) -> None:
        if self._refused():
            return
        try:
            super().do_HEAD()
        except (ValueError, OSError):
            self._send_json(400, {"error": "bad path"})

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def do_GET(self) -> None:
        if self._refused():
            return
        url = urlparse(self.path)
        if url.path == "/api/neighbors":
            return self._neighbors(parse_qs(url.query))
        try:
            return super().do_GET()
        except (ValueError, OSError):     # paths the file system cannot name: a clean 400, no traceback
            return self._send_json(400, {"error": "bad path"})

    def _neighbors(self, query: dict) -> None:
        if self.on_demand is None:
            return self._send_json(404, {"error": "this server computes no neighbours on demand"})
        try:
            point = int(query.get("point", [""])[0])
            ids, scores = self.on_demand(point)
        except (ValueError, InputError) as exc:
            return self._send_json(400, {"error": str(exc)})
        return self._send_json(200, {"point": point, "neighbors": ids, "scores": scores})

    def _send_json(self, status: int, obj) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(folder: str | os.PathLike, *, port: int = 8765,
                on_demand: OnDemandNeighbors | None = None) -> ThreadingHTTPServer:
    """Return an HTTP server for the map folder bound to 127.0.0.1:port (port 0 picks a free one)."""
    folder = Path(folder)
    if not (folder / "index.html").is_file():
        raise InputError(f"{folder} holds no index.html; it is not a map folder written by omnivec explore")
    handler = type("MapHandler", (_Handler,), {"on_demand": on_demand})
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), partial(handler, directory=str(folder)))
    server.daemon_threads = True
    return server
