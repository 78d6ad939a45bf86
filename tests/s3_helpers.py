"""What the S3 tests share: ocfl-py validating a storage root in a bucket, keys listed."""
from __future__ import annotations

import ocfl

import ocfl_helpers  # noqa: F401  - registers the 0004 layout with ocfl-py


def assert_bucket_store_valid(svc, bucket: str, prefix: str) -> int:
    """ocfl-py validates the storage root at s3://bucket/prefix (it reads S3 through fsspec/s3fs; the
    endpoint is passed as a URL parameter, the credentials come from the AWS variables)."""
    sr = ocfl.StorageRoot(root=f"s3://{bucket}/{prefix}?endpoint_url={svc.endpoint}")
    ok = sr.validate(validate_objects=True, check_digests=True)
    assert ok, f"ocfl-py rejects s3://{bucket}/{prefix}: {sr.log}"
    if sr.num_objects != sr.good_objects:
        from ocfl.validator import Validator
        bad = []
        for _path, _id in sr.list_objects():
            v = Validator(check_digests=True, log_warnings=False)
            url = f"s3://{bucket}/{prefix}/{_path}?endpoint_url={svc.endpoint}"
            if not v.validate_object(url):
                bad.append(f"{_path}: {v.status_str()}")
        raise AssertionError(f"ocfl-py rejects objects in s3://{bucket}/{prefix}: {bad}")
    return sr.num_objects


def keys(svc, bucket: str, prefix: str = "") -> list[str]:
    c = svc.client()
    out, token = [], None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = c.list_objects_v2(**kw)
        out += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return sorted(out)
        token = page["NextContinuationToken"]


def drop_texts(folder, n: int, tag: str, word: str = "报告 report", repeat: int = 4) -> dict:
    """``n`` distinct small text files in a new ``folder``, by their sha512 (what each test then expects archived)."""
    import hashlib
    folder.mkdir()
    out = {}
    for i in range(n):
        f = folder / f"{tag}-{i:02d}.txt"
        f.write_text(f"{tag} 第{i}份{word} {i} " * (1 + i % repeat), encoding="utf-8")
        out[hashlib.sha512(f.read_bytes()).hexdigest()] = f
    return out
