"""The distributed tests on a two-node local Ray cluster, in a private loopback-only network namespace.

Ray binds its nodes to the machine's interface address; inside a network
namespace that has only loopback (`unshare --net`, as root) both nodes are
127.0.0.1 and no traffic leaves the machine.  This module runs
`cluster_cases.py` there once (one pytest process: the cluster, the driver and
the fault injection all inside), bounded in time, and reports each of its
tests here.  Skipped where Ray is not installed or the namespace is not permitted.
"""

import ast
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import omnivec

pytest.importorskip("ray", reason="the distributed tests need Ray: pip install 'omnivec[ray]'")

from omnivec.distributed.cluster import isolation_available, run_isolated  # noqa: E402

HERE = Path(__file__).resolve().parent
CASES = HERE / "cluster_cases.py"
NAMES = [n.name for n in ast.parse(CASES.read_text()).body
         if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
LIMIT_S = 420


@pytest.fixture(scope="module")
def inner_run(tmp_path_factory):
    ok, why = isolation_available()
    if not ok:
        pytest.skip(f"no private network namespace for the Ray cluster: {why}")
    out = tmp_path_factory.mktemp("cluster")
    junit = out / "junit.xml"
    src = str(Path(omnivec.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, str(HERE)]), RAY_USAGE_STATS_ENABLED="0",
               RAY_DEDUP_LOGS="0")
    proc = run_isolated([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                         "--basetemp", str(out / "t"), "--junitxml", str(junit), "-o", "addopts=",
                         str(CASES)], timeout=LIMIT_S, env=env, cwd=str(HERE.parents[1]))
    results = {}
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            skip = case.find("skipped")
            results[case.get("name")] = ("failed", (bad.get("message") or "") + "\n" + (bad.text or "")) \
                if bad is not None else (("skipped", skip.get("message")) if skip is not None else ("passed", ""))
    return results, proc.stdout[-6000:] + proc.stderr[-3000:]


@pytest.mark.parametrize("name", NAMES)
def test_on_a_two_node_cluster(inner_run, name):
    results, tail = inner_run
    if name not in results:
        pytest.fail(f"{name} did not run on the cluster (an earlier case failed first, or the run "
                    f"stopped); its output:\n{tail}")
    status, text = results[name]
    if status == "skipped":
        pytest.skip(text)
    assert status == "passed", text[-5000:]
