"""Issue 13 item 12: options that behave the same on every command; widths of CJK and emoji."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from dangan.cli import get_cli
from dangan.cli.output import table, width


def walk(group: click.Group, path=()):
    for name, cmd in sorted(group.commands.items()):
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from walk(cmd, (*path, name))


def test_dash_h_prints_help_on_every_command():
    cli = get_cli()
    commands = list(walk(cli))
    assert len(commands) > 60
    for path, cmd in commands:
        r = CliRunner().invoke(cli, [*path, "-h"], catch_exceptions=False)
        assert r.exit_code == 0 and "Usage:" in r.output, (path, r.output)


def test_search_dash_h_is_help_and_not_a_search(cli):
    r = cli("search", "-h")
    assert "Usage:" in r.output and "hit(s)" not in r.output
    assert "Usage:" in cli("ls", "-h").output


def test_ingest_options_have_help_texts():
    ingest = get_cli().commands["ingest"]
    helps = {p.name: p.help for p in ingest.params if isinstance(p, click.Option)}
    for name in ("title", "category", "volume", "meta", "tags", "department"):
        assert helps[name], name
    assert "valid_until" in helps["meta"]


@pytest.mark.parametrize("args", [("stats",), ("report", "stats"), ("report",), ("inspect", "report"),
                                  ("lend", "register")])
def test_every_listing_takes_json(cli, archive_root, samples, args):
    cfg = archive_root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + '\n[users.tester]\nroles = ["archivist"]\n', encoding="utf-8")
    cli("ingest", samples / "contract.txt", "--category", "WS", "--dept", "BGS")
    r = cli(*args, "--json")
    lines = r.stdout.splitlines()
    assert all(isinstance(json.loads(x), dict) for x in lines), r.stdout
    if args[0] != "lend":
        assert lines


def test_widths_follow_unicode_east_asian_width_emoji_included():
    assert width("档案") == 4 and width("abc") == 3
    assert width("😀") == 2 and width("🈶") == 2 and width("🎉档") == 4    # missed by the old expression
    assert width("\U0002a6d6") == 2                                        # CJK extension C
    assert width("e\u0301") == 1 and width("a\u200db") == 2                # combining accent, zero-width joiner


def test_tables_stay_aligned_with_emoji(capsys):
    table([("😀😀", "x"), ("ab", "y")], ["A", "B"])
    lines = capsys.readouterr().out.splitlines()
    assert width(lines[1][:lines[1].index("x")]) == width(lines[2][:lines[2].index("y")]) == 6


def test_at_80_columns_the_id_gives_way_to_the_title(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    title = "关于二〇二一年度办公楼租赁合同续签及物业管理费用调整的请示与批复"
    p = tmp_path / "a.txt"
    p.write_text("正文", encoding="utf-8")
    rid = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "Y",
                         "--date", "2021-03-05", "--title", title, "--secrecy", "内部", "--json").output)["record_id"]
    lines = cli("ls").stdout.splitlines()
    assert all(width(line) <= 80 for line in lines), lines
    row = lines[1]
    assert rid not in row and row.split()[0] == rid[:len(row.split()[0])]     # a unique prefix of the id
    assert title[:9] + "…" in row and width(row) >= 78                      # the title takes what is left
    assert cli("show", row.split()[0], "--json").output                       # the prefix resolves
    wide = cli("ls", "--wide").stdout
    assert rid in wide and title in wide


def test_the_progress_bar_never_shares_a_line_with_a_file_line(cli, archive_root, tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(4):
        (d / f"{i}.txt").write_text(f"文件 {i}", encoding="utf-8")
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="100")
    p = subprocess.Popen([sys.executable, "-m", "dangan", "--archive", str(archive_root), "ingest", str(d),
                          "--category", "WS", "--dept", "BGS"], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                         env=env)
    os.close(slave)
    raw = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        raw += chunk
    os.close(master)
    assert p.wait(timeout=120) == 0
    text = raw.decode("utf-8", "replace")
    assert "archiving" in text                                               # a bar was drawn
    shown = [seg.split("\r")[-1].replace("\x1b[K", "") for seg in text.replace("\r\n", "\n").split("\n")]
    archived = [s for s in shown if "archived " in s]
    assert len(archived) == 4 and all(s.startswith("archived ") for s in archived), shown


LISTING_NAMES = {"list", "ls", "lists", "due", "register", "stats", "report", "overdue", "snapshots", "log",
                 "schemes", "alerts", "search", "versions", "show", "status"}


def test_every_listing_command_has_json():
    missing = [" ".join(path) for path, cmd in walk(get_cli()) if path[-1] in LISTING_NAMES
               and "--json" not in {o for p in cmd.params for o in getattr(p, "opts", [])}]
    assert not missing, missing
