"""Issue 13 item 7: `disposition execute` shows what it will destroy and asks first."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from disposition_helpers import office  # noqa: F401  (the fixture)


@pytest.fixture
def approved(cli, office):  # noqa: F811
    lid = json.loads(cli("disposition", "propose", office["old"], office["old2"], "--json", user="arch").output)["list"]
    cli("disposition", "approve", lid, user="mgr")
    return lid


def status(cli, rid):
    return json.loads(cli("show", rid, "--json", user="arch").output)["status"]


def test_without_a_terminal_and_without_yes_execute_refuses_and_destroys_nothing(cli, office, approved):  # noqa: F811
    r = cli("disposition", "execute", approved, user="arch", ok=False)
    assert r.exit_code == 2 and "--yes" in r.output
    assert office["old"] in r.output and "文件old" in r.output          # the records it would destroy are shown
    assert status(cli, office["old"]) == status(cli, office["old2"]) == "active"


def test_dry_run_lists_the_records_and_changes_nothing(cli, office, approved):  # noqa: F811
    cli("hold", "add", office["old2"], "--reason", "诉讼", "--authority", "法院", user="lawyer")
    plan = [json.loads(x) for x in cli("disposition", "execute", approved, "--dry-run", "--json",
                                       user="arch").stdout.splitlines()]
    will = {p["record_id"]: p["will"] for p in plan}
    assert will[office["old"]] == "destroy" and will[office["old2"]].startswith("skip: under legal hold")
    text = cli("disposition", "execute", approved, "--dry-run", user="arch")
    assert "nothing was changed" in text.output and "文件old" in text.output
    assert status(cli, office["old"]) == "active"
    assert json.loads(cli("disposition", "show", approved, "--json", user="arch").output)["status"] == "approved"


def test_yes_destroys_without_asking(cli, office, approved):  # noqa: F811
    cert = json.loads(cli("disposition", "execute", approved, "--yes", "--json", user="arch").output)
    assert cert["destroyed"] == 2 and status(cli, office["old"]) == "destroyed"


def run_on_a_terminal(archive_root, args, answer: str):
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "arch", *args],
                             stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(master, answer.encode())
        out, err = p.communicate(timeout=120)
    finally:
        os.close(slave)
        os.close(master)
    return p.returncode, out, err


def test_on_a_terminal_it_asks_and_no_means_nothing_is_destroyed(cli, archive_root, office, approved):  # noqa: F811
    code, out, err = run_on_a_terminal(archive_root, ["disposition", "execute", approved], "n\n")
    assert code == 1 and "cannot be undone" in err and "nothing was destroyed" in err
    assert office["old"] in out
    assert status(cli, office["old"]) == "active"
    code, out, err = run_on_a_terminal(archive_root, ["disposition", "execute", approved], "y\n")
    assert code == 0, err
    assert status(cli, office["old"]) == "destroyed"
