"""A plain install has what it runs on: bagit at run time, the T->S table vendored, pypdf 7 allowed."""
from __future__ import annotations

import fnmatch
import hashlib
import json
import subprocess
import sys
import tomllib
from importlib import metadata

from conftest import REGULATIONS
from dangan.index.text_v1 import normalise, tokens
from conftest import REPO  # noqa: E402

DATA = REPO / "dangan" / "index" / "data"

# Taken with opencc-python-reimplemented 0.1.7's TSCharacters.txt, before the table was vendored.
BEFORE_NORMALISED = "162a2f2514b4742620f52813e3d094fb5a5f26a9a28b170fb5e0e184a5adc9f5"
BEFORE_TOKENS = "216d9b42d01dd630f33d62deb5ae69ccdd46a2ee4ff4ac54d31be3dcef2245a0"


def _requirements() -> dict[str, str]:
    out = {}
    for req in metadata.requires("dangan") or []:
        name = req.split(";")[0].strip()
        for sep in "<>=!~ [":
            name = name.split(sep)[0]
        out[name.lower()] = req
    return out


def test_bagit_is_a_runtime_dependency_and_opencc_is_gone():
    reqs = _requirements()
    assert "bagit" in reqs and "extra" not in reqs["bagit"]
    assert not any(name.startswith("opencc") for name in reqs)


def test_pypdf_7_is_allowed():
    spec = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pypdf = next(s for s in spec if s.startswith("pypdf"))
    assert "<8" in pypdf


def test_traditional_text_folds_to_the_same_tokens_as_before():
    text = REGULATIONS.read_text(encoding="utf-8")
    norm = normalise(text)
    assert hashlib.sha256(norm.encode()).hexdigest() == BEFORE_NORMALISED
    toks = list(tokens(norm))
    assert hashlib.sha256(json.dumps(toks, ensure_ascii=False).encode()).hexdigest() == BEFORE_TOKENS
    assert normalise("觀自在菩薩，照見五蘊皆空。檔案 乾坤 後來") == "观自在菩萨,照见五蕴皆空。档案 干坤 后来"


def test_folding_needs_no_opencc_package():
    code = ("import sys; sys.modules['opencc'] = None\n"
            "from dangan.index.text_v1 import normalise\n"
            "print(normalise('檔案管理 觀自在'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "档案管理 观自在"


def test_the_vendored_table_ships_with_its_licence_and_notice():
    notice = (DATA / "NOTICE").read_text(encoding="utf-8")
    digest = hashlib.sha256((DATA / "TSCharacters.txt").read_bytes()).hexdigest()
    assert digest in notice and "OpenCC" in notice and "Apache" in notice
    assert "Apache License" in (DATA / "LICENSE-OpenCC.txt").read_text(encoding="utf-8")
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["dangan"]
    for name in ("TSCharacters.txt", "NOTICE", "LICENSE-OpenCC.txt"):
        assert any(fnmatch.fnmatch(f"index/data/{name}", p) for p in patterns), name


def test_the_table_as_python_is_the_vendored_file():
    from dangan.index import t2s_v1
    from dangan.index.text_v1 import _t2s_table
    table = t2s_v1.from_file()
    assert len(table) > 4000
    assert _t2s_table() == {k: ord(v) for k, v in table.items()}      # what normalise translates with
    assert t2s_v1._source() == (DATA.parent / "t2s_v1.py").read_text(encoding="utf-8")   # regenerated, unchanged
