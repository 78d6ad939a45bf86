"""Digest algorithms the validator knows, their value formats, and streaming
computation of several digests of one file in a single read."""
from __future__ import annotations

import hashlib
import os
import re
import zlib
from typing import Iterable

CHUNK = 1024 * 1024

#: Algorithms allowed for content addressing (``digestAlgorithm``).
CONTENT_ALGORITHMS = ("sha512", "sha256")

#: Value patterns of every algorithm allowed in a fixity block: the OCFL 1.1
#: controlled vocabulary plus those of extension 0001-digest-algorithms.
_HEX = {
    "md5": 32,
    "sha1": 40,
    "sha256": 64,
    "sha512": 128,
    "blake2b-512": 128,
    "blake2b-160": 40,
    "blake2b-256": 64,
    "blake2b-384": 96,
    "sha512/256": 64,
    "crc32": 8,
}
FORMATS: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"[0-9a-fA-F]{{{n}}}") for name, n in _HEX.items()
}
FORMATS["size"] = re.compile(r"[0-9]+")

KNOWN_ALGORITHMS = frozenset(FORMATS)


def well_formed(algorithm: str, value: object) -> bool:
    pattern = FORMATS.get(algorithm)
    return isinstance(value, str) and pattern is not None and pattern.fullmatch(value) is not None


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | memoryview) -> None:
        self.value = zlib.crc32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


class _Size:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | memoryview) -> None:
        self.value += len(data)

    def hexdigest(self) -> str:
        return str(self.value)


def _hasher(algorithm: str):  # noqa: ANN202 - hashlib objects have no public common type
    if algorithm == "crc32":
        return _Crc32()
    if algorithm == "size":
        return _Size()
    if algorithm.startswith("blake2b-"):
        return hashlib.blake2b(digest_size=int(algorithm[8:]) // 8)
    if algorithm == "sha512/256":
        return hashlib.new("sha512_256")
    return hashlib.new(algorithm)


def file_digests(path: str | os.PathLike[str], algorithms: Iterable[str]) -> dict[str, str]:
    """Digests (lower-case hex; decimal for ``size``) of one file, read once in
    1 MiB chunks whatever the number of algorithms."""
    hashers = {a: _hasher(a) for a in algorithms}
    with open(path, "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= CHUNK:  # the common case: one read, no buffer to allocate
            data = fh.read()
            while True:  # a file that grew under us is still read to its end
                for h in hashers.values():
                    h.update(data)
                data = fh.read(CHUNK)
                if not data:
                    break
        else:
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while n := fh.readinto(buf):
                chunk = view[:n]
                for h in hashers.values():
                    h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


def bytes_digest(algorithm: str, data: bytes) -> str:
    h = _hasher(algorithm)
    h.update(data)
    return h.hexdigest()
