"""Run every benchmark in bench/ one after another; each prints its own JSON lines.

    python bench/run_all.py                 # all, with each script's default setting
    python bench/run_all.py store search    # only the scripts whose names contain these words
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    wanted = sys.argv[1:]
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py")
    failed = 0
    for script in scripts:
        if wanted and not any(w in script.stem for w in wanted):
            continue
        print(f"# {script.name}", file=sys.stderr, flush=True)
        rc = subprocess.call([sys.executable, str(script)])
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
