"""A Ray cluster to work on: connecting to one, and a local multi-node cluster for tests and benchmarks.

`connect(address)` joins a running cluster (``ray start --head`` elsewhere),
or starts a one-process Ray when `address` is None and none runs.

`LocalCluster(nodes=2)` starts a head node and further worker nodes on this
machine (``ray start --head`` then ``ray start --address=...``, each with
``--block``), all bound to 127.0.0.1, and stops exactly the processes it
started.  Ray binds its nodes to the machine's own interface address unless
the machine has no other: `run_isolated` runs a command in a private network
namespace with only loopback (``unshare --net``, which needs root or user
namespaces), inside a private process namespace as well, so every process
the command leaves behind ends with it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from ..errors import ClusterError, require

EXTRA = "ray"
LOOPBACK = "127.0.0.1"


def ray_module(purpose: str):
    """Return the imported `ray` package, or raise MissingDependencyError naming omnivec[ray]."""
    return require("ray", EXTRA, purpose)


def connect(address: str | None = None, *, purpose: str = "this distributed operation"):
    """Return the `ray` module connected to the cluster at `address` (or the one already joined).

    address None joins the cluster this process already joined, else the one
    named by RAY_ADDRESS, else starts Ray in this process.  ClusterError
    when the address does not answer.
    """
    ray = ray_module(purpose)
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=address, logging_level="error", log_to_driver=False,
                 configure_logging=True, include_dashboard=False if address is None else None)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot join the Ray cluster at {address or 'the default address'}: "
                           f"{str(exc).splitlines()[0]}") from None
    return ray


# -- a private network namespace -------------------------------------------------------

def isolation_available() -> tuple[bool, str]:
    """Return (True, "") when `run_isolated` can work here, else (False, the reason)."""
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return False, f"the '{tool}' command is not installed"
    try:
        probe = subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child",
                                "sh", "-c", "ip link set lo up"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"unshare could not run: {exc}"
    if probe.returncode != 0:
        why = (probe.stderr or probe.stdout).strip().splitlines()
        return False, ("creating a private network namespace is not permitted here (unshare --net needs "
                       f"root or user namespaces): {why[-1] if why else 'exit ' + str(probe.returncode)}")
    return True, ""


def run_isolated(argv: Sequence[str], *, timeout: float, env: dict | None = None,
                 cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Return the finished `argv`, run in a private network namespace that has only loopback (127.0.0.1).

    The command also gets a private process namespace: when it ends, or after
    `timeout` seconds, every process it started ends too.  Output is captured.
    """
    ok, why = isolation_available()
    if not ok:
        raise ClusterError(why)
    cmd = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child",
           "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        raise ClusterError(f"{' '.join(argv[:3])} ... ran past {timeout:.0f} s and was stopped; its last "
                           f"output:\n{out[-3000:]}") from None


# -- a local multi-node cluster ----------------------------------------------------------

class LocalCluster:
    """A Ray cluster of `nodes` nodes on this machine, on 127.0.0.1, started and stopped as a context.

        with LocalCluster(nodes=2, cpus=1) as cluster:
            ray.init(address=cluster.address)

    Each node is one ``ray start --block`` process this object started; `stop`
    sends each of them SIGTERM (which stops that node's raylet, workers and
    object store) and waits, then SIGKILL after `grace` seconds.  Meant to
    run inside `run_isolated`, where 127.0.0.1 is the only address.
    """

    def __init__(self, nodes: int = 2, *, cpus: int = 1, object_store_bytes: int = 150 << 20,
                 port: int = 6379, env: dict | None = None, start_timeout: float = 90.0,
                 grace: float = 15.0) -> None:
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self.nodes = nodes
        self.cpus = cpus
        self.object_store_bytes = object_store_bytes
        self.port = port
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        self.start_timeout = start_timeout
        self.grace = grace
        self.address = f"{LOOPBACK}:{port}"
        self.temp_dir = None
        self._procs: list[subprocess.Popen] = []
        self._logs: list[Path] = []

    def _ray_cmd(self) -> list[str]:
        return [sys.executable, "-m", "ray.scripts.scripts"]

    def start(self) -> "LocalCluster":
        """Start the head node, then the worker nodes; return self once all have joined."""
        ray_module("a local Ray cluster")
        self.temp_dir = tempfile.mkdtemp(prefix="ovray-")
        common = ["--node-ip-address", LOOPBACK, "--num-cpus", str(self.cpus), "--num-gpus", "0",
                  "--object-store-memory", str(self.object_store_bytes), "--disable-usage-stats", "--block"]
        head = [*self._ray_cmd(), "start", "--head", "--port", str(self.port), "--include-dashboard", "false",
                "--temp-dir", self.temp_dir, *common]
        self._spawn(head, "head")
        self._wait_for(1)
        for i in range(1, self.nodes):
            self._spawn([*self._ray_cmd(), "start", "--address", self.address, *common], f"node{i}")
        self._wait_for(self.nodes)
        return self

    def _spawn(self, cmd: list[str], name: str) -> None:
        log = Path(self.temp_dir) / f"{name}.log"
        self._logs.append(log)
        with open(log, "wb") as fh:
            self._procs.append(subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=self.env,
                                                stdin=subprocess.DEVNULL))

    def _wait_for(self, n: int) -> None:
        """Wait until the first `n` nodes say "Ray runtime started" (ClusterError with their log otherwise)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for p, log in zip(self._procs, self._logs):
                if p.poll() is not None:
                    text = _tail(log)
                    self.stop()
                    raise ClusterError(f"a Ray node exited while starting (exit {p.returncode}): {text}")
            if all("Ray runtime started" in _tail(log, 1 << 20) for log in self._logs[:n]):
                return
            time.sleep(0.3)
        text = _tail(self._logs[-1])
        self.stop()
        raise ClusterError(f"the local Ray cluster did not start {n} nodes in {self.start_timeout:.0f} s: {text}")

    def stop(self) -> None:
        """Stop every node this object started (SIGTERM, then SIGKILL after `grace` seconds)."""
        for p in reversed(self._procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for p in reversed(self._procs):
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._procs.clear()
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
