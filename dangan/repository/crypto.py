"""Streaming authenticated encryption of one stored file (format ``dangan-enc/1``).

The payload follows age's STREAM construction (age-encryption.org/v1,
"Payload") exactly; the header replaces age's recipient stanzas with a salt,
because the record key is already unwrapped by the keystore.

Byte layout
===========

::

    offset  size  field
    0       13    magic       b"dangan-enc/1\\n"
    13      16    salt        random, fresh for every file
    29      16    key_id      HKDF-SHA256(ikm=record_key, salt=salt,
                                          info=b"dangan-key-id/1", L=16)
    45      32    header_mac  HMAC-SHA256(key=header_key, msg=bytes 0..44)
    77      ...   payload     STREAM chunks (below)

    HEADER_SIZE = 77; the empty plaintext encrypts to 77 + 16 = 93 bytes.

Keys::

    file_key    = HKDF-SHA256(ikm=record_key, salt=salt,
                              info=b"dangan-file/1" || encode(binding), L=32)
    header_key  = HKDF-SHA256(ikm=file_key, salt=b"", info=b"header",  L=32)
    payload_key = HKDF-SHA256(ikm=file_key, salt=b"", info=b"payload", L=32)

    encode(binding) = u32be(len(v)) || v      v = volume_id as UTF-8
                   || u32be(len(r)) || r      r = record_id as UTF-8
                   || u64be(version)
                   || u32be(len(p)) || p      p = logical_path as UTF-8

The binding is never stored: the reader supplies the binding it expects, so a
ciphertext moved to another record, version, volume or logical path derives
another file key and fails at the header MAC.  (The issue asks for these to be
"associated data"; putting them in the key derivation binds them the same way
and checks them once, before any chunk is read.  The format version is the
``dangan-file/1`` label and the magic.)

Payload (age STREAM)::

    plaintext split into chunks of CHUNK_SIZE = 65536 bytes; the last chunk
    may be shorter, and is empty only when the whole plaintext is empty.
    chunk i (i = 0, 1, ...) is stored as
        ChaCha20-Poly1305(payload_key, nonce_i, chunk_i, aad=b"")
        = ciphertext (len(chunk_i) bytes) || tag (16 bytes)
    nonce_i = u88be(i) || flag      flag = 0x01 on the last chunk, else 0x00

A plaintext of exactly k * 65536 bytes (k >= 1) is k full chunks, the k-th
carrying the last flag -- no empty trailing chunk, as in age.  A reader
therefore tries a full chunk that ends the stream as "last" and, if that
fails but it opens as "not last", reports truncation; a chunk that opens
only as "last" while more bytes follow reports appended data.  Chunk numbers
in messages count from 0.

Why authenticate the header (as age does with its HMAC)
-------------------------------------------------------
STREAM alone would already reject a wrong key or binding at chunk 0.  The
header MAC adds two things.  It commits to the file key: ChaCha20-Poly1305
is not key-committing, so without it a crafted ciphertext could open under
two different keys; HMAC-SHA256 over the header with a key derived from the
file key rules that out (the argument age makes).  And it gives clear
errors before any plaintext exists: ``key_id`` depends on the record key
only, so "wrong key" and "bound to another record" are told apart and both
are reported before chunk 0 is touched, also for empty files.  ``key_id`` is
a PRF output under a 256-bit random key and a fresh salt: it links nothing
across files and reveals nothing about the key.

Memory stays bounded whatever the file size: the writer holds one chunk of
plaintext look-ahead (to know which chunk is last) plus the ciphertext not
yet read (at most the caller's read size plus one chunk); the reader holds
one chunk plus one byte of look-ahead.  Plaintext is only ever in memory; this module writes
nothing to disk.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import struct
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import CryptoError, UsageError
from .copying import Hasher, ThreadedHash

FORMAT_VERSION = 1
CHUNK_SIZE = 64 * 1024
MAGIC = b"dangan-enc/1\n"
SALT_SIZE = 16
KEY_ID_SIZE = 16
MAC_SIZE = 32
TAG_SIZE = 16
KEY_SIZE = 32
HEADER_SIZE = len(MAGIC) + SALT_SIZE + KEY_ID_SIZE + MAC_SIZE  # 77
ENC_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
_MAX_CHUNKS = 1 << 88
_FILE_LABEL = b"dangan-file/1"
_KEY_ID_LABEL = b"dangan-key-id/1"


@dataclass(frozen=True)
class Binding:
    """Where a ciphertext belongs; bound into its file key, never stored."""

    volume_id: str
    record_id: str
    version: int
    logical_path: str

    def __post_init__(self) -> None:
        for name in ("volume_id", "record_id", "logical_path"):
            if not isinstance(getattr(self, name), str):
                raise UsageError(f"encryption binding: {name} must be a string")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or not 0 <= self.version < 1 << 64:
            raise UsageError("encryption binding: version must be a non-negative integer")

    def encode(self) -> bytes:
        """The canonical encoding used as HKDF info (see the module docstring)."""
        try:
            v, r, p = (s.encode("utf-8") for s in (self.volume_id, self.record_id, self.logical_path))
        except UnicodeEncodeError:
            raise UsageError("encryption binding: ids and path must be valid Unicode") from None
        return (struct.pack(">I", len(v)) + v + struct.pack(">I", len(r)) + r
                + struct.pack(">Q", self.version) + struct.pack(">I", len(p)) + p)


class DecryptionFailed(CryptoError):
    """A ciphertext did not open; ``reason`` and ``chunk`` say why and where.

    ``reason`` is one of ``not-encrypted``, ``wrong-key``, ``wrong-binding``,
    ``damaged``, ``truncated``, ``trailing-data``; ``chunk`` is the 0-based
    chunk number, or None for the header.
    """

    def __init__(self, message: str, reason: str, chunk: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.chunk = chunk


def new_key() -> bytes:
    """A fresh random 32-byte record key."""
    return secrets.token_bytes(KEY_SIZE)


def _hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = KEY_SIZE) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _check_key(record_key: bytes) -> bytes:
    if not isinstance(record_key, (bytes, bytearray, memoryview)) or len(record_key) != KEY_SIZE:
        raise UsageError("a record key must be 32 bytes")
    return bytes(record_key)


def _check_binding(binding: Binding) -> Binding:
    if not isinstance(binding, Binding):
        raise UsageError("encryption needs a Binding (volume, record, version, logical path)")
    return binding


class _Keys:
    """Keys of one file: derived from the record key, salt and binding."""

    def __init__(self, record_key: bytes, salt: bytes, binding: Binding) -> None:
        self.key_id = _hkdf(record_key, salt, _KEY_ID_LABEL, KEY_ID_SIZE)
        file_key = _hkdf(record_key, salt, _FILE_LABEL + binding.encode())
        self.header_key = _hkdf(file_key, b"", b"header")
        self.aead = ChaCha20Poly1305(_hkdf(file_key, b"", b"payload"))

    def mac(self, head: bytes) -> bytes:
        return hmac.new(self.header_key, head, hashlib.sha256).digest()


def _nonce(counter: int, last: bool) -> bytes:
    if counter >= _MAX_CHUNKS:
        raise CryptoError("file too large for the encryption format (chunk counter overflow)")
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _read_full(src: BinaryIO, n: int) -> bytes:
    """Read ``n`` bytes, fewer only at end of stream (pipes may return short reads)."""
    data = src.read(n)
    if data is None:
        raise UsageError("encryption needs a blocking source")
    if len(data) == n or not data:
        return bytes(data)
    parts = [data]
    got = len(data)
    while got < n:
        more = src.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


# -- encryption ---------------------------------------------------------------
class EncryptingReader:
    """A file-like object whose ``read`` returns the ciphertext of ``src``.

    Plaintext is read one chunk ahead; at most two chunks of plaintext and
    one of ciphertext are held.  ``plaintext_size`` and ``plaintext_sha512``
    become available once ``read`` has returned b"" (end of stream).
    """

    def __init__(self, src: BinaryIO, record_key: bytes, binding: Binding, *, digest: str = "sha512") -> None:
        key = _check_key(record_key)
        if digest not in ("sha512", "sha256"):
            raise UsageError(f"unsupported plaintext digest {digest!r}")
        self.digest_algorithm = digest
        _check_binding(binding)
        self._src = src
        salt = secrets.token_bytes(SALT_SIZE)
        self._keys = _Keys(key, salt, binding)
        head = MAGIC + salt + self._keys.key_id
        self._out: deque[memoryview] = deque()  # ciphertext not yet read
        self._out_len = 0
        self._emit(head + self._keys.mac(head))
        self._hash: Hasher = hashlib.new(digest)
        self._size = 0
        self._counter = 0
        self._next = self._pull()
        self._done = False  # the last chunk is encrypted
        self._eof = False   # ... and all its ciphertext has been read

    def _pull(self) -> bytes:
        chunk = _read_full(self._src, CHUNK_SIZE)
        if self._size == CHUNK_SIZE and len(chunk):
            self._hash = ThreadedHash(self._hash)   # a large file: hash on another core
        self._hash.update(chunk)
        self._size += len(chunk)
        return chunk

    def _produce(self) -> None:
        chunk = self._next
        following = self._pull() if len(chunk) == CHUNK_SIZE else b""
        last = not following
        self._emit(self._keys.aead.encrypt(_nonce(self._counter, last), chunk, None))
        self._counter += 1
        self._next = following
        self._done = last

    def _emit(self, data: bytes) -> None:
        self._out.append(memoryview(data))
        self._out_len += len(data)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            while not self._done:
                self._produce()
            n = self._out_len
        while self._out_len < n and not self._done:
            self._produce()
        parts = []
        want = min(n, self._out_len)
        self._out_len -= want
        while want:
            head = self._out[0]
            if len(head) <= want:
                parts.append(head)
                self._out.popleft()
                want -= len(head)
            else:
                parts.append(head[:want])
                self._out[0] = head[want:]
                want = 0
        if self._done and not self._out_len:
            self._eof = True
        return parts[0].tobytes() if len(parts) == 1 else b"".join(parts)

    def readable(self) -> bool:
        return True

    def iter_chunks(self) -> Iterator[bytes]:
        """The ciphertext as whole pieces (header, then each encrypted chunk), without re-slicing
        into ``read`` sizes — for a caller that writes and hashes pieces as they come.  Do not mix
        with ``read``."""
        while self._out:
            yield self._out.popleft().tobytes()
        self._out_len = 0
        while not self._done:
            chunk = self._next
            following = self._pull() if len(chunk) == CHUNK_SIZE else b""
            last = not following
            yield self._keys.aead.encrypt(_nonce(self._counter, last), chunk, None)
            self._counter += 1
            self._next = following
            self._done = last
        self._eof = True

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(ENC_CHUNK_SIZE):
            yield chunk

    def _require_eof(self, what: str) -> None:
        if not self._eof:
            raise UsageError(f"{what} is known only after the whole ciphertext has been read")

    @property
    def plaintext_size(self) -> int:
        self._require_eof("the plaintext size")
        return self._size

    @property
    def plaintext_digest(self) -> str:
        """Hex digest of the plaintext with ``digest_algorithm`` (after EOF)."""
        self._require_eof("the plaintext digest")
        return self._hash.hexdigest()

    @property
    def plaintext_sha512(self) -> str:
        if self.digest_algorithm != "sha512":
            raise UsageError(f"this reader hashes the plaintext with {self.digest_algorithm}")
        return self.plaintext_digest


def encrypt_stream(src: BinaryIO, record_key: bytes, binding: Binding, *, digest: str = "sha512") -> EncryptingReader:
    """Encrypt ``src`` lazily: read the returned object like a file of ciphertext.

    ``digest`` names the hash kept of the plaintext (``sha512`` or ``sha256``);
    the archive uses sha256, which this machine computes with SHA-NI at ~2x
    the speed of sha512 — the ciphertext is hashed again with sha512 for OCFL.
    """
    return EncryptingReader(src, record_key, binding, digest=digest)


def encrypt_bytes(data: bytes, record_key: bytes, binding: Binding) -> bytes:
    return encrypt_stream(io.BytesIO(data), record_key, binding).read()


# -- decryption ---------------------------------------------------------------
class _Source:
    """Exact-size reads over a binary file or an iterable of byte strings."""

    def __init__(self, chunks: Iterable[bytes] | BinaryIO) -> None:
        if isinstance(chunks, (bytes, bytearray, memoryview)):
            chunks = [bytes(chunks)]
        self._fh: BinaryIO | None = cast(BinaryIO, chunks) if hasattr(chunks, "read") else None
        self._it: Iterator[bytes] = iter(()) if self._fh is not None else iter(chunks)
        self._piece = memoryview(b"")  # the unread rest of the current piece

    def read(self, n: int) -> bytes:
        if self._fh is not None:
            return _read_full(self._fh, n)
        parts = []
        want = n
        while want:
            if not self._piece:
                piece = next(self._it, None)
                if piece is None:
                    break
                self._piece = memoryview(piece).cast("B")
                continue
            take = self._piece[:want]
            parts.append(take)
            self._piece = self._piece[len(take):]
            want -= len(take)
        return parts[0].tobytes() if len(parts) == 1 else b"".join(parts)


def decrypt_stream(chunks: Iterable[bytes] | BinaryIO, record_key: bytes, binding: Binding) -> Iterator[bytes]:
    """Yield the plaintext chunk by chunk, each authenticated before it is yielded.

    Raises :class:`DecryptionFailed` (a ``CryptoError``) on a wrong key or
    binding, a damaged, reordered or duplicated chunk, truncation, or data
    after the last chunk.  Chunks yielded before the error are authentic, but
    the file as a whole is not: a caller writing plaintext must delete it if
    the iteration does not finish.
    """
    key = _check_key(record_key)
    _check_binding(binding)
    return _decrypt(_Source(chunks), key, binding)


def _decrypt(src: _Source, record_key: bytes, binding: Binding) -> Iterator[bytes]:
    what = f"ciphertext of {binding.logical_path}"

    def fail(reason: str, chunk: int | None, message: str) -> DecryptionFailed:
        return DecryptionFailed(message, reason, chunk)

    head = src.read(HEADER_SIZE)
    if not head.startswith(MAGIC[: len(head)]) or not head:
        raise fail("not-encrypted", None, f"{binding.logical_path} is not a dangan encrypted file")
    if len(head) < HEADER_SIZE:
        raise fail("truncated", None, f"{what} is truncated (the header is incomplete)")
    salt = head[len(MAGIC): len(MAGIC) + SALT_SIZE]
    keys = _Keys(record_key, salt, binding)
    key_id = head[len(MAGIC) + SALT_SIZE: HEADER_SIZE - MAC_SIZE]
    if not hmac.compare_digest(keys.key_id, key_id):
        raise fail("wrong-key", None, f"{what} does not open with this record key (wrong key, or a damaged header)")
    if not hmac.compare_digest(keys.mac(head[:-MAC_SIZE]), head[-MAC_SIZE:]):
        raise fail("wrong-binding", None, f"{what} is bound to another record, volume, version or path "
                                          "(or its header is damaged)")

    def opens(counter: int, data: bytes, last: bool) -> bytes | None:
        try:
            return keys.aead.decrypt(_nonce(counter, last), data, None)
        except InvalidTag:
            return None

    counter = 0
    carry = b""
    while True:
        data = carry + src.read(ENC_CHUNK_SIZE + 1 - len(carry))
        more = len(data) > ENC_CHUNK_SIZE
        if more:
            data, carry = data[:ENC_CHUNK_SIZE], data[ENC_CHUNK_SIZE:]
        if len(data) < TAG_SIZE:
            raise fail("truncated", counter, f"{what} is truncated (chunk {counter} is missing or incomplete)")
        if more:
            plain = opens(counter, data, last=False)
            if plain is None:
                if opens(counter, data, last=True) is not None:
                    raise fail("trailing-data", counter, f"{what} is damaged or was tampered with "
                                                         f"(data after the last chunk, chunk {counter})")
                raise fail("damaged", counter, f"{what} is damaged or was tampered with (chunk {counter})")
        else:
            plain = opens(counter, data, last=True)
            if plain is None:
                if len(data) == ENC_CHUNK_SIZE and opens(counter, data, last=False) is not None:
                    raise fail("truncated", counter + 1,
                               f"{what} is truncated (the file ends after chunk {counter}; the last chunk is missing)")
                raise fail("damaged", counter, f"{what} is damaged or was tampered with "
                                               f"(chunk {counter}, or the file is truncated there)")
            if not plain and counter > 0:
                raise fail("damaged", counter, f"{what} is damaged or was tampered with "
                                               f"(chunk {counter} is an empty last chunk)")
        yield plain
        if not more:
            return
        counter += 1


def decrypt_bytes(blob: bytes, record_key: bytes, binding: Binding) -> bytes:
    return b"".join(decrypt_stream([blob], record_key, binding))
