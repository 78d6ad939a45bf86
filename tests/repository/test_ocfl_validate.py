"""dangan's own OCFL 1.1 validator, against the official fixtures and ocfl-py.

Every bad fixture must be rejected with the code its name carries, every good
and warn fixture accepted (warn fixtures with their warning codes), and
ocfl-py must agree on each verdict. Tampering with a tmp copy of a good object
must be found and named.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from dangan.repository.validate import Problem, ValidationReport, validate_object, validate_storage_root

from conftest import FIXTURES  # noqa: E402

BAD = sorted((FIXTURES / "bad-objects").iterdir())
WARN = sorted((FIXTURES / "warn-objects").iterdir())
GOOD = sorted((FIXTURES / "good-objects").iterdir())

# Where a fixture's name carries a code we deliberately report under another
# code, the mapping goes here with the reason. None is needed today: for
# E019_inconsistent_content_dir (v1 says contentDirectory "content-dir", the
# root "content") we report both E019 (the root's value was not set in the
# first version) and E020 (it changed between versions), which ocfl-py calls
# E020 alone.
CODE_ALIASES: dict[tuple[str, str], str] = {}

# Git keeps no empty folder; README.md of the fixtures says a bad object that
# turns out valid here is a fixture limitation. None of the 55 does.
KNOWN_VALID_BAD: set[str] = set()


def ocfl_py_valid(path: Path) -> bool:
    validator = pytest.importorskip("ocfl.validator")
    return validator.Validator(log_warnings=False, log_errors=False).validate_object(str(path))


def name_codes(fixture: Path) -> list[str]:
    return re.findall(r"(?:^|_)([EW][0-9]{3})(?=_|$)", fixture.name)


def show(report: ValidationReport) -> str:
    return "\n".join(str(p) for p in report.errors + report.warnings)


def test_fixture_counts() -> None:
    # README of the fixtures: 55 bad, 13 warn, 12 good. A missing folder must fail, not skip.
    assert (len(BAD), len(WARN), len(GOOD)) == (55, 13, 12)


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.name)
def test_bad_fixture_rejected_with_its_code(fixture: Path) -> None:
    report = validate_object(fixture)
    if fixture.name in KNOWN_VALID_BAD:
        pytest.skip("fixture depends on an empty folder git cannot store")
    assert not report.ok, f"{fixture.name} accepted"
    codes = {p.code for p in report.errors}
    for code in name_codes(fixture):
        wanted = CODE_ALIASES.get((fixture.name, code), code)
        assert wanted in codes, f"{fixture.name}: {wanted} not reported\n{show(report)}"
    for problem in report.errors:
        assert re.fullmatch(r"E[0-9]{3}", problem.code)
        assert problem.message and "\n" not in problem.message


@pytest.mark.parametrize("fixture", WARN, ids=lambda p: p.name)
def test_warn_fixture_accepted_with_its_warnings(fixture: Path) -> None:
    report = validate_object(fixture)
    assert report.ok, show(report)
    codes = {p.code for p in report.warnings}
    for code in name_codes(fixture):
        assert code in codes, f"{fixture.name}: {code} not reported\n{show(report)}"


@pytest.mark.parametrize("fixture", GOOD, ids=lambda p: p.name)
def test_good_fixture_accepted_cleanly(fixture: Path) -> None:
    report = validate_object(fixture)
    assert report.ok and not report.warnings, show(report)


@pytest.mark.parametrize("fixture", BAD + WARN + GOOD, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ocfl_py_agrees_on_verdict(fixture: Path) -> None:
    theirs = ocfl_py_valid(fixture)
    ours = validate_object(fixture).ok
    assert ours == theirs == (fixture.parent.name != "bad-objects")


def test_fixtures_valid_without_digest_checks() -> None:
    # Structure-only mode still accepts every good and warn object.
    for fixture in GOOD + WARN:
        assert validate_object(fixture, check_digests=False).ok, fixture.name


# -- tampering with a copy of a good object ----------------------------------

@pytest.fixture
def obj(tmp_path: Path) -> Path:
    """A copy of spec-ex-full: three versions, fixity md5 and sha1."""
    dest = tmp_path / "obj"
    shutil.copytree(FIXTURES / "good-objects" / "spec-ex-full", dest)
    assert validate_object(dest).ok
    return dest




def errors_for(report: ValidationReport, path: str) -> list[Problem]:
    return [p for p in report.errors if p.path == path]


def test_flipped_bit_is_a_digest_error_naming_the_file(obj: Path) -> None:
    target = obj / "v1/content/foo/bar.xml"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    report = validate_object(obj)
    assert not report.ok
    found = errors_for(report, "v1/content/foo/bar.xml")
    assert {p.code for p in found} == {"E092", "E093"}  # manifest sha512, and the fixity md5/sha1
    assert all("v1/content/foo/bar.xml" in p.message for p in found)
    assert {p.path for p in report.errors} == {"v1/content/foo/bar.xml"}
    assert not ocfl_py_valid(obj)
    # Without digest checks a flipped bit is not seen: that is the point of the option.
    assert validate_object(obj, check_digests=False).ok


def test_missing_content_file(obj: Path) -> None:
    (obj / "v1/content/image.tiff").unlink()
    report = validate_object(obj, check_digests=False)
    assert "E092" in {p.code for p in errors_for(report, "v1/content/image.tiff")}
    assert "v1/content/image.tiff" in show(report)
    assert not validate_object(obj).ok
    assert not ocfl_py_valid(obj)


def test_extra_file_in_content_directory(obj: Path) -> None:
    (obj / "v2/content/smuggled.txt").write_text("not in any manifest\n")
    report = validate_object(obj)
    assert [p.code for p in report.errors] == ["E023"]
    assert report.errors[0].path == "v2/content/smuggled.txt"
    assert not ocfl_py_valid(obj)


def test_edited_inventory_breaks_its_sidecar(obj: Path) -> None:
    inv = obj / "inventory.json"
    inv.write_bytes(inv.read_bytes().replace(b"Alice", b"Alicia"))
    report = validate_object(obj)
    sidecar = errors_for(report, "inventory.json.sha512")
    assert [p.code for p in sidecar] == ["E060"]
    assert "E064" in {p.code for p in report.errors}  # no longer the copy in v3
    assert not ocfl_py_valid(obj)


def test_edited_inventory_with_recomputed_sidecar_still_caught(obj: Path) -> None:
    # Someone edits a digest and fixes the sidecar: the content check still fails.
    inv_path = obj / "inventory.json"
    inv = json.loads(inv_path.read_text())
    digest = next(iter(inv["manifest"]))
    forged = ("0" if digest[0] != "0" else "1") + digest[1:]
    raw = inv_path.read_text().replace(digest, forged).encode()
    inv_path.write_bytes(raw)
    (obj / "inventory.json.sha512").write_text(f"{hashlib.sha512(raw).hexdigest()} inventory.json\n")
    (obj / "v3/inventory.json").write_bytes(raw)
    (obj / "v3/inventory.json.sha512").write_text(f"{hashlib.sha512(raw).hexdigest()} inventory.json\n")
    report = validate_object(obj)
    assert "E092" in {p.code for p in report.errors}, show(report)


def test_extra_file_in_object_root_and_symlink(obj: Path) -> None:
    (obj / "notes.txt").write_text("x")
    os.symlink("/etc/hostname", obj / "v1/content/link")
    report = validate_object(obj)
    assert {(p.code, p.path) for p in report.errors} >= {("E001", "notes.txt"), ("E090", "v1/content/link")}


def test_unreadable_or_missing_object_root(tmp_path: Path) -> None:
    report = validate_object(tmp_path / "nowhere")
    assert [p.code for p in report.errors] == ["E003"]


def test_expected_id(obj: Path) -> None:
    ident = json.loads((obj / "inventory.json").read_text())["id"]
    assert validate_object(obj, expected_id=ident).ok
    report = validate_object(obj, expected_id="urn:other")
    assert [p.code for p in report.errors] == ["E083"]


def test_digest_cache_is_consulted(obj: Path) -> None:
    asked: list[tuple[str, str]] = []

    def cache(path: Path, algorithm: str) -> str | None:
        asked.append((path.relative_to(obj).as_posix(), algorithm))
        lie = path == obj / "v1/content/foo/bar.xml" and algorithm == "sha512"
        return "0" * 128 if lie else None

    report = validate_object(obj, digest_cache=cache)
    assert ("v1/content/foo/bar.xml", "sha512") in asked
    # The cache lied about bar.xml: trusted, so reported as a mismatch.
    assert {(p.code, p.path) for p in report.errors} == {("E092", "v1/content/foo/bar.xml")}


# -- storage root -------------------------------------------------------------

def _path_0004(ident: str) -> str:
    d = hashlib.sha256(ident.encode()).hexdigest()
    return f"{d[0:3]}/{d[3:6]}/{d[6:9]}/{d}"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    root.mkdir()
    (root / "0=ocfl_1.1").write_text("ocfl_1.1\n")
    (root / "ocfl_layout.json").write_text(json.dumps({
        "extension": "0004-hashed-n-tuple-storage-layout",
        "description": "hashed n-tuple",
    }))
    ext = root / "extensions" / "0004-hashed-n-tuple-storage-layout"
    ext.mkdir(parents=True)
    ext.joinpath("config.json").write_text(json.dumps({
        "extensionName": "0004-hashed-n-tuple-storage-layout",
        "digestAlgorithm": "sha256", "tupleSize": 3, "numberOfTuples": 3, "shortObjectRoot": False,
    }))
    for name in ("spec-ex-full", "minimal_one_version_one_file", "updates_all_actions"):
        src = FIXTURES / "good-objects" / name
        ident = json.loads((src / "inventory.json").read_text())["id"]
        shutil.copytree(src, root / _path_0004(ident))
    return root


def test_storage_root_valid(store: Path) -> None:
    reports = validate_storage_root(store)
    assert set(reports) == {""} | {
        _path_0004(json.loads((store / p / "inventory.json").read_text())["id"])
        for p in {k for k in reports if k}
    }
    assert len(reports) == 4
    assert all(r.ok for r in reports.values()), {k: show(r) for k, r in reports.items()}
    # ocfl-py 2.1.0's StorageRoot.validate() refuses layout 0004 as unknown
    # (E071), so the cross-check is object by object.
    for key in reports.keys() - {""}:
        assert ocfl_py_valid(store / key)


def test_storage_root_problems(store: Path) -> None:
    some = next(p for p in store.rglob("0=ocfl_object_1.1")).parent
    moved = store / "abc" / "misplaced"
    moved.parent.mkdir()
    shutil.move(str(some), moved)
    os.removedirs(some.parent)  # leave no empty directory behind (that would be E073)
    (store / "abc" / "stray.txt").write_text("x")
    (store / "empty").mkdir()
    bad = store / "def" / "broken"
    shutil.copytree(FIXTURES / "bad-objects" / "E092_content_file_digest_mismatch", bad)
    reports = validate_storage_root(store)
    assert {(p.code, p.path) for p in reports[""].errors} == {("E084", "abc/stray.txt"), ("E073", "empty")}
    assert [p.code for p in reports["abc/misplaced"].errors] == ["E083"]
    assert "E092" in {p.code for p in reports["def/broken"].errors}


def test_storage_root_without_declaration(tmp_path: Path) -> None:
    reports = validate_storage_root(tmp_path)
    assert [p.code for p in reports[""].errors] == ["E069"]


# -- hostile input: never a crash, always a report --------------------------

def _rewrite_inventory(obj: Path, raw: bytes) -> None:
    """Replace the root inventory (and the head version's copy) with valid sidecars."""
    sidecar = f"{hashlib.sha512(raw).hexdigest()} inventory.json\n"
    for where in (obj, obj / "v3"):
        (where / "inventory.json").write_bytes(raw)
        (where / "inventory.json.sha512").write_text(sidecar)


def test_deeply_nested_inventory_is_reported_not_raised(obj: Path) -> None:
    _rewrite_inventory(obj, b"[" * 200_000 + b"]" * 200_000)
    report = validate_object(obj)
    assert "E033" in {p.code for p in report.errors}


def test_file_name_with_newline_gives_one_line_messages(obj: Path) -> None:
    (obj / "v1/content/evil\nname.txt").write_text("x")
    report = validate_object(obj)
    assert [p.code for p in report.errors] == ["E023"]
    assert "\n" not in report.errors[0].message
    assert report.errors[0].path == "v1/content/evil\nname.txt"


def test_older_version_inventory_claiming_head(obj: Path) -> None:
    shutil.copy(obj / "inventory.json", obj / "v2/inventory.json")
    shutil.copy(obj / "inventory.json.sha512", obj / "v2/inventory.json.sha512")
    report = validate_object(obj)
    assert [(p.code, p.path) for p in report.errors] == [("E040", "v2/inventory.json")]


_JUNK = [None, 0, -1, 1.5, True, "", "x", "../x", "/x", "v0", "v01", [], {}, ["a", "a"], {"a": 1}]


def _locations(node: object, at: tuple = ()) -> list[tuple]:
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _locations(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _locations(v, at + (i,))
    return out


def test_mutated_inventories_never_crash(tmp_path: Path) -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    src = FIXTURES / "good-objects" / "spec-ex-full"
    base = json.loads((src / "inventory.json").read_text())
    places = _locations(base)[1:]

    @hypothesis.settings(max_examples=60, deadline=None, database=None)
    @hypothesis.given(st.lists(st.tuples(st.sampled_from(places), st.sampled_from(_JUNK)), min_size=1, max_size=4))
    def check(mutations: list[tuple[tuple, object]]) -> None:
        inv = json.loads(json.dumps(base))
        for where, junk in mutations:
            node = inv
            try:
                for key in where[:-1]:
                    node = node[key]
                node[where[-1]] = json.loads(json.dumps(junk))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed this place
        dest = tmp_path / "m"
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src, dest)
        _rewrite_inventory(dest, json.dumps(inv).encode())
        report = validate_object(dest)
        assert isinstance(report, ValidationReport)
        if inv == base:
            assert report.ok

    check()


def test_stray_sidecar_in_version_directory(obj: Path) -> None:
    (obj / "v1/inventory.json.md5").write_text("0" * 32 + " inventory.json\n")
    report = validate_object(obj)
    assert [(p.code, p.path) for p in report.errors] == [("E015", "v1/inventory.json.md5")]


def test_streaming_digests_match_hashlib(tmp_path: Path) -> None:
    from dangan.repository.validate_digest import KNOWN_ALGORITHMS, file_digests
    import zlib

    data = os.urandom(2 * 1024 * 1024 + 12345)  # more than one 1 MiB chunk
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    got = file_digests(f, KNOWN_ALGORITHMS)
    assert got["sha512"] == hashlib.sha512(data).hexdigest()
    assert got["md5"] == hashlib.md5(data).hexdigest()
    assert got["blake2b-160"] == hashlib.blake2b(data, digest_size=20).hexdigest()
    assert got["crc32"] == f"{zlib.crc32(data):08x}"
    assert got["size"] == str(len(data))
    small = tmp_path / "small.bin"
    small.write_bytes(b"abc")
    assert file_digests(small, ["sha256"])["sha256"] == hashlib.sha256(b"abc").hexdigest()
