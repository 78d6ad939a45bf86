"""The dangan-enc/1 streaming format: round trips, tampering, bounded memory."""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from dangan.errors import CryptoError, UsageError
from conftest import REPO
from dangan.repository.crypto import (
    CHUNK_SIZE,
    ENC_CHUNK_SIZE,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    TAG_SIZE,
    Binding,
    DecryptionFailed,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    encrypt_stream,
    new_key,
)

KEY = bytes(range(32))
B = Binding("vol-1", "rec-1", 1, "content-1")
SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 5]


def data_of(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def expected_len(n: int) -> int:
    return HEADER_SIZE + n + TAG_SIZE * max(1, -(-n // CHUNK_SIZE))


def chunk_offsets(blob: bytes) -> list[tuple[int, int]]:
    out, off = [], HEADER_SIZE
    while off < len(blob):
        out.append((off, min(off + ENC_CHUNK_SIZE, len(blob))))
        off += ENC_CHUNK_SIZE
    return out


def run_decrypt(blob: bytes, key: bytes = KEY, binding: Binding = B) -> tuple[bytes, DecryptionFailed]:
    """Plaintext yielded before the failure, and the failure."""
    got = []
    with pytest.raises(DecryptionFailed) as ei:
        for chunk in decrypt_stream([blob], key, binding):
            got.append(chunk)
    assert isinstance(ei.value, CryptoError)
    return b"".join(got), ei.value


class Trickle(io.RawIOBase):
    """A source that returns at most ``step`` bytes per read, like a pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self._f = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._f.read(self._step if n < 0 else min(n, self._step))


# -- round trips --------------------------------------------------------------
@pytest.mark.parametrize("n", SIZES)
def test_round_trip(n: int) -> None:
    data = data_of(n)
    reader = encrypt_stream(io.BytesIO(data), KEY, B)
    blob = reader.read()
    assert len(blob) == expected_len(n)
    assert blob.startswith(MAGIC) and FORMAT_VERSION == 1
    assert reader.plaintext_size == n
    assert reader.plaintext_sha512 == hashlib.sha512(data).hexdigest()
    assert decrypt_bytes(blob, KEY, B) == data
    assert b"".join(decrypt_stream(io.BytesIO(blob), KEY, B)) == data
    pieces = [blob[i:i + 777] for i in range(0, len(blob), 777)]
    assert b"".join(decrypt_stream(iter(pieces), KEY, B)) == data
    assert encrypt_bytes(data, KEY, B) != blob  # fresh salt every time


def test_chunks_are_yielded_one_by_one() -> None:
    data = data_of(2 * CHUNK_SIZE + 3)
    chunks = list(decrypt_stream([encrypt_bytes(data, KEY, B)], KEY, B))
    assert [len(c) for c in chunks] == [CHUNK_SIZE, CHUNK_SIZE, 3]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 4 * CHUNK_SIZE + 10), seed=st.integers(0, 2**32), read=st.integers(1, 3 * ENC_CHUNK_SIZE),
       src_step=st.integers(1, 2 * CHUNK_SIZE), piece=st.integers(1, 2 * ENC_CHUNK_SIZE))
def test_round_trip_random(n: int, seed: int, read: int, src_step: int, piece: int) -> None:
    data = data_of(n, seed)
    reader = encrypt_stream(Trickle(data, src_step), KEY, B)
    parts = []
    while part := reader.read(read):
        assert len(part) <= read
        parts.append(part)
    blob = b"".join(parts)
    assert len(blob) == expected_len(n)
    assert reader.plaintext_size == n and reader.plaintext_sha512 == hashlib.sha512(data).hexdigest()
    assert b"".join(decrypt_stream((blob[i:i + piece] for i in range(0, len(blob), piece)), KEY, B)) == data
    assert b"".join(decrypt_stream(Trickle(blob, piece), KEY, B)) == data


def test_digest_only_after_end() -> None:
    reader = encrypt_stream(io.BytesIO(b"abc" * 100_000), KEY, B)
    reader.read(10)
    with pytest.raises(UsageError):
        reader.plaintext_size
    with pytest.raises(UsageError):
        reader.plaintext_sha512
    assert b"".join(iter(reader))
    assert reader.plaintext_size == 300_000


def test_no_plaintext_in_ciphertext() -> None:
    marker = "机密标记 SECRET-MARKER-42".encode("utf-8")
    blob = encrypt_bytes(marker * 5000, KEY, B)
    assert marker not in blob and b"SECRET-MARKER" not in blob


def test_format_matches_the_documented_spec() -> None:
    """An independent decryption written from the module docstring."""
    data = data_of(CHUNK_SIZE * 2 + 9, 7)
    blob = encrypt_bytes(data, KEY, B)

    def hkdf(ikm: bytes, salt: bytes, info: bytes, n: int = 32) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(ikm)

    magic, salt, key_id, mac = blob[:13], blob[13:29], blob[29:45], blob[45:77]
    assert magic == b"dangan-enc/1\n"
    assert key_id == hkdf(KEY, salt, b"dangan-key-id/1", 16)

    def lp(s: str) -> bytes:
        return len(s.encode()).to_bytes(4, "big") + s.encode()

    info = b"dangan-file/1" + lp(B.volume_id) + lp(B.record_id) + B.version.to_bytes(8, "big") + lp(B.logical_path)
    file_key = hkdf(KEY, salt, info)
    assert mac == hmac.new(hkdf(file_key, b"", b"header"), blob[:45], hashlib.sha256).digest()
    aead = ChaCha20Poly1305(hkdf(file_key, b"", b"payload"))
    spans = chunk_offsets(blob)
    out = b"".join(
        aead.decrypt(i.to_bytes(11, "big") + (b"\x01" if i == len(spans) - 1 else b"\x00"), blob[a:b], b"")
        for i, (a, b) in enumerate(spans))
    assert out == data


# -- tampering ----------------------------------------------------------------
THREE = data_of(3 * CHUNK_SIZE - 100, 3)
THREE_BLOB = encrypt_bytes(THREE, KEY, B)


def flip(blob: bytes, pos: int, bit: int = 0) -> bytes:
    b = bytearray(blob)
    b[pos] ^= 1 << bit
    return bytes(b)


@pytest.mark.parametrize("pos,reason", [(0, "not-encrypted"), (12, "not-encrypted"), (13, "wrong-key"),
                                         (28, "wrong-key"), (29, "wrong-key"), (44, "wrong-key"),
                                         (45, "wrong-binding"), (76, "wrong-binding")])
def test_flipped_bit_in_header(pos: int, reason: str) -> None:
    got, err = run_decrypt(flip(THREE_BLOB, pos))
    assert got == b"" and err.reason == reason and err.chunk is None


@pytest.mark.parametrize("chunk", [0, 1, 2])
@pytest.mark.parametrize("where", ["first", "middle", "tag"])
def test_flipped_bit_in_chunk(chunk: int, where: str) -> None:
    start, end = chunk_offsets(THREE_BLOB)[chunk]
    pos = {"first": start, "middle": (start + end) // 2, "tag": end - 1}[where]
    got, err = run_decrypt(flip(THREE_BLOB, pos, 5))
    assert err.reason == "damaged" and err.chunk == chunk
    assert f"ciphertext of content-1 is damaged or was tampered with (chunk {chunk}" in err.message
    assert got == THREE[: chunk * CHUNK_SIZE]


def test_truncation_at_every_chunk_boundary() -> None:
    spans = chunk_offsets(THREE_BLOB)
    for k, (start, _) in enumerate(spans):
        got, err = run_decrypt(THREE_BLOB[:start])
        assert err.reason == "truncated", k
        assert "truncated" in err.message
        assert got == THREE[: max(0, k - 1) * CHUNK_SIZE]  # chunk k-1 cannot be told last until EOF is seen


def test_truncation_mid_chunk_and_mid_header() -> None:
    for cut in (HEADER_SIZE + 5, HEADER_SIZE + ENC_CHUNK_SIZE + 100, len(THREE_BLOB) - 1):
        got, err = run_decrypt(THREE_BLOB[:cut])
        assert err.reason in ("damaged", "truncated") and "truncated" in err.message
        assert len(got) % CHUNK_SIZE == 0 and THREE.startswith(got)
    got, err = run_decrypt(THREE_BLOB[:40])
    assert err.reason == "truncated" and "header" in err.message and got == b""
    _, err = run_decrypt(b"")
    assert err.reason == "not-encrypted" and "not a dangan encrypted file" in err.message


def test_truncated_exact_multiple_of_chunk() -> None:
    data = data_of(2 * CHUNK_SIZE)
    blob = encrypt_bytes(data, KEY, B)
    got, err = run_decrypt(blob[:HEADER_SIZE + ENC_CHUNK_SIZE])
    assert err.reason == "truncated" and got == b""


@pytest.mark.parametrize("extra", [b"x", b"\x00" * TAG_SIZE, b"y" * ENC_CHUNK_SIZE])
def test_appended_data(extra: bytes) -> None:
    got, err = run_decrypt(THREE_BLOB + extra)
    assert err.chunk == 2 and got == THREE[: 2 * CHUNK_SIZE]
    assert "damaged or was tampered with" in err.message


def test_appended_after_full_last_chunk() -> None:
    data = data_of(2 * CHUNK_SIZE)
    blob = encrypt_bytes(data, KEY, B)
    got, err = run_decrypt(blob + b"!")
    assert err.reason == "trailing-data" and "after the last chunk" in err.message and got == data[:CHUNK_SIZE]


def test_appended_copy_of_whole_file() -> None:
    small = encrypt_bytes(b"hello", KEY, B)
    _, err = run_decrypt(small + small)
    assert err.reason == "damaged" and err.chunk == 0


def test_reordered_and_duplicated_chunks() -> None:
    (a0, b0), (a1, b1), (a2, b2) = chunk_offsets(THREE_BLOB)
    head, c0, c1, c2 = THREE_BLOB[:a0], THREE_BLOB[a0:b0], THREE_BLOB[a1:b1], THREE_BLOB[a2:b2]
    got, err = run_decrypt(head + c1 + c0 + c2)
    assert err.chunk == 0 and got == b""
    got, err = run_decrypt(head + c0 + c0 + c1 + c2)
    assert err.chunk == 1 and got == THREE[:CHUNK_SIZE]
    got, err = run_decrypt(head + c0 + c1 + c1 + c2)
    assert err.chunk == 2 and got == THREE[: 2 * CHUNK_SIZE]
    got, err = run_decrypt(head + c0 + c2)  # a chunk dropped from the middle
    assert err.chunk == 1 and got == THREE[:CHUNK_SIZE]


def test_empty_last_chunk_is_refused() -> None:
    """Exactly as age: a full last chunk carries the flag; an extra empty one is not accepted."""
    from dangan.repository import crypto

    data = data_of(CHUNK_SIZE)
    blob = encrypt_bytes(data, KEY, B)
    keys = crypto._Keys(KEY, blob[13:29], B)
    forged = (blob[:HEADER_SIZE] + keys.aead.encrypt(crypto._nonce(0, False), data, None)
              + keys.aead.encrypt(crypto._nonce(1, True), b"", None))
    got, err = run_decrypt(forged)
    assert err.reason == "damaged" and err.chunk == 1 and "empty last chunk" in err.message
    assert got == data  # chunk 0 is authentic; the caller discards it on the error


def test_wrong_key() -> None:
    got, err = run_decrypt(THREE_BLOB, key=new_key())
    assert got == b"" and err.reason == "wrong-key" and "wrong key" in err.message


@pytest.mark.parametrize("other", [Binding("vol-1", "rec-2", 1, "content-1"), Binding("vol-1", "rec-1", 2, "content-1"),
                                   Binding("vol-2", "rec-1", 1, "content-1"), Binding("vol-1", "rec-1", 1, "content-2"),
                                   Binding("vol-1rec-1", "", 1, "content-1")])
def test_wrong_binding(other: Binding) -> None:
    got, err = run_decrypt(THREE_BLOB, binding=other)
    assert got == b"" and err.reason == "wrong-binding" and "bound to another record" in err.message
    small = encrypt_bytes(b"", KEY, B)
    assert run_decrypt(small, binding=other)[1].reason == "wrong-binding"


def test_ciphertexts_swapped_between_records() -> None:
    b2 = Binding("vol-1", "rec-2", 1, "content-1")
    one, two = encrypt_bytes(b"one", KEY, B), encrypt_bytes(b"two", KEY, b2)
    assert run_decrypt(two, binding=B)[1].reason == "wrong-binding"
    assert run_decrypt(one, binding=b2)[1].reason == "wrong-binding"


def test_not_a_dangan_file() -> None:
    _, err = run_decrypt(b"%PDF-1.7\n" + b"x" * 200)
    assert err.reason == "not-encrypted"


def test_bad_arguments() -> None:
    with pytest.raises(UsageError):
        Binding("v", "r", -1, "p")
    with pytest.raises(UsageError):
        Binding("v", "r", True, "p")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        encrypt_bytes(b"x", b"short", B)
    with pytest.raises(UsageError):
        decrypt_bytes(b"x", KEY, ("v", "r", 1, "p"))  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        encrypt_bytes(b"x", KEY, Binding("v", "r", 1, "\udcff"))
    assert len(new_key()) == 32 and new_key() != new_key()


# -- bounded memory -----------------------------------------------------------
MEMORY_SCRIPT = textwrap.dedent("""
    import hashlib, json, resource, sys
    from dangan.repository.crypto import Binding, decrypt_stream, encrypt_stream
    src, dst = sys.argv[1], sys.argv[2]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    key, b = bytes(32), Binding("v", "r", 1, "content-1")
    with open(src, "rb") as fh, open(dst, "wb") as out:
        reader = encrypt_stream(fh, key, b)
        while block := reader.read(1 << 20):
            out.write(block)
    h = hashlib.sha512()
    n = 0
    with open(dst, "rb") as fh:
        for chunk in decrypt_stream(fh, key, b):
            h.update(chunk)
            n += len(chunk)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"base_kib": base, "peak_kib": peak, "size": n, "sha512": h.hexdigest(),
                      "enc_size": reader.plaintext_size, "enc_sha512": reader.plaintext_sha512}))
