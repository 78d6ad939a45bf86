"""A backup repository in an S3 bucket (``[backup] repo = "s3://bucket/prefix"``): the target interface of
:mod:`.target` on S3.

* ``put`` is one PUT: a reader sees the whole new object or nothing; ``put_stream`` is boto3's managed
  upload (multipart for large blobs, bounded memory) — if the source raises, the multipart upload is
  aborted and nothing is stored under the name;
* ``create_exclusive`` is a conditional PUT (``If-None-Match: *``), the repository lock's primitive;
* ``sync`` has nothing to do: S3 acknowledges a PUT once it is durable.

The blobs are encrypted by the repository before they reach the target (``repository/backup/repo.py``),
so the bucket holds ciphertext only.  ``location`` carries the endpoint as ``?endpoint_url=…`` (the form
ocfl-py and s3fs read), so the catalogue's list of repositories can reopen it for a purge.
"""
from __future__ import annotations

from typing import Iterator
from urllib.parse import parse_qs, quote

from dangan.errors import NotFound, StoreUnavailable, UsageError
from dangan.repository.backup.target import BackupTarget, Reader
from dangan.repository.s3client import S3


def split_location(spec: str) -> tuple[str, str | None]:
    """``s3://b/p?endpoint_url=URL`` → (``s3://b/p``, URL)."""
    url, _, query = spec.partition("?")
    found = parse_qs(query).get("endpoint_url") if query else None
    return url, (found[0] if found else None)


class S3Target(BackupTarget):
    """A prefix in a bucket."""

    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        self.s3 = S3(url, endpoint_url)
        self.location = self.s3.place.url + (f"?endpoint_url={quote(endpoint_url, safe=':/')}" if endpoint_url else "")

    def _name(self, name: str) -> str:
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in name.split("/")):
            raise UsageError(f"invalid name in a backup repository: {name!r}")
        return name

    def put(self, name: str, data: bytes, *, durable: bool = True) -> None:
        self.s3.put(self._name(name), data)

    def put_stream(self, name: str, src: Reader, *, durable: bool = True) -> int:
        return self.s3.upload_stream(self._name(name), src)   # type: ignore[arg-type]  # read(n) is all it needs

    def create_exclusive(self, name: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError
        try:
            self.s3.client.put_object(Bucket=self.s3.place.bucket, Key=self.s3.place.key(self._name(name)),
                                      Body=data, IfNoneMatch="*")
            return True
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return False
            raise StoreUnavailable(f"writing {name} to the backup repository {self.location}: {code}") from None
        except Exception as exc:  # noqa: BLE001 - a connection failure: a clear message
            from botocore.exceptions import BotoCoreError
            if isinstance(exc, BotoCoreError):
                raise StoreUnavailable(f"writing {name} to the backup repository {self.location}: the S3 "
                                       f"service cannot be reached ({type(exc).__name__})") from None
            raise

    def get(self, name: str) -> bytes:
        data = self.s3.get(self._name(name), missing_ok=True)
        if data is None:
            raise NotFound(f"{name} is missing from the backup repository {self.location}")
        return data

    def stream(self, name: str) -> Iterator[bytes]:
        try:
            yield from self.s3.chunks(self._name(name))
        except NotFound:
            raise NotFound(f"{name} is missing from the backup repository {self.location}") from None

    def exists(self, name: str) -> bool:
        return self.s3.exists(self._name(name))

    def size(self, name: str) -> int | None:
        n = self.s3.size(self._name(name))
        return None if n < 0 else n

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        yield from self.s3.sized_keys(prefix)

    def delete(self, name: str) -> None:
        self.s3.delete([self._name(name)])

    def ensure(self) -> None:
        self.s3.ensure_bucket()
