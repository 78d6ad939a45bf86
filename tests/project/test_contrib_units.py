"""The commands the files in contrib/ run are dangan's own: every subcommand and option they name exists.

A unit or cron line is copied to a server and first runs there, at night; a renamed option would fail only
then.  Each ``dangan …`` command line in contrib/ is parsed by the CLI itself (``--help`` after it: click
parses every option before it and refuses an unknown one, exit 2)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dangan.cli import get_cli

CONTRIB = Path(__file__).resolve().parent.parent.parent / "contrib"
_STOP = ("&&", "||", ";", "|", "'")


def _commands(text: str) -> list[list[str]]:
    """The argument lists of every ``dangan …`` command in ``text`` (a unit's ExecStart, a cron line)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") or (re.match(r"[A-Za-z]+=", line) and not line.startswith("Exec")):
            continue                      # a comment, a unit's Description= or a cron variable
        for m in re.finditer(r"(?:^|[\s'/])dangan (?=[a-z-])(.+)", line):    # not cron's user field "dangan  …"
            args = []
            for tok in m.group(1).replace("'", " ' ").split():
                if tok in _STOP or any(c in tok for c in "<>$\"'"):     # the shell's part, not dangan's
                    break
                args.append(tok)
            if args:
                out.append(args)
    return out


UNITS = sorted(p for p in CONTRIB.iterdir() if p.suffix in (".service", ".cron", ".timer"))


def test_contrib_has_the_units_the_docs_name():
    names = {p.name for p in UNITS}
    assert {"dangan-serve.service", "dangan-watch.service", "dangan-worker@.service",
            "dangan-backup.service"} <= names


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_every_dangan_command_in_contrib_parses(unit):
    commands = _commands(unit.read_text(encoding="utf-8"))
    if unit.suffix == ".timer":
        assert commands == []
        return
    assert commands, f"{unit.name} runs no dangan command"
    for args in commands:
        result = CliRunner().invoke(get_cli(), [*args, "--help"])
        assert result.exit_code == 0, f"{unit.name}: dangan {' '.join(args)}: {result.output}"