""")


def sparse_file(path: Path, size: int) -> str:
    """A sparse file with a few marked pages; returns its sha512."""
    marks = [0, CHUNK_SIZE - 3, size // 3, size // 2 + 12345, size - 7]
    with open(path, "wb") as fh:
        fh.truncate(size)
        for m in marks:
            fh.seek(m)
            fh.write(b"MARK" [: size - m])
    h = hashlib.sha512()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def round_trip_in_subprocess(tmp_path: Path, size: int) -> None:
    src, dst = tmp_path / "plain.bin", tmp_path / "cipher.bin"
    digest = sparse_file(src, size)
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(src), str(dst)], capture_output=True, text=True,
                         check=True, cwd=REPO)
    res = json.loads(out.stdout)
    assert res["size"] == res["enc_size"] == size
    assert res["sha512"] == res["enc_sha512"] == digest
    assert dst.stat().st_size == expected_len(size)
    growth_mib = (res["peak_kib"] - res["base_kib"]) / 1024
    assert growth_mib < 24, f"peak RSS grew by {growth_mib:.1f} MiB during a {size >> 20} MiB round trip"


def test_200_mb_round_trip_in_bounded_memory(tmp_path: Path) -> None:
    round_trip_in_subprocess(tmp_path, 200 * 1000 * 1000 + 3)


@pytest.mark.slow
def test_3_gib_sparse_round_trip_in_bounded_memory(tmp_path: Path) -> None:
    round_trip_in_subprocess(tmp_path, 3 * 1024**3 + 1)
