"""Issue 13 item 8: the README's plugin table (or, until it is merged, the docs draft's) is true."""
from __future__ import annotations

import re
from conftest import REPO  # noqa: E402

ROOT = REPO


def plugin_table() -> dict[str, tuple[str, set[str], str]]:
    for doc in (ROOT / "README.md", ROOT / "docs" / "drafts" / "new-users.md"):
        rows = {}
        for line in doc.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\| `(\w+)` \| (\w+) [^|]*\|([^|]*)\|([^|]*)\|$", line)
            if m:
                rows[m.group(1)] = (m.group(2), {c.strip() for c in m.group(3).split(",")}, m.group(4))
        if rows:
            return rows
    raise AssertionError("no plugin table in README.md or docs/drafts/new-users.md")


def test_the_plugin_table_lists_the_five_with_their_departments_categories_and_roles():
    from dangan.plugins.listing import shipped_departments
    table = plugin_table()
    shipped = {e.name: e for e in shipped_departments()}
    assert set(table) == set(shipped)
    for name, e in shipped.items():
        dept, cats, roles = table[name]
        assert (dept,) == e.departments and cats == set(e.categories), name
        assert all(f"`{r}`" in roles for r in e.roles), name
