"""Discovery, enable/disable, and bad plugins: each gives a clear message naming
the plugin, and the archive (the other plugins) keeps working, unchanged."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dangan.errors import PluginError, UsageError, ValidationFailed
from dangan.model import Record
from dangan.plugins import hookimpl
from dangan.plugins.manager import DEPARTMENT_NAMES, Plugins, get_plugin_manager
from dangan.plugins.types import Actor, Veto

GOOD = '''
from dangan.plugins import hookimpl
from dangan.plugins.types import Category, Scheme

@hookimpl
def dangan_register_schemes(register):
    register(Scheme("good", "Good", (Category("GD", "good things", "long-term", department="GDB"),)))
'''


def write(d: Path, name: str, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{name}.py"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def load(plugin_dir: Path, **kw) -> Plugins:
    return Plugins.load(load_entrypoints=False, plugin_dirs=[plugin_dir], **kw)


def rec(category="GD", **kw) -> Record:
    kw.setdefault("date", "2021-05-06")
    kw.setdefault("department", "GDB")
    return Record("r1", "Z109", title="t", category=category, **kw)


def assert_good_still_works(p: Plugins) -> None:
    c = p.classify(rec())
    assert p.validate(c.record).ok
    assert p.archival_code(c.record, 1) == "Z109-GD·2021-D30-GDB-0001"


def test_single_file_plugin_is_found_and_described(tmp_path):
    write(tmp_path, "good", GOOD)
    p = load(tmp_path)
    assert p.load_problems == []
    info = {i.name: i for i in p.describe()}
    assert info["good"].source == str(tmp_path / "good.py")
    assert info["good"].hooks == ("dangan_register_schemes",)
    assert "builtin.scheme" in info and "general_office" not in info
    assert_good_still_works(p)


def test_syntax_error_is_named_and_skipped(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "broken", "def oops(:\n    pass\n")
    p = load(tmp_path)
    [problem] = p.load_problems
    assert problem.plugin == "broken" and "syntax error at line 1" in str(problem)
    assert "broken" not in {i.name for i in p.describe()}
    assert_good_still_works(p)


def test_import_error_and_sys_exit_are_named_and_skipped(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "needs", "import no_such_module_here\n")
    write(tmp_path, "quits", "raise SystemExit(3)\n")
    p = load(tmp_path)
    msgs = {pr.plugin: pr.message for pr in p.load_problems}
    assert "ModuleNotFoundError" in msgs["needs"] and "SystemExit" in msgs["quits"]
    assert_good_still_works(p)


def test_wrong_hook_signature_is_named_and_skipped(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "wrongsig", '''
        from dangan.plugins import hookimpl
        @hookimpl
        def dangan_retention_for(record, category, colour):
            return None
    ''')
    p = load(tmp_path)
    [problem] = p.load_problems
    assert problem.plugin == "wrongsig" and "colour" in problem.message
    assert_good_still_works(p)


def test_unknown_hook_and_misplaced_wrapper_are_named(tmp_path):
    write(tmp_path, "typo", '''
        from dangan.plugins import hookimpl
        @hookimpl
        def dangan_retention(record):
            return None
    ''')
    write(tmp_path, "wrapsall", '''
        from dangan.plugins import hookimpl
        @hookimpl(wrapper=True)
        def dangan_validate(record):
            return (yield)
    ''')
    write(tmp_path, "nowrap", '''
        from dangan.plugins import hookimpl
        @hookimpl
        def dangan_destroy(record):
            return "pretend"
    ''')
    write(tmp_path, "good", GOOD)
    p = load(tmp_path)
    msgs = {pr.plugin: pr.message for pr in p.load_problems}
    assert "unknown hook dangan_retention" in msgs["typo"]
    assert "cannot be a wrapper" in msgs["wrapsall"]
    assert "wrapper=True" in msgs["nowrap"]
    assert_good_still_works(p)


def test_hook_that_raises_gives_plugin_error_naming_it(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "explodes", '''
        from dangan.plugins import hookimpl
        @hookimpl
        def dangan_validate(record, category):
            if record.category == "GD":
                raise KeyError("boom")
    ''')
    p = load(tmp_path)
    assert p.load_problems == []
    c = p.classify(rec())
    with pytest.raises(PluginError, match=r"plugin explodes failed in dangan_validate: KeyError: 'boom'"):
        p.validate(c.record)
    # other records are unaffected
    assert p.validate(p.classify(rec("WS", department="BGS")).record).ok


def test_register_hook_that_raises_skips_the_whole_plugin(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "halfway", '''
        from dangan.plugins import hookimpl
        from dangan.plugins.types import Category, Scheme
        @hookimpl
        def dangan_register_schemes(register):
            register(Scheme("h", "H", (Category("HH", "h", "short-term"),)))
            raise RuntimeError("database unavailable")
        @hookimpl
        def dangan_lending_limit(record):
            return 1
    ''')
    p = load(tmp_path)
    [problem] = p.load_problems
    assert problem.plugin == "halfway" and "database unavailable" in problem.message
    assert p.schemes().get("HH") is None                       # nothing half-registered
    assert p.lending_limit_days(rec(), Actor("a")) is None     # and its other hooks are gone
    assert_good_still_works(p)


def test_same_category_code_in_two_plugins_names_both_and_withdraws_it(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "alpha", GOOD.replace('"good", "Good"', '"alpha", "A"').replace('"GD", "good things"', '"DUP", "x"'))
    write(tmp_path, "beta", GOOD.replace('"good", "Good"', '"beta", "B"').replace('"GD", "good things"', '"DUP", "y"'))
    p = load(tmp_path)
    [problem] = p.load_problems
    assert "'DUP'" in problem.message and "alpha and beta" in problem.message
    with pytest.raises(PluginError, match="alpha and beta"):
        p.classify(rec("DUP"))
    outcome = p.validate(rec("DUP"))
    assert not outcome.ok and "alpha and beta" in str(outcome.errors[0])
    with pytest.raises(ValidationFailed, match="alpha and beta"):
        outcome.raise_if_blocked()
    assert_good_still_works(p)


def test_negative_retention_is_named_at_registration_and_at_call(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "negcat", '''
        from dangan.plugins import hookimpl
        from dangan.plugins.types import Category, Scheme
        @hookimpl
        def dangan_register_schemes(register):
            register(Scheme("n", "N", (Category("NEG", "n", "D-5"),)))
    ''')
    write(tmp_path, "negrule", '''
        from dangan.plugins import hookimpl
        from dangan.plugins.types import RetentionRule
        @hookimpl
        def dangan_retention_for(record, category):
            if category.code == "GD" and record.metadata.get("odd"):
                return RetentionRule(years=-5)
    ''')
    p = load(tmp_path)
    [problem] = p.load_problems
    assert problem.plugin == "negcat" and "D-5" in problem.message
    with pytest.raises(PluginError, match=r"plugin negrule gave a bad retention rule for GD: .*-5"):
        p.classify(rec(metadata={"odd": "1"}))
    assert_good_still_works(p)


def test_wrong_return_type_is_named(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "sloppy", '''
        from dangan.plugins import hookimpl
        @hookimpl
        def dangan_retention_for(record, category):
            return "forever"
    ''')
    with pytest.raises(PluginError, match="plugin sloppy returned 'forever' from dangan_retention_for"):
        load(tmp_path).retention_for(rec())


def test_enable_and_disable_by_name(tmp_path):
    write(tmp_path, "good", GOOD)
    p = load(tmp_path, enabled=["general_office"], disabled=["good"])
    names = {i.name for i in p.describe()}
    assert "general_office" in names and "good" not in names and "drug_quality" not in names
    assert p.pm.skipped["good"] == "disabled in dangan.toml"
    assert p.pm.skipped["drug_quality"] == "not in [plugins] enabled"
    with pytest.raises(UsageError, match="unknown plugin.*'nosuch'.*valid: construction"):
        load(tmp_path, enabled=["nosuch"])          # issue 13 item 8: a typo in enabled is an error
    p = load(tmp_path, disabled=["nosuch"])
    assert [pr.plugin for pr in p.load_problems] == ["nosuch"]


def test_all_departments_load_together_without_conflicts():
    p = Plugins.load(load_entrypoints=False, enabled=DEPARTMENT_NAMES)
    assert p.load_problems == []
    codes = [r.category.code for r in p.schemes()]
    assert len(codes) == len(set(codes)) > 30
    pm = get_plugin_manager(load_entrypoints=False, enabled=DEPARTMENT_NAMES)
    pm.check_pending()


class _Hold:
    @hookimpl(wrapper=True)
    def dangan_destroy(self, record):
        if record.metadata.get("hold"):
            raise Veto("legal hold")
        return (yield)


class _Audit:
    def __init__(self):
        self.seen = []

    @hookimpl(wrapper=True)
    def dangan_destroy(self, record):
        result = yield
        self.seen.append((record.id, result))
        return result


def test_destroy_wrappers_veto_before_anything_happens_and_observe_after():
    audit = _Audit()
    p = Plugins.load(load_entrypoints=False, extra_plugins=[("hold", _Hold()), ("audit", audit)])
    done = []

    def perform():
        done.append(1)
        return "certificate-1"

    with pytest.raises(Veto, match="plugin hold vetoed destroy of r1: legal hold"):
        p.destroy(rec(metadata={"hold": "yes"}), Actor("a"), "expired", perform)
    assert done == [] and audit.seen == []
    assert p.destroy(rec(), Actor("a"), "expired", perform) == "certificate-1"
    assert done == [1] and audit.seen == [("r1", "certificate-1")]


def test_core_errors_from_perform_pass_through_unchanged():
    p = Plugins.load(load_entrypoints=False)

    def perform():
        raise ValidationFailed("held by core")

    with pytest.raises(ValidationFailed, match="held by core"):
        p.purge(rec(), Actor("a"), "why", perform)


def test_a_wrapper_that_crashes_is_named():
    class Crash:
        @hookimpl(wrapper=True)
        def dangan_destroy(self):
            raise ZeroDivisionError("oops")
            yield  # pragma: no cover

    p = Plugins.load(load_entrypoints=False, extra_plugins=[("crash", Crash())])
    with pytest.raises(PluginError, match="plugin crash failed in dangan_destroy: ZeroDivisionError"):
        p.destroy(rec(), Actor("a"), "x", lambda: None)
