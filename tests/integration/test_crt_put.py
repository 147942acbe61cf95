"""The filer's native put path against the embedded S3 server: what it writes is what botocore would
write (bytes, checksum, metadata, tags, content type), and S3's refusals come back in botocore's
shape, so the filer tells them apart with the contract's S3 vocabulary."""

from __future__ import annotations

import base64
import hashlib

import boto3
import pytest
from botocore.exceptions import ClientError

from artifact_contract import crc64nvme_b64
from artifact_contract.s3 import is_precondition_failed
from artifact_filer.crt import ArchiveWriteError, CrtPutter

pytestmark = pytest.mark.integration

BUCKET = "crt-put-test"


@pytest.fixture(scope="module")
def s3(local_server):
    client = boto3.client("s3", endpoint_url=local_server.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def putter(s3):
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    return CrtPutter.for_client(s3, session.get_credentials(), max_connections=8, max_attempts=3)


def put_args(key: str, data: bytes, **extra) -> dict:
    return {
        "Bucket": BUCKET, "Key": key, "Body": data, "ContentType": "text/html",
        "ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
        "Metadata": {"sha256": hashlib.sha256(data).hexdigest(), "run-id": "a" * 32},
        "Tagging": "artifact-backup%3Amanaged=true&artifact-backup%3Aretention=standard", **extra,
    }


@pytest.mark.parametrize("key", ["P/report/20251030_1430/report.html",
                                 "P/logs/20251030_1430/sub dir/exif log+1 été ~x.txt"])
def test_a_put_stores_what_botocore_would(s3, putter, key):
    data = b"<html>report</html>" * 100
    answer = putter.put_object(**put_args(key, data)).result(timeout=30)
    assert answer["ETag"]
    got = s3.get_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert got["Metadata"] == {"sha256": hashlib.sha256(data).hexdigest(), "run-id": "a" * 32}
    assert got["ContentType"] == "text/html"
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}
    assert tags == {"artifact-backup:managed": "true", "artifact-backup:retention": "standard"}


def test_a_put_with_a_crc64nvme_stores_it_in_place_of_the_sha256(s3, putter):
    """What every packed file of a manifest that gives its CRC64NVME is put with."""
    key = "P/report/20251030_1430/crc.html"
    data = b"<html>crc</html>" * 100
    args = {k: v for k, v in put_args(key, data).items() if k != "ChecksumSHA256"}
    putter.put_object(**args, ChecksumCRC64NVME=crc64nvme_b64(data)).result(timeout=30)
    held = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert held["ChecksumCRC64NVME"] == crc64nvme_b64(data)
    assert "ChecksumSHA256" not in held
    assert held["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.strict_s3
def test_a_put_whose_crc64nvme_is_not_its_bodys_is_refused(s3, putter):
    key = "P/report/20251030_1430/lie.html"
    args = {k: v for k, v in put_args(key, b"body").items() if k != "ChecksumSHA256"}
    with pytest.raises(ClientError) as refused:
        putter.put_object(**args, ChecksumCRC64NVME=crc64nvme_b64(b"other")).result(timeout=30)
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key=key)


def test_a_conditional_put_on_an_existing_key_is_a_412_in_botocores_shape(s3, putter):
    key = "P/logs/20251030_1430/once.log"
    putter.put_object(**put_args(key, b"first", IfNoneMatch="*")).result(timeout=30)
    with pytest.raises(ClientError) as refused:
        putter.put_object(**put_args(key, b"second", IfNoneMatch="*")).result(timeout=30)
    assert is_precondition_failed(refused.value)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"first"


def test_a_put_to_a_versioned_bucket_answers_the_version_it_wrote(s3, putter):
    """An untimestamped run's record names each version its puts wrote: the native path says which."""
    bucket = "crt-put-versioned"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = "P/config/settings.json"
    first = putter.put_object(**{**put_args(key, b"one"), "Bucket": bucket}).result(timeout=30)
    second = putter.put_object(**{**put_args(key, b"two"), "Bucket": bucket}).result(timeout=30)
    assert first["VersionId"]
    assert second["VersionId"] not in (None, first["VersionId"])
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=first["VersionId"])["Body"].read() == b"one"
    assert s3.head_object(Bucket=bucket, Key=key)["VersionId"] == second["VersionId"]
    # An unversioned bucket names no version.
    assert putter.put_object(**put_args("P/config/plain.json", b"x")).result(timeout=30)["VersionId"] in (
        None, "null")


def test_a_missing_bucket_is_the_error_s3_names(putter):
    with pytest.raises(ClientError) as refused:
        putter.put_object(**{**put_args("k", b"x"), "Bucket": "no-such-bucket-here"}).result(timeout=30)
    assert refused.value.response["Error"]["Code"] == "NoSuchBucket"


def test_no_server_is_a_transient_error_after_the_retries():
    lonely = CrtPutter(endpoint_url="http://127.0.0.1:9", region="us-east-1",
                       credentials=lambda: ("k", "s", None), max_connections=1, max_attempts=2,
                       connect_timeout_ms=1000)
    with pytest.raises(ArchiveWriteError):
        lonely.put_object(**put_args("k", b"x")).result(timeout=60)


def test_many_puts_at_once_all_land(s3, putter):
    futures = [putter.put_object(**put_args(f"P/logs/20251030_1430/many/{i}.log", b"%d" % i))
               for i in range(200)]
    assert all(f.result(timeout=60)["ETag"] for f in futures)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="P/logs/20251030_1430/many/")["KeyCount"]
    assert listed == 200
