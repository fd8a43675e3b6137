"""Running the service: `serve` (uvicorn, N worker processes) and `running` (a thread, for tests and notebooks).

Each worker process builds the app from the same `ServeConfig` (passed in
the environment) and opens the model files memory-mapped: the vectors are in
the OS page cache once, whatever the number of workers.  TLS is uvicorn's:
give `ssl_certfile` and `ssl_keyfile`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Iterator

from ..errors import InputError, require
from .app import EXTRA, ServeConfig, create_app

ENV = "OMNIVEC_SERVE_CONFIG"


def app_from_env():
    """Return the app of the config in $OMNIVEC_SERVE_CONFIG (each uvicorn worker calls this)."""
    _logging(os.environ.get(ENV + "_LOG_LEVEL", "info"))      # a worker process sets up its own logging
    return create_app(ServeConfig.from_json(os.environ[ENV]))


def _logging(level: str) -> None:
    logger = logging.getLogger("omnivec.serve")
    if not logger.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(h)
        logger.propagate = False
    logger.setLevel(getattr(logging, level.upper(), logging.INFO))


def serve(config: ServeConfig, *, port: int = 8000, workers: int = 1, ssl_certfile: str | None = None,
          ssl_keyfile: str | None = None, log_level: str = "info") -> None:
    """Serve `config` until interrupted: uvicorn on config.host:port with `workers` processes."""
    uvicorn = require("uvicorn", EXTRA, "omnivec serve")
    config.check()
    if workers < 1:
        raise InputError(f"--workers must be at least 1; got {workers}")
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise InputError("TLS needs both --ssl-certfile and --ssl-keyfile")
    for _, path in config.models:
        if not os.path.isfile(path):
            raise InputError(f"model file {path} does not exist")
    _logging(log_level)
    opts = dict(host=config.host, port=port, log_level=log_level, access_log=False, server_header=False,
                ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, timeout_keep_alive=5,
                timeout_graceful_shutdown=10)
    if workers == 1:
        uvicorn.run(create_app(config), **opts)
        return
    metrics_dir = tempfile.mkdtemp(prefix="omnivec-serve-metrics-")
    os.environ[ENV] = config.to_json()
    os.environ[ENV + "_LOG_LEVEL"] = log_level
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir       # one /metrics over every worker
    try:
        uvicorn.run("omnivec.serve.run:app_from_env", factory=True, workers=workers, **opts)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@contextlib.contextmanager
def running(config, *, port: int = 0, log_level: str = "warning") -> Iterator[str]:
    """Serve `config` (a ServeConfig, or an app from `create_app`) from a thread while the block runs.

    Yields the base URL; port=0 takes a free port.  For tests, notebooks and the README: one worker.
    """
    uvicorn = require("uvicorn", EXTRA, "omnivec serve")
    app = create_app(config) if isinstance(config, ServeConfig) else config
    host = app.state.ctx.config.host
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level,
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, name="omnivec-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise InputError(f"the server did not start on {host}:{port}")
        time.sleep(0.01)
    sock = server.servers[0].sockets[0].getsockname()
    host = f"[{sock[0]}]" if ":" in sock[0] else sock[0]
    try:
        yield f"http://{host}:{sock[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
