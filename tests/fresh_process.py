"""Run Python code in a fresh interpreter: what a user's first `import omnivec` loads, seen from outside."""

from __future__ import annotations

import subprocess
import sys


def run_python(code: str, *args: object, timeout: float = 120) -> str:
    """Return the stdout of `python -c code args...`; fail the test with its stderr when it exits non-zero."""
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
