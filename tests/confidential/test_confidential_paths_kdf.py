"""Keystore passphrases are always protected by Argon2id: cryptography>=44 is required and a build
without Argon2id is an explicit error, never a silent scrypt fallback (issue 11.17)."""
from __future__ import annotations

import json
import tomllib

from packaging.requirements import Requirement
from packaging.version import Version

from dangan.repository import keystore_kek
from conftest import REPO  # noqa: E402

ROOT = REPO


def test_the_project_requires_a_cryptography_with_argon2id():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if Requirement(d).name == "cryptography"]
    assert not req.specifier.contains(Version("43.0.3")) and req.specifier.contains(Version("44.0.0"))
    import cryptography
    assert Version(cryptography.__version__) >= Version("44") and keystore_kek.argon2_available()


def test_a_new_volume_keystore_uses_argon2id(cli, archive_root, monkeypatch, tmp_path):
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    cli("volume", "create", "V", "--secrecy", "secret")
    (store,) = list((tmp_path / "home").rglob("keystores/*.json"))
    assert json.loads(store.read_bytes())["kek"]["kdf"] == "argon2id"


def test_a_build_without_argon2id_refuses_instead_of_falling_back(cli, archive_root, monkeypatch, tmp_path):
    """Simulates cryptography 42-43 (no Argon2id): the volume and its keystore are not made with scrypt."""
    monkeypatch.setattr(keystore_kek, "argon2_available", lambda: False)
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    r = cli("volume", "create", "V", "--secrecy", "secret", ok=False)
    assert r.exit_code == 12 and "Argon2id" in r.output and "cryptography>=44" in r.output
    assert "Traceback" not in r.output
    assert list((tmp_path / "home").rglob("keystores/*.json")) == []
    assert cli("volume", "list", "--json").output.strip() == ""
