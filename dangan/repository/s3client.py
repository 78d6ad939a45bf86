"""The S3 client the store and the backup target share: addresses, credentials, errors, streaming.

``s3://bucket/prefix`` names a place in a bucket; ``endpoint_url`` an S3-compatible service (SeaweedFS,
MinIO, Ceph RGW, a cloud).  Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, ``~/.aws/credentials``, an instance role) — never from
dangan's configuration, argv or logs.  Every botocore failure becomes a :class:`StoreUnavailable` (or
``NotFound``/``AccessDenied``) naming what was being done, never a traceback.

Large files are streamed: :func:`upload_file` uses boto3's managed transfer (multipart above
``MULTIPART_THRESHOLD``, parts of ``PART_SIZE``, at most ``CONCURRENCY`` parts in memory), so memory is
bounded whatever the file's size.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

from ..errors import AccessDenied, NotFound, StoreUnavailable, UsageError
from .fsutil import crash_point

if TYPE_CHECKING:
    from pathlib import Path

PART_SIZE = 8 * 1024 * 1024
MULTIPART_THRESHOLD = 16 * 1024 * 1024
CONCURRENCY = 4
#: S3 requests one process overlaps at most (a group commit's PUTs, the indexer's reads): round trips, not
#: bytes, bound small files, so a few in flight hide the latency; botocore's pool holds this many connections
#: plus the parts of one multipart upload
REQUEST_CONCURRENCY = int(os.environ.get("DANGAN_S3_CONCURRENCY", "8"))
READ_CHUNK = 1024 * 1024
#: files up to this size are sent from memory in one PUT (a metadata.json, a letter's text)
SMALL_PUT = 1024 * 1024
#: attempts per request (botocore's standard retry mode: backoff, connection errors retried)
ATTEMPTS = int(os.environ.get("DANGAN_S3_ATTEMPTS", "4"))
#: Tests only: a folder; the first multipart upload of the process, once a part is sent, writes ``held`` there
#: and waits for ``go`` (the test stops the S3 server in between: tests/s3/test_s3_faults.py)
HOLD_ENV = "DANGAN_TEST_S3_HOLD"
_held = False
_client_lock = threading.Lock()


def _hold_callback():
    """The upload progress callback of the test hold (None unless ``$DANGAN_TEST_S3_HOLD`` is set)."""
    folder = os.environ.get(HOLD_ENV)
    if not folder or _held:
        return None
    sent = [0]

    def progress(n: int) -> None:
        global _held
        sent[0] += n
        if sent[0] >= PART_SIZE and not _held:
            import time
            from pathlib import Path
            _held = True
            Path(folder, "held").write_text(str(os.getpid()))
            while not Path(folder, "go").exists():
                time.sleep(0.05)
    return progress


def is_s3_url(url: str | os.PathLike | None) -> bool:
    return isinstance(url, str) and url.startswith("s3://")


@dataclass(frozen=True)
class S3Place:
    """A bucket and a key prefix (no leading or trailing slash; may be empty)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> "S3Place":
        if not is_s3_url(url):
            raise UsageError(f"{url!r} is not an s3:// address (s3://bucket/prefix)")
        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket or any(c in bucket for c in " \t\n?#"):
            raise UsageError(f"{url!r}: no valid bucket name (s3://bucket/prefix)")
        prefix = prefix.strip("/")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise UsageError(f"{url!r}: the prefix may not hold empty, '.' or '..' parts")
        return cls(bucket, prefix)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel


