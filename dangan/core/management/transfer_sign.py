"""The signature block (电子签名块) of a transfer package's DA/T 48 metadata.xml, and its check on import.

DA/T 48-2009 signs the 被签名对象 (the signed object: the package type, its creation, and the whole
封装内容 — fields, archival code, fixity of every file, the event history).  dangan writes one
电子签名 per metadata.xml:

* 签名规则: the digest is SHA-256 over the C14N 2.0 form (whitespace-only text stripped) of 被签名对象;
* 摘要: that digest; 签名时间; 签名人 (the user who exported, and the organisation);
* where the archive has a key, 签名结果: an Ed25519 signature of the digest, 证书: the public key, and
  证书引证: its fingerprint (also in bag-info.txt as ``Transfer-Signing-Key`` and on the hand-over
  register, so the receiving side compares it with the one printed on the signed paper).

The key is the archive's: the Ed25519 key is derived from its audit key (``audit_anchor``: the HMAC
key that seals the trail's head, kept outside the archive), so there is no second secret to keep; an
archive without an audit key writes the digest alone (``签名结果`` absent), which detects a changed
file but not a forger who recomputes the digest — ``import-bag --require-signature`` refuses such a
package, and ``--signer-key FINGERPRINT`` refuses one signed by another key.

``verify`` refuses (UsageError naming the file) a package whose 被签名对象 no longer matches its
digest, or whose signature does not verify under the key it names.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from dangan.errors import UsageError

if TYPE_CHECKING:
    from dangan.core.archive import Archive

NS = "urn:dangan:da-t-48"
ALGORITHM = "Ed25519"
RULE = "C14N 2.0 (strip_text) of 被签名对象; SHA-256 digest (hex); Ed25519 signature of the digest's UTF-8 bytes"
_DERIVATION = b"dangan-transfer-signing/1"


def signing_key(archive: Archive):
    """The archive's Ed25519 signing key (derived from its audit key), or None where it has no audit key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from dangan.core.catalogue.audit_anchor import load_key
    key = load_key(archive)
    if not key:
        return None
    return Ed25519PrivateKey.from_private_bytes(hmac.new(key, _DERIVATION, hashlib.sha256).digest())


def public_bytes(private) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(public: bytes) -> str:
    """The key's fingerprint as people compare it: 32 hex digits in groups of four."""
    h = hashlib.sha256(b"dangan-transfer-key|" + public).hexdigest()[:32]
    return "-".join(h[i:i + 4] for i in range(0, 32, 4))


def key_fingerprint(archive: Archive) -> str | None:
    private = signing_key(archive)
    return fingerprint(public_bytes(private)) if private is not None else None


def signed_digest(root: ET.Element, where: str) -> str:
    """SHA-256 (hex) of the C14N 2.0 form of the package's 被签名对象."""
    signed = root.find("e:被签名对象", {"e": NS})
    if signed is None:
        raise UsageError(f"{where}: no 被签名对象 in this package")
    text = ET.canonicalize(xml_data=ET.tostring(signed, encoding="unicode"), strip_text=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text not in (None, ""):
        el.text = str(text)
    return el


def sign(xml: bytes, *, private, signer: str, organisation: str, time: str) -> bytes:
    """``xml`` (a metadata.xml without signature) with its 电子签名块 appended inside the root element."""
    digest = signed_digest(ET.fromstring(xml), "metadata.xml")
    block = ET.Element("电子签名块")
    sig = _sub(block, "电子签名", 签名标识符="sig-1")
    _sub(sig, "签名规则", RULE)
    _sub(sig, "签名时间", time)
    _sub(sig, "签名人", f"{signer} ({organisation})")
    _sub(sig, "摘要", digest, 摘要算法="sha256")
    if private is not None:
        pub = public_bytes(private)
        _sub(sig, "签名结果", base64.b64encode(private.sign(digest.encode("ascii"))).decode("ascii"))
        certs = _sub(sig, "证书块")
        _sub(certs, "证书", base64.b64encode(pub).decode("ascii"), 类型="Ed25519 public key (raw, base64)")
        _sub(certs, "证书引证", fingerprint(pub))
        _sub(sig, "签名算法标识", ALGORITHM)
    else:
        _sub(sig, "签名算法标识", "none (digest only: the archive has no key)")
    ET.indent(block, space=" ", level=1)
    piece = b" " + ET.tostring(block, encoding="utf-8") + b"\n"
    end = "</电子文件封装包>".encode("utf-8")
    if not xml.rstrip().endswith(end):
        raise UsageError("metadata.xml does not end with its root element")
    head = xml.rstrip()[: -len(end)]
    return head + piece + end + b"\n"


def verify(root: ET.Element, where: str, *, require_signature: bool = False,
           signer_key: str | None = None) -> dict[str, Any]:
    """Check the package's signature block; returns ``{signed, signer, time, key}`` (key: the fingerprint, or
    None for a digest-only or unsigned package).  Refuses a changed or falsely signed package."""
    sig = root.find("e:电子签名块/e:电子签名", {"e": NS})
    if sig is None:
        if require_signature or signer_key:
            raise UsageError(f"{where}: the package carries no 电子签名块 (signature), nothing imported")
        return {"signed": False, "signer": None, "time": None, "key": None}

    def text(path: str) -> str | None:
        el = sig.find(path, {"e": NS})
        return el.text.strip() if el is not None and el.text else None

    digest = signed_digest(root, where)
    if not hmac.compare_digest(digest, text("e:摘要") or ""):
        raise UsageError(f"{where}: the package was changed after it was signed (the 摘要 of its 被签名对象 does "
                         "not match): nothing imported")
    result, cert = text("e:签名结果"), text("e:证书块/e:证书")
    if result is None:
        if require_signature or signer_key:
            raise UsageError(f"{where}: the package has a digest but no signature (签名结果), nothing imported")
        return {"signed": False, "signer": text("e:签名人"), "time": text("e:签名时间"), "key": None}
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    try:
        pub = base64.b64decode(cert or "", validate=True)
        Ed25519PublicKey.from_public_bytes(pub).verify(base64.b64decode(result, validate=True),
                                                       digest.encode("ascii"))
    except (ValueError, InvalidSignature):
        raise UsageError(f"{where}: the package's signature (签名结果) does not verify under the key it names: "
                         "nothing imported") from None
    fp = fingerprint(pub)
    if signer_key and signer_key.replace("-", "").lower() != fp.replace("-", ""):
        raise UsageError(f"{where}: signed by key {fp}, not by {signer_key}: nothing imported")
    return {"signed": True, "signer": text("e:签名人"), "time": text("e:签名时间"), "key": fp}
