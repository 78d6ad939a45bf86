"""Helpers for tests that drive the CLI: enable plugins in an archive's config, read the audit log."""
from __future__ import annotations

import json


def enable(root, *plugins):
    cfg = root / "dangan.toml"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("[plugins]\n", f"[plugins]\nenabled = {list(plugins)!r}\n".replace("'", '"'), 1),
                   encoding="utf-8")


def audit(cli, action, user="boss"):
    out = cli("audit", "log", "--json", "--action", action, user=user).output
    return [json.loads(line) for line in out.splitlines()]
