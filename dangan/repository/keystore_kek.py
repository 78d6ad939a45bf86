"""The key-encryption key (KEK): derived from a passphrase or a key file, checked, held briefly.

Passphrase: Argon2id (``cryptography`` >= 44) with t=3, m=128 MiB, p=4 --
about half a second on the reference machine.  There is no silent fallback:
a build without Argon2id refuses to set a passphrase (keystores made with
scrypt by earlier versions still open).  Key file: HKDF-SHA256 of its
contents (at least 32 bytes).  The KDF name, salt and parameters are stored, so a
keystore opens with the parameters it was made with.  Every KDF output goes
through HKDF with the archive id, and a key check (HMAC-SHA256 under a
subkey, over a fixed label and the archive id) tells a wrong passphrase from
a damaged keystore.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import CryptoError, IntegrityError, UsageError

ARGON2_PARAMS = {"iterations": 3, "memory_kib": 128 * 1024, "lanes": 4}
KEYFILE_MIN, KEYFILE_MAX = 32, 1 << 20
SALT_SIZE = 16


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise IntegrityError(f"keystore is damaged: {what} is not base64") from None


def hkdf(ikm: bytes, info: bytes, salt: bytes = b"", length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def lp(*fields: str | bytes) -> bytes:
    """Length-prefixed (u32 BE) concatenation: an unambiguous encoding of ids."""
    out = b""
    for f in fields:
        raw = f.encode("utf-8") if isinstance(f, str) else f
        out += len(raw).to_bytes(4, "big") + raw
    return out


@lru_cache(maxsize=1)
def argon2_available() -> bool:
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        Argon2id(salt=b"\0" * 16, length=32, iterations=1, lanes=1, memory_cost=8).derive(b"probe")
        return True
    except (ImportError, UnsupportedAlgorithm):
        return False


class Kek:
    """An unlocked key-encryption key.  Hold it only as long as needed; ``wipe()`` or ``with`` drops it.

    (Python cannot promise the bytes leave memory -- copies made by the
    cryptography calls are out of reach -- but the Kek itself is zeroed.)
    """

    __slots__ = ("_key", "check")

    def __init__(self, key: bytes, check: bytes) -> None:
        self._key = bytearray(key)
        self.check = check

    def material(self) -> bytes:
        if not any(self._key):
            raise UsageError("this unlock key was dropped: unlock again")
        return bytes(self._key)

    def wipe(self) -> None:
        for i in range(len(self._key)):
            self._key[i] = 0

    def __enter__(self) -> "Kek":
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()

    def __repr__(self) -> str:
        return "<Kek (secret)>"

    def __reduce__(self):  # never pickled into a cache or a queue by accident
        raise TypeError("a Kek cannot be pickled")


def _check_value(kek: bytes, archive_id: str) -> bytes:
    return hmac.new(hkdf(kek, b"dangan-kek-check/1"), lp("dangan-kek-check/1", archive_id), hashlib.sha256).digest()


def wrap_key(kek: Kek) -> bytes:
    """The subkey that wraps volume private keys."""
    return hkdf(kek.material(), b"dangan-volume-wrap/1")


def _passphrase(passphrase: Any) -> bytes:
    if not isinstance(passphrase, (bytes, bytearray)) or not passphrase:
        raise UsageError("a passphrase must be non-empty bytes")
    return bytes(passphrase)


def _keyfile(keyfile: Path) -> bytes:
    try:
        with open(keyfile, "rb") as fh:
            data = fh.read(KEYFILE_MAX + 1)
    except OSError as exc:
        raise UsageError(f"cannot read key file {keyfile}: {exc.strerror}") from None
    if not KEYFILE_MIN <= len(data) <= KEYFILE_MAX:
        raise UsageError(f"key file {keyfile} must hold between 32 bytes and 1 MiB of random data")
    return data


def _bounded(params: dict[str, Any], limits: dict[str, int]) -> dict[str, int]:
    try:
        out = {k: int(params[k]) for k in limits}
    except (KeyError, TypeError, ValueError):
        raise IntegrityError("keystore is damaged: bad key-derivation parameters") from None
    if any(not 1 <= out[k] <= limits[k] for k in limits):
        raise IntegrityError("keystore is damaged: key-derivation parameters out of range")
    return out


def _derive(spec: dict[str, Any], secret: bytes, archive_id: str) -> bytes:
    salt = unb64(spec.get("salt"), "the KEK salt")
    kdf = spec.get("kdf")
    if kdf == "argon2id":
        if not argon2_available():
            raise CryptoError("this keystore's passphrase needs Argon2id, which this build of cryptography lacks")
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        p = _bounded(spec.get("params", {}), {"iterations": 64, "memory_kib": 4 << 20, "lanes": 64})
        raw = Argon2id(salt=salt, length=32, iterations=p["iterations"], lanes=p["lanes"],
                       memory_cost=p["memory_kib"]).derive(secret)
    elif kdf == "scrypt":
        p = _bounded(spec.get("params", {}), {"n": 1 << 24, "r": 64, "p": 64})
        raw = Scrypt(salt=salt, length=32, n=p["n"], r=p["r"], p=p["p"]).derive(secret)
    elif kdf == "hkdf-sha256":
        raw = hkdf(secret, b"dangan-kek/keyfile", salt=salt)
    else:
        raise IntegrityError(f"keystore is damaged: unknown key-derivation function {kdf!r}")
    return hkdf(raw, lp("dangan-kek/1", archive_id))


def new_spec(archive_id: str, *, passphrase: bytes | None, keyfile: Path | None) -> tuple[dict[str, Any], Kek]:
    """A fresh KEK: its stored description (KDF, salt, parameters, check) and the key."""
    if (passphrase is None) == (keyfile is None):
        raise UsageError("give exactly one of a passphrase or a key file")
    salt = secrets.token_bytes(SALT_SIZE)
    if passphrase is not None:
        secret = _passphrase(passphrase)
        if not argon2_available():
            raise CryptoError("this build of cryptography has no Argon2id, which protects keystore passphrases: "
                              "install cryptography>=44 (`pip install -U 'cryptography>=44'`)")
        spec = {"type": "passphrase", "kdf": "argon2id", "params": dict(ARGON2_PARAMS)}
    else:
        secret = _keyfile(keyfile)  # type: ignore[arg-type]
        spec = {"type": "keyfile", "kdf": "hkdf-sha256", "params": {}}
    spec["salt"] = b64(salt)
    key = _derive(spec, secret, archive_id)
    check = _check_value(key, archive_id)
    spec["check"] = b64(check)
    return spec, Kek(key, check)


def unlock(spec: dict[str, Any], archive_id: str, *, passphrase: bytes | None, keyfile: Path | None) -> Kek:
    if (passphrase is None) == (keyfile is None):
        raise UsageError("give exactly one of a passphrase or a key file")
    kind = spec.get("type")
    if kind == "passphrase" and passphrase is None:
        raise UsageError("this keystore is protected by a passphrase, not a key file")
    if kind == "keyfile" and keyfile is None:
        raise UsageError("this keystore is protected by a key file, not a passphrase")
    secret = _passphrase(passphrase) if passphrase is not None else _keyfile(keyfile)  # type: ignore[arg-type]
    key = _derive(spec, secret, archive_id)
    check = _check_value(key, archive_id)
    if not hmac.compare_digest(check, unb64(spec.get("check"), "the key check")):
        raise CryptoError("wrong passphrase" if kind == "passphrase" else "wrong key file")
    return Kek(key, check)


def require_current(kek: Any, spec: dict[str, Any]) -> Kek:
    if not isinstance(kek, Kek):
        raise UsageError("an unlocked key-encryption key (Kek) is needed")
    if not hmac.compare_digest(kek.check, unb64(spec.get("check"), "the key check")):
        raise CryptoError("this unlock key is not the keystore's current one (was the passphrase changed?): unlock again")
    return kek
