"""`dangan plugins`: what is loaded, from where, and what failed to load."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_line, json_lines, line, table


@click.group("plugins")
def plugins_group():
    """Plugins: what is loaded, from where, and what failed to load."""


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def plugins_list(ctx, as_json):
    """Every plugin — the shipped department plugins too, marked "not enabled" until named in dangan.toml
    [plugins] enabled — with its departments, categories and roles; load problems last."""
    from ..plugins.listing import plugin_entries
    plugins = ctx.archive().plugins
    entries = plugin_entries(plugins)
    if as_json:
        json_lines(e.to_dict() for e in entries)
        json_lines({"problem": str(p)} for p in plugins.load_problems)
        return
    table([(e.name, e.state, ", ".join(e.departments), ", ".join(e.categories), ", ".join(e.roles))
           for e in entries], ["PLUGIN", "STATE", "DEPT", "CATEGORIES", "ROLES"], {3: 34})
    if any(e.state == "not enabled" for e in entries):
        click.echo('turn one on: [plugins] enabled = ["construction", ...] in dangan.toml;'
                   " details: dangan plugins show NAME", err=True)
    for p in plugins.load_problems:
        line(f"problem: {p}", err=True)


@plugins_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def plugins_show(ctx, name, as_json):
    """One plugin: its state, source, departments, categories, roles (and what they may do) and hooks."""
    from ..plugins.listing import plugin_entry
    e = plugin_entry(ctx.archive().plugins, name)
    if as_json:
        json_line(e.to_dict())
        return
    for k, v in (("plugin", e.name), ("state", e.state), ("version", e.version), ("source", e.source),
                 ("departments", ", ".join(e.departments)), ("categories", ", ".join(e.categories)),
                 ("hooks", ", ".join(h.removeprefix("dangan_") for h in e.hooks))):
        if v:
            line(f"{k + ':':<13}{v}")
    for role, meaning in e.roles.items():
        line(f"{'role:':<13}{role} — {meaning}")


COMMANDS = [plugins_group]