def part_size(n: int) -> int:
    """The size of part ``n`` of a stream of unknown length: 8 MiB, doubled every 1,000 parts, so the 10,000
    parts S3 allows reach far past any file (8 MiB x 10,000 alone would stop at 78 GiB)."""
    return PART_SIZE << ((n - 1) // 1000)


def _read_full(src: BinaryIO, n: int) -> bytes:
    """``n`` bytes from ``src`` (fewer only at its end), whatever its reads return."""
    out = bytearray()
    while len(out) < n:
        chunk = src.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _translate(exc: BaseException, what: str) -> Exception:
    from botocore.exceptions import BotoCoreError, ClientError
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        msg = exc.response.get("Error", {}).get("Message", "") or code
        if code in ("NoSuchKey", "404", "NotFound", "NoSuchBucket"):
            return NotFound(f"{what}: {msg}")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return AccessDenied(f"{what}: the S3 service refused the credentials ({msg}); set AWS_ACCESS_KEY_ID/"
                                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE")
        return StoreUnavailable(f"{what}: the S3 service answered {code}: {msg}")
    if isinstance(exc, BotoCoreError):
        text = str(exc)
        if "credentials" in text.lower():
            return AccessDenied(f"{what}: no S3 credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                                "AWS_PROFILE)")
        return StoreUnavailable(f"{what}: the S3 service cannot be reached ({type(exc).__name__}): try again when it"
                                " is back; nothing half-written is trusted")
    return StoreUnavailable(f"{what}: {exc}")


class S3:
    """One bucket place and its client (made lazily; one per process and place)."""

    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        self.place = S3Place.parse(url)
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None
        self._client: Any = None
        self._shared: S3 | None = None

    def beside(self, suffix: str) -> "S3":
        """The place ``s3://bucket/<prefix><suffix>`` (beside this one, not inside it), on the same client."""
        if not self.place.prefix:
            raise UsageError(f"{self.place.url} has no prefix: nothing can be kept beside it in the bucket")
        other = S3(f"{self.place.url}{suffix}", self.endpoint_url)
        other._shared = self
        return other

    @property
    def client(self) -> Any:
        if self._client is None and self._shared is not None:
            return self._shared.client
        if self._client is None:
            with _client_lock:                   # made once, even when the first requests come from a pool
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config
        session = boto3.session.Session()
        return session.client(
            "s3", endpoint_url=self.endpoint_url,
            region_name=session.region_name or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            config=Config(retries={"max_attempts": ATTEMPTS, "mode": "standard"}, connect_timeout=5,
                          max_pool_connections=REQUEST_CONCURRENCY + CONCURRENCY,
                          read_timeout=60, s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))

    def _call(self, what: str, method: str, **kw) -> Any:
        try:
            return getattr(self.client, method)(Bucket=self.place.bucket, **kw)
        except Exception as exc:  # noqa: BLE001 - translated, never a traceback
            from botocore.exceptions import BotoCoreError, ClientError
            if isinstance(exc, (BotoCoreError, ClientError)):
                raise _translate(exc, what) from None
            raise

    # -- reading ------------------------------------------------------------
    def get(self, rel: str, *, missing_ok: bool = False) -> bytes | None:
        try:
            return self._call(f"reading {rel}", "get_object", Key=self.place.key(rel))["Body"].read()
        except NotFound:
            if missing_ok:
                return None
            raise

    def exists(self, rel: str) -> bool:
        try:
            self._call(f"looking up {rel}", "head_object", Key=self.place.key(rel))
            return True
        except NotFound:
            return False

    def size(self, rel: str) -> int:
        try:
            return int(self._call(f"looking up {rel}", "head_object", Key=self.place.key(rel))["ContentLength"])
        except NotFound:
            return -1

    def chunks(self, rel: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The object's bytes (``start``..``end`` inclusive), streamed in ``READ_CHUNK`` pieces."""
        kw: dict[str, Any] = {}
        if start or end is not None:
            kw["Range"] = f"bytes={start}-{'' if end is None else end}"
        body = self._call(f"reading {rel}", "get_object", Key=self.place.key(rel), **kw)["Body"]
        try:
            while True:
                try:
                    chunk = body.read(READ_CHUNK)
                except Exception as exc:  # noqa: BLE001
                    from botocore.exceptions import BotoCoreError
                    if isinstance(exc, BotoCoreError):
                        raise _translate(exc, f"reading {rel}") from None
                    raise
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    def keys(self, rel_prefix: str = "") -> Iterator[str]:
        """Every key under ``rel_prefix``, relative to the place's prefix."""
        for key, _size in self.sized_keys(rel_prefix):
            yield key

    def sized_keys(self, rel_prefix: str = "") -> Iterator[tuple[str, int]]:
        """(key, size) of every key under ``rel_prefix``, relative to the place's prefix (folder entries that
        some services list, ending in ``/``, left out)."""
        for key, size, _etag in self.listed_keys(rel_prefix):
            yield key, size

    def listed_keys(self, rel_prefix: str = "") -> Iterator[tuple[str, int, str]]:
        """(key, size, ETag) of every key under ``rel_prefix``, as :meth:`sized_keys` (the ETag changes whenever
        the object is written again)."""
        base = self.place.key(rel_prefix) if rel_prefix else (self.place.prefix + "/" if self.place.prefix else "")
        cut = len(self.place.prefix) + 1 if self.place.prefix else 0
        token = None
        while True:
            kw: dict[str, Any] = {"Prefix": base}
            if token:
                kw["ContinuationToken"] = token
            page = self._call(f"listing {rel_prefix or self.place.url}", "list_objects_v2", **kw)
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    yield item["Key"][cut:], int(item.get("Size", 0)), str(item.get("ETag", ""))
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def children(self, rel_prefix: str) -> list[str]:
        """The names one level below ``rel_prefix`` (a folder-like listing, with ``/`` as delimiter)."""
        base = self.place.key(rel_prefix.rstrip("/")) + "/" if rel_prefix else (
            self.place.prefix + "/" if self.place.prefix else "")
        out: list[str] = []
        token = None
        while True:
            kw: dict[str, Any] = {"Prefix": base, "Delimiter": "/"}
            if token:
                kw["ContinuationToken"] = token
            page = self._call(f"listing {rel_prefix}", "list_objects_v2", **kw)
            out += [p["Prefix"][len(base):].rstrip("/") for p in page.get("CommonPrefixes", [])]
            out += [c["Key"][len(base):] for c in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(set(out))
            token = page["NextContinuationToken"]

    def keys_after(self, rel_prefix: str, after: str, limit: int) -> list[str]:
        """At most ``limit`` keys under ``rel_prefix`` that sort after ``rel_prefix + after`` (one request)."""
        base = self.place.key(rel_prefix)
        kw: dict[str, Any] = {"Prefix": base, "MaxKeys": limit}
        if after:
            kw["StartAfter"] = base + after
        page = self._call(f"listing {self.place.url}/{rel_prefix}", "list_objects_v2", **kw)
        return [item["Key"][len(base):] for item in page.get("Contents", [])][:limit]

    # -- writing ------------------------------------------------------------
    def put_new(self, rel: str, data: bytes) -> bool:
        """Create ``rel`` only if no key of that name exists (a conditional PUT, ``If-None-Match: *``): False
        if one does, whoever wrote it.  A conflict with a concurrent write of the same key (409) is asked
        again once the other has settled."""
        from botocore.exceptions import ClientError
        for _attempt in range(3):
            try:
                self.client.put_object(Bucket=self.place.bucket, Key=self.place.key(rel), Body=data, IfNoneMatch="*")
                return True
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code == "PreconditionFailed" or status == 412:
                    return False
                if code != "ConditionalRequestConflict" and status != 409:
                    raise _translate(exc, f"writing {rel}") from None
            except Exception as exc:  # noqa: BLE001
                from botocore.exceptions import BotoCoreError
                if isinstance(exc, BotoCoreError):
                    raise _translate(exc, f"writing {rel}") from None
                raise
        if self.exists(rel):
            return False
        raise StoreUnavailable(f"writing {rel}: the S3 service kept answering 409 (a conflicting write)")

    def put(self, rel: str, data: bytes) -> None:
        self._call(f"writing {rel}", "put_object", Key=self.place.key(rel), Body=data)
        crash_point("s3put")

    def upload_file(self, rel: str, path: Path) -> None:
        """Stream a local file to ``rel`` (multipart above the threshold; memory bounded by the part size)."""
        size = path.stat().st_size
        if size <= SMALL_PUT:                             # bytes: botocore sends a file with "Expect: 100-continue",
            self.put(rel, path.read_bytes())              # one more round trip before the body
            return
        if size < MULTIPART_THRESHOLD and not os.environ.get(HOLD_ENV):
            with open(path, "rb") as fh:                  # one PUT, streamed from the file (no transfer threads)
                self._call(f"uploading {rel}", "put_object", Key=self.place.key(rel), Body=fh)
            crash_point("s3put")
            return
        from boto3.s3.transfer import TransferConfig
        cfg = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=PART_SIZE,
                             max_concurrency=CONCURRENCY, use_threads=True)
        try:
            self.client.upload_file(str(path), self.place.bucket, self.place.key(rel), Config=cfg,
                                    Callback=_hold_callback())
        except Exception as exc:  # noqa: BLE001
            from boto3.exceptions import S3UploadFailedError
            from botocore.exceptions import BotoCoreError, ClientError
            if isinstance(exc, (BotoCoreError, ClientError)):
                raise _translate(exc, f"uploading {rel}") from None
            if isinstance(exc, S3UploadFailedError):
                raise StoreUnavailable(f"uploading {rel}: {exc}") from None
            raise
        crash_point("s3put")

    def upload_stream(self, rel: str, src: BinaryIO) -> int:
        """Stream what ``src.read(n)`` gives until b"" to ``rel``; returns the size.

        One part of ``PART_SIZE`` at a time is in memory: a stream that fits in one part is one PUT, a
        longer one a multipart upload, completed only after its last part (so a reader never sees a part
        of it) and aborted if the source or the service fails — nothing is stored under ``rel`` then.
        (Not boto3's ``upload_fileobj``: it takes a short read for the end of the stream.)"""
        key = self.place.key(rel)
        first = _read_full(src, PART_SIZE)
        if len(first) < PART_SIZE:
            self.put(rel, first)
            return len(first)
        up = self._call(f"uploading {rel}", "create_multipart_upload", Key=key)["UploadId"]
        parts, size, chunk, n = [], 0, first, 1
        try:
            while chunk:
                etag = self._call(f"uploading {rel}", "upload_part", Key=key, UploadId=up, PartNumber=n,
                                  Body=chunk)["ETag"]
                parts.append({"ETag": etag, "PartNumber": n})
                size += len(chunk)
                n += 1
                chunk = _read_full(src, part_size(n))
            self._call(f"uploading {rel}", "complete_multipart_upload", Key=key, UploadId=up,
                       MultipartUpload={"Parts": parts})
        except BaseException:
            try:
                self._call(f"uploading {rel}", "abort_multipart_upload", Key=key, UploadId=up)
            except Exception:  # noqa: BLE001 - the service is gone: recovery aborts it later (abort_uploads)
                pass
            raise
        crash_point("s3put")
        return size

    def delete(self, rels: list[str], *, folders_under: str | None = None) -> None:
        """Delete keys (1,000 a request); a key already gone is fine.

        ``folders_under``: also delete the folder entries (``a/b/``) of the deleted keys at and below that
        prefix, deepest first.  Services built on a file system (SeaweedFS's filer) keep a folder after its
        last key is deleted, and an empty folder in an OCFL object is invalid (E024, E073 in the storage
        root); SeaweedFS leaves a folder that still holds keys alone, and on AWS S3 these deletes are of
        keys that never existed, which S3 accepts.  ``""``: every folder up to the place's prefix."""
        self._delete_keys(rels)
        if folders_under is not None:
            scope = folders_under.rstrip("/")
            folders: set[str] = set()
            for r in rels:
                parts = r.split("/")[:-1]
                for i in range(len(parts), 0, -1):
                    f = "/".join(parts[:i])
                    if not scope or f == scope or f.startswith(scope + "/"):
                        folders.add(f + "/")
            self._delete_keys(sorted(folders, key=lambda f: (-f.count("/"), f)))

    def _delete_keys(self, rels: list[str]) -> None:
        for i in range(0, len(rels), 1000):
            batch = [{"Key": self.place.key(r)} for r in rels[i:i + 1000]]
            if batch:
                self._call("deleting keys", "delete_objects", Delete={"Objects": batch, "Quiet": True})

    def abort_uploads(self, rel_prefix: str) -> int:
        """Abort multipart uploads a dead writer left under ``rel_prefix`` (their parts cost storage)."""
        n = 0
        page = self._call("listing unfinished uploads", "list_multipart_uploads", Prefix=self.place.key(rel_prefix))
        for up in page.get("Uploads", []):
            self._call("aborting an unfinished upload", "abort_multipart_upload", Key=up["Key"],
                       UploadId=up["UploadId"])
            n += 1
        return n

    def ensure_bucket(self) -> None:
        """Fail clearly now if the bucket cannot be reached (it is never created here: that is the operator's)."""
        self._call(f"opening bucket {self.place.bucket}", "head_bucket")
