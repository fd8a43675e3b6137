"""Progress lines stay legible at 80 columns: human units, rate and ETA always visible."""

from __future__ import annotations

from omnivec._progress import human_count, human_duration, status_line


def test_counts_and_durations_read_as_people_write_them():
    assert [human_count(x) for x in (7, 950, 12_345, 6_389_495, 3_052_028_000)] == \
        ["7", "950", "12.3k", "6.39M", "3.05G"]
    assert [human_duration(x) for x in (0, 61, 3725, None, float("inf"))] == ["0:00", "1:01", "1:02:05", "?", "?"]


def test_the_status_line_drops_extras_before_rate_and_eta():
    full = status_line(3_052_028, 31_947_475, 1_320_000, 2.3, "words", "loss 0.5123  lr 0.0234", width=80)
    assert full == "10% 3.05M/31.9M 1.32M words/s 0:02 ETA 0:22 loss 0.5123  lr 0.0234"
    narrow = status_line(3_052_028, 31_947_475, 1_320_000, 2.3, "words", "loss 0.5123", width=40)
    assert len(narrow) <= 40 and "words/s" in narrow and "ETA 0:22" in narrow and "loss" not in narrow
    mid = status_line(3_052_028, 31_947_475, 1_320_000, 2.3, "words", "loss 0.512 lr 0.0234", width=56)
    assert mid == "10% 1.32M words/s 0:02 ETA 0:22 loss 0.512 lr 0.0234"   # counts go before the loss
    assert status_line(0, None, 0.0, 41.0, "steps") == "0:41"          # unknown size: elapsed only


def test_version_flag(capsys):
    from omnivec import __version__
    from omnivec.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"omnivec {__version__}"
