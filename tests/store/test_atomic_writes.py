"""What a write leaves on disk: the umask's modes, kept modes, no temporaries after kills or SIGTERM."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import omnivec
from omnivec import _atomic
from omnivec.cli import main
from omnivec.errors import FormatError, InputError


def _table():
    return omnivec.Embeddings(["a", "b", "c"], np.arange(12, dtype=np.float32).reshape(3, 4))


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def _leftovers(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_files_get_the_umasks_mode(tmp_path, umask, mask):
    umask(mask)
    omnivec.save(tmp_path / "m.ov", _table())
    assert _mode(tmp_path / "m.ov") == 0o666 & ~mask
    assert main(["convert", str(tmp_path / "m.ov"), str(tmp_path / "m.txt")]) == 0
    assert _mode(tmp_path / "m.txt") == 0o666 & ~mask


def test_replacing_a_file_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    target = tmp_path / "m.ov"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    omnivec.save(target, _table())
    assert _mode(target) == 0o644
    assert len(omnivec.open(target)) == 3


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from omnivec._atomic import atomic_path
        with atomic_path({str(tmp_path / 'big.ov')!r}) as tmp:
            tmp.write_bytes(b"x" * 100000)
            print("ready", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert len(_leftovers(tmp_path)) == 1
        # a live writer's temporary is never touched
        assert _atomic.stale_temporaries(tmp_path) == []
        proc.kill()
        proc.wait(10)
    finally:
        proc.kill()
    assert len(_atomic.stale_temporaries(tmp_path)) == 1
    omnivec.save(tmp_path / "other.ov", _table())
    assert _leftovers(tmp_path) == []
    assert not (tmp_path / "big.ov").exists()


def test_sigterm_is_a_clean_interrupt_that_leaves_the_destination_alone(tmp_path, monkeypatch, capsys):
    src = tmp_path / "m.ov"
    omnivec.save(src, _table())
    dst = tmp_path / "out.txt"
    dst.write_text("old contents\n")
    real_fsync = os.fsync

    def terminated_mid_write(fd):
        os.kill(os.getpid(), signal.SIGTERM)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", terminated_mid_write)
    code = main(["convert", str(src), str(dst)])
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert code == 128 + signal.SIGTERM
    assert "terminated" in capsys.readouterr().err
    assert dst.read_text() == "old contents\n"
    assert _leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is not None   # the handler was put back


def test_an_unwritable_destination_is_a_clean_error(tmp_path):
    with pytest.raises(FormatError, match="does not exist"):
        omnivec.save(tmp_path / "no" / "such" / "m.ov", _table())
    with pytest.raises(FormatError, match="is a folder"):
        omnivec.save(tmp_path, _table())
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        os.chmod(ro, 0o555)
        with pytest.raises(FormatError, match="permission denied"):
            omnivec.save(ro / "m.ov", _table())


def test_save_names_its_argument_order():
    with pytest.raises(InputError, match="path first"):
        omnivec.save(_table(), "m.ov")


def test_a_full_disk_is_a_clean_error_that_leaves_nothing(tmp_path, monkeypatch):
    import errno

    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FormatError, match="disk is full"):
        omnivec.save(tmp_path / "m.ov", _table())
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert os.listdir(tmp_path) == []
