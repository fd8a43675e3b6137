"""Every command's --help reads whole at 80 columns: nothing cut, every option with help."""

import re

import pytest

from cli_helpers import run

COMMANDS = [[], ["convert"], ["info"], ["verify"], ["query"], ["train"], ["train", "word2vec"],
            ["train", "fasttext"], ["train", "kge"], ["eval"], ["eval", "analogy"], ["eval", "similarity"],
            ["eval", "linkpred"], ["index"], ["index", "build"], ["index", "search"], ["index", "eval"],
            ["index", "info"], ["explore"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "omnivec")
def test_help_fits_80_columns_and_cuts_nothing(capsys, monkeypatch, cmd):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, *cmd, "--help")
    assert code == 0 and out.strip()
    lines = out.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    assert "…" not in out
    assert "9223372036854775807" not in out
    # every option line has a help text after its name (on the same or the next line)
    options = [i for i, ln in enumerate(lines) if re.match(r"^  (-\w, )?--[\w-]+", ln)]
    for i in options:
        rest = re.sub(r"^  (-\w, )?--[\w-]+( / --[\w-]+)?( <[^>]*>| \w+)?", "", lines[i]).strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        assert rest or nxt, f"{' '.join(cmd)}: no help for {lines[i].strip()}"
