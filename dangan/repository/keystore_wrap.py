"""Wrapping keys: record keys to a volume's X25519 public key; volume private keys under the KEK.

Record key -- an age X25519 recipient stanza, with ids as associated data::

    ephemeral e, E = X25519 key pair (fresh per wrap)
    shared      = X25519(e, volume_public)          (all-zero result refused)
    wrap_key    = HKDF-SHA256(ikm=shared, salt=E || volume_public,
                              info=b"dangan-record-key/1")
    body        = ChaCha20-Poly1305(wrap_key, nonce=12 zero bytes, record_key,
                                    aad=lp("dangan-record-key/1", archive_id,
                                           volume_id, record_id))
    stored: {"ephemeral": b64(E), "wrapped_key": b64(body)}   (body = 32 + 16 bytes)

Differences from age: the HKDF label, and the AAD (age has none) that ties
the entry to its archive, volume and record, so moving an entry to another
record fails authentication.  The zero nonce is safe because every wrap key
is used once (fresh ephemeral key), as in age.

Volume private key -- under a subkey of the KEK::

    body = nonce (12 random bytes) ||
           ChaCha20-Poly1305(wrap_key(KEK), nonce, private_key,
                             aad=lp("dangan-volume-key/1", archive_id, volume_id,
                                    volume_public))

The public key in the AAD makes a substituted public key fail on the next
unlock, and unwrapping also checks that the private key derives the stored
public key.
"""
from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ..errors import CryptoError, IntegrityError, UsageError
from .keystore_kek import Kek, hkdf, lp, wrap_key

_RECORD = b"dangan-record-key/1"
_VOLUME = b"dangan-volume-key/1"


def new_key_pair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as (private, public) raw 32-byte strings."""
    priv = X25519PrivateKey.generate()
    return priv.private_bytes_raw(), priv.public_key().public_bytes_raw()


def public_of(private: bytes) -> bytes:
    if not isinstance(private, (bytes, bytearray)) or len(private) != 32:
        raise UsageError("a volume private key must be 32 bytes")
    return X25519PrivateKey.from_private_bytes(bytes(private)).public_key().public_bytes_raw()


def _shared(private: X25519PrivateKey, public: bytes) -> bytes:
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:
        raise IntegrityError("a key in the keystore is not a valid X25519 key") from None
    if not any(shared):
        raise IntegrityError("a key in the keystore is not a valid X25519 key (low-order point)")
    return shared


def wrap_record_key(record_key: bytes, volume_public: bytes, archive_id: str, volume_id: str,
                    record_id: str) -> tuple[bytes, bytes]:
    """(ephemeral public key, wrapped body) for one record key."""
    eph = X25519PrivateKey.generate()
    epk = eph.public_key().public_bytes_raw()
    key = hkdf(_shared(eph, volume_public), _RECORD, salt=epk + volume_public)
    body = ChaCha20Poly1305(key).encrypt(bytes(12), record_key, lp(_RECORD, archive_id, volume_id, record_id))
    return epk, body


def unwrap_record_key(epk: bytes, body: bytes, volume_private: bytes, archive_id: str, volume_id: str,
                      record_id: str) -> bytes:
    priv = X25519PrivateKey.from_private_bytes(bytes(volume_private))
    public = priv.public_key().public_bytes_raw()
    key = hkdf(_shared(priv, epk), _RECORD, salt=epk + public)
    try:
        out = ChaCha20Poly1305(key).decrypt(bytes(12), body, lp(_RECORD, archive_id, volume_id, record_id))
    except InvalidTag:
        raise IntegrityError(f"the wrapped key of record {record_id} fails authentication: "
                             "the keystore was damaged or tampered with") from None
    if len(out) != 32:
        raise IntegrityError(f"the wrapped key of record {record_id} has the wrong length")
    return out


def wrap_volume_private(private: bytes, public: bytes, kek: Kek, archive_id: str, volume_id: str) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + ChaCha20Poly1305(wrap_key(kek)).encrypt(nonce, private, lp(_VOLUME, archive_id, volume_id, public))


def unwrap_volume_private(blob: bytes, public: bytes, kek: Kek, archive_id: str, volume_id: str) -> bytes:
    try:
        private = ChaCha20Poly1305(wrap_key(kek)).decrypt(blob[:12], blob[12:],
                                                          lp(_VOLUME, archive_id, volume_id, public))
    except InvalidTag:
        raise IntegrityError(f"the wrapped private key of volume {volume_id} fails authentication: "
                             "the keystore was damaged or tampered with") from None
    if len(private) != 32 or public_of(private) != public:
        raise IntegrityError(f"the private key of volume {volume_id} does not match its public key: "
                             "the keystore was tampered with")
    return private


def require_pair(private: bytes, public: bytes, volume_id: str) -> None:
    if public_of(private) != public:
        raise CryptoError(f"this private key does not belong to volume {volume_id} "
                          "(was its key rotated? unlock the volume again)")
