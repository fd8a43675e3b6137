"""Running the CLI in-process for the tests of tests/cli."""

from omnivec.cli import main


def run(capsys, *args):
    """Return (exit code, stdout, stderr) of `omnivec ARGS...` run in this process."""
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line_error(err: str) -> str:
    """Return the single `omnivec: error: ...` line of stderr (failing if there is more)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("omnivec: error: ")
    return lines[0]
