"""Precedence through the facade with real plugins, extraction, CLI commands."""
from __future__ import annotations

import click
from click.testing import CliRunner

from dangan.model import Extraction, Record
from dangan.plugins import hookimpl
from dangan.plugins.manager import Plugins
from dangan.plugins.types import Actor, RetentionRule


class Longer:
    @hookimpl
    def dangan_retention_for(self, category):
        return RetentionRule(50, "transfer") if category.code == "WS" else None

    @hookimpl
    def dangan_access(self, action):
        return True

    @hookimpl
    def dangan_lending_limit(self):
        return 14


class Stricter:
    @hookimpl
    def dangan_access(self, action):
        return False if action == "export" else None

    @hookimpl
    def dangan_lending_limit(self):
        return 5

    @hookimpl
    def dangan_initial_status(self):
        return "pending"


def rec() -> Record:
    return Record("r", "Z109", category="WS", date="2021-01-01", department="BGS")


def test_precedence_is_the_same_whatever_the_registration_order():
    for order in ([("a", Longer()), ("b", Stricter())], [("b", Stricter()), ("a", Longer())]):
        p = Plugins.load(load_entrypoints=False, extra_plugins=order)
        c = p.classify(rec())
        assert (c.retention.plugin, c.record.retention, c.record.status) == ("a", "D50", "pending")
        assert c.archival_class == "Z109-WS·2021-D50-BGS"
        decision = p.access(Actor("x"), "export", c.record)
        assert not decision and decision.denied_by == ("b",) and decision.allowed_by == ("a",)
        assert p.may(Actor("x"), "read", c.record)
        assert p.lending_limit_days(c.record, Actor("x")) == 5


def test_extractor_plugins_come_before_the_builtin_and_failures_are_named(tmp_path):
    f = tmp_path / "a.xdg"
    f.write_text("hello")

    class Mine:
        @hookimpl
        def dangan_extract(self, path, mime):
            if mime == "text/x-dangan":
                return Extraction(text=path.read_text(), extractor="mine")
            if mime == "text/x-bad":
                raise ValueError("corrupt header")

    p = Plugins.load(load_entrypoints=False, extra_plugins=[("mine", Mine())])
    assert p.extract(f, "text/x-dangan", None).text == "hello"
    bad = p.extract(f, "text/x-bad", None)
    assert bad.status == "failed" and bad.message == "plugin mine failed in dangan_extract: ValueError: corrupt header"


def test_cli_commands_are_added_and_a_failing_contributor_is_recorded():
    class Cmd:
        @hookimpl
        def dangan_cli_commands(self, cli):
            @cli.command()
            def hello():
                click.echo("hello from a plugin")

    class Bad:
        @hookimpl
        def dangan_cli_commands(self, cli):
            raise RuntimeError("no")

    @click.group()
    def cli():
        pass

    p = Plugins.load(load_entrypoints=False, extra_plugins=[("cmd", Cmd()), ("bad", Bad())])
    problems = p.add_commands(cli)
    assert [(pr.plugin, "RuntimeError: no" in pr.message) for pr in problems] == [("bad", True)]
    assert CliRunner().invoke(cli, ["hello"]).output == "hello from a plugin\n"
    assert problems[0] in p.load_problems
