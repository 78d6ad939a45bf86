"""Fixtures of the S3 suite (tests/s3 modules import them by name): ``archive_root`` — hence
``archive`` and ``cli`` — on S3; one SeaweedFS per module (or the one ``scripts/s3-test-server`` started
for ``make test``, named by ``$DANGAN_TEST_S3_ENDPOINT``); a fresh bucket for every test.

Not a tests/s3/conftest.py: a second module named ``conftest`` would shadow tests/conftest.py for the
``from conftest import …`` of the rest of the suite."""
from __future__ import annotations

import os
import uuid

import pytest

import s3_service


@pytest.fixture(scope="module")
def s3_server():
    endpoint = os.environ.get("DANGAN_TEST_S3_ENDPOINT")
    if endpoint:                                      # started outside (make test): credentials are the test ones
        svc = s3_service.S3Service(endpoint=endpoint, workdir=None, args=[], log=None)   # type: ignore[arg-type]
        yield svc
        return
    svc = s3_service.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """The test credentials in the usual AWS variables (never in dangan's configuration or argv)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_service.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_service.SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_service.REGION)
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    return s3_server


@pytest.fixture
def bucket(s3_env) -> str:
    return s3_env.make_bucket(f"t-{uuid.uuid4().hex[:20]}")


@pytest.fixture
def archive_root(tmp_path, bucket, s3_env, request):
    """Here a new archive's store is ``s3://BUCKET/fonds-z109`` (so ``archive`` and ``cli`` are on S3);
    ocfl-py validates the bucket at teardown."""
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from s3_helpers import assert_bucket_store_valid
    root = tmp_path / "archive"
    folder = request.node.get_closest_marker("folder_store") is not None     # S3 for the backups only
    Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester"),
                 **({} if folder else {"store_url": f"s3://{bucket}/fonds-z109", "store_endpoint": s3_env.endpoint})
                 ).close()
    yield root
    if request.node.get_closest_marker("store_damaged") is None:
        if folder:
            from ocfl_helpers import assert_store_valid
            assert_store_valid(root / "store")
        else:
            assert_bucket_store_valid(s3_env, bucket, "fonds-z109")

