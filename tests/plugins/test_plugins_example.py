"""The example plugin package installs with pip and is found through its entry point."""
from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import REPO

EXAMPLE = REPO / "examples" / "dangan-plugin-example"

PROBE = """
import sys
from dangan.model import Record
from dangan.plugins.manager import Plugins
from dangan.plugins.types import Actor, Veto
p = Plugins.load()
assert p.load_problems == [], p.load_problems
info = {i.name: i for i in p.describe()}["legal_example"]
assert info.version == "0.1.0" and "dangan-plugin-example" in info.source, info
assert "dangan_destroy" in info.hooks
r = Record("r", "Z109", title="t", category="FW-HT", date="2020-01-01", metadata={"counterparty": "ACME", "ends": "2022-06-30"})
c = p.classify(r)
assert c.retention.plugin == "legal_example" and c.record.retention == "D15", c.retention
assert p.archival_code(c.record, 7) == "Z109-FW·2020-D15-FWB-0007"
try:
    p.destroy(Record("x", "Z109", metadata={"litigation": "2024-1"}), Actor("a"), "expired", lambda: 1)
except Veto as e:
    assert "legal_example" in str(e)
else:
    raise AssertionError("no veto")
print("ok")
"""


def test_example_plugin_installs_and_is_found_through_its_entry_point(tmp_path):
    target = tmp_path / "site"
    source = shutil.copytree(EXAMPLE, tmp_path / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--target", str(target), str(source)], check=True, capture_output=True, text=True)
    assert list(target.glob("dangan_plugin_example-*.dist-info/entry_points.txt"))
    env_path = str(target)
    out = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {env_path!r})\n" + PROBE],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
