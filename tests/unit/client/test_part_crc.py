"""Part CRC32Cs taken in the hash's read: cut where s3transfer cuts, and handed to botocore only for
the request they belong to (botocore builds each request; nothing is sent)."""

from __future__ import annotations

import base64
import os
from typing import Any

import boto3
import pytest
from awscrt.checksums import crc32c

from artifact_backup.part_crc import PartCrcs, crc32c_b64
from artifact_backup.transfer import GB, MB, UploadConfig
from artifact_backup.upload.part_checksums import PartChecksums, part_size, speaks_plain_http


def reference_crc32c(data: bytes) -> str:
    """CRC32C bit by bit (Castagnoli, reflected), independent of awscrt, as S3 writes it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return base64.b64encode((crc ^ 0xFFFFFFFF).to_bytes(4, "big")).decode("ascii")


def fast_crc32c(data: bytes) -> str:
    """awscrt's, for the megabytes of parts: the test below holds it to the reference."""
    return crc32c_b64(crc32c(data))


def test_the_reference_meets_the_standard_check_value_and_awscrt_meets_the_reference():
    assert base64.b64decode(reference_crc32c(b"123456789")) == (0xE3069283).to_bytes(4, "big")
    data = os.urandom(4096)
    assert fast_crc32c(data) == reference_crc32c(data)


@pytest.mark.parametrize("chunk", [1, 7, 64, 100, 1000])
def test_parts_are_cut_at_the_part_size_whatever_the_reads(chunk):
    data = os.urandom(1000)
    crcs = PartCrcs(part_size=256)
    for at in range(0, len(data), chunk):
        crcs.update(memoryview(data)[at:at + chunk])
    crcs.close()
    expected = [reference_crc32c(data[at:at + 256]) for at in range(0, 1000, 256)]
    assert crcs.parts_done == 4
    assert [crcs.part(n) for n in range(1, 5)] == expected


def test_a_part_is_published_only_once_whole():
    crcs = PartCrcs(part_size=10)
    crcs.update(b"0123456789abc")
    assert crcs.part(1) == reference_crc32c(b"0123456789")
    assert crcs.part(2) is None  # 3 of its bytes read so far
    crcs.close()
    assert crcs.part(2) == reference_crc32c(b"abc")
    assert crcs.part(0) is None
    assert crcs.part(3) is None


def test_bytes_ending_on_a_boundary_make_no_empty_part():
    crcs = PartCrcs(part_size=4)
    crcs.update(b"abcdefgh")
    crcs.close()
    assert crcs.parts_done == 2


def test_part_size_follows_s3transfers_growth_for_files_of_more_than_10000_parts():
    config = UploadConfig(multipart_chunksize=8 * MB)
    assert part_size(80 * MB, config) == 8 * MB
    assert part_size(100 * GB, config) > 8 * MB
    assert part_size(100 * GB, config) * 10_000 >= 100 * GB


def _client():
    return boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                        aws_access_key_id="k", aws_secret_access_key="s")


class _Sent(Exception):
    """Raised in place of sending: the request as botocore built it, with our handler or without."""

    def __init__(self, request: Any) -> None:
        self.headers = dict(request.headers)


def sent_headers(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """The headers of the request botocore builds, with ``b"x"`` for a body, stopped before it is sent."""

    def stop(request: Any, **_: Any) -> None:
        raise _Sent(request)

    client.meta.events.register("before-send.s3", stop, unique_id="test-stop")
    try:
        getattr(client, operation)(Body=b"x", ChecksumAlgorithm="CRC32C", **params)
    except _Sent as sent:
        return {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in sent.headers.items()}
    finally:
        client.meta.events.unregister("before-send.s3", stop, unique_id="test-stop")
    raise AssertionError("the request was sent")


def sent_checksum(client: Any, operation: str, **params: Any) -> str:
    """The CRC32C header botocore would send for the request: ours, or the one it computes of the
    body (``b"x"``, never the bytes a test's values were taken of)."""
    return sent_headers(client, operation, **params)["x-amz-checksum-crc32c"]


def _checksums(parts: dict[str, tuple[bytes, int]], config: UploadConfig) -> PartChecksums:
    """Checksums bound for ``parts``: key -> (the bytes, their part size)."""
    checksums = PartChecksums(config)
    for key, (data, size_of_part) in parts.items():
        crcs = PartCrcs(size_of_part)
        crcs.update(data)
        crcs.close()
        checksums.bind("staging", key, crcs, len(data))
    return checksums


BOTOCORES_OWN = reference_crc32c(b"x")


def test_each_part_and_single_put_carries_the_value_taken_while_hashing():
    config = UploadConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB)
    big, small = os.urandom(20 * MB), os.urandom(3 * MB)
    checksums = _checksums({"blob": (big, 8 * MB), "pack": (small, 8 * MB)}, config)
    client = _client()
    with checksums.given_to(client):
        for number in (1, 2, 3):
            part = big[(number - 1) * 8 * MB:number * 8 * MB]
            assert sent_checksum(client, "upload_part", Bucket="staging", Key="blob", UploadId="u",
                                 PartNumber=number) == fast_crc32c(part)
        assert sent_checksum(client, "put_object", Bucket="staging", Key="pack") == fast_crc32c(small)


def test_requests_the_values_do_not_belong_to_are_left_to_botocore():
    config = UploadConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB)
    checksums = _checksums({"blob": (os.urandom(20 * MB), 8 * MB)}, config)
    half = PartCrcs(8 * MB)
    half.update(os.urandom(9 * MB))  # part 2 not read yet
    checksums.bind("staging", "reading", half, 20 * MB)
    client = _client()
    with checksums.given_to(client):
        for params in (
            {"Bucket": "staging", "Key": "other", "UploadId": "u", "PartNumber": 1},  # unknown key
            {"Bucket": "archive", "Key": "blob", "UploadId": "u", "PartNumber": 1},  # other bucket
            {"Bucket": "staging", "Key": "reading", "UploadId": "u", "PartNumber": 2},  # not yet hashed
            {"Bucket": "staging", "Key": "blob", "UploadId": "u", "PartNumber": 4},  # no such part
        ):
            assert sent_checksum(client, "upload_part", **params) == BOTOCORES_OWN, params
        # a multipart piece is never sent as one PutObject, so no part's value may serve for it
        assert sent_checksum(client, "put_object", Bucket="staging", Key="blob") == BOTOCORES_OWN
        assert sent_checksum(client, "upload_part", Bucket="staging", Key="blob", UploadId="u",
                             PartNumber=1) != BOTOCORES_OWN
    # Outside ``given_to`` the handler is gone.
    assert sent_checksum(client, "upload_part", Bucket="staging", Key="blob", UploadId="u",
                         PartNumber=1) == BOTOCORES_OWN


def test_values_cut_otherwise_than_s3transfer_will_cut_are_not_bound():
    config = UploadConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB)
    checksums = PartChecksums(config)
    assert checksums.for_size(100 * GB).part_size == part_size(100 * GB, config)
    eight, five = PartCrcs(8 * MB), PartCrcs(5 * MB)
    eight.update(bytes(8 * MB))
    five.update(bytes(7 * MB))
    assert eight.part(1)  # a value each, were they bound
    assert five.part(1)
    checksums.bind("staging", "huge", eight, 100 * GB)  # s3transfer grows these parts
    checksums.bind("staging", "single", five, 7 * MB)  # one PutObject, longer than a part
    part, put = {"Bucket": "staging", "Key": "huge", "PartNumber": 1}, {"Bucket": "staging", "Key": "single"}
    checksums.provide(part, model=Model("UploadPart"))
    checksums.provide(put, model=Model("PutObject"))
    assert "ChecksumCRC32C" not in part
    assert "ChecksumCRC32C" not in put
    # the same values, cut as s3transfer cuts, are
    checksums.bind("staging", "single", eight, 7 * MB)
    checksums.provide(put, model=Model("PutObject"))
    assert put["ChecksumCRC32C"] == eight.part(1)


class Model:
    """What the handler reads of botocore's operation model."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_over_https_botocore_keeps_its_streamed_trailer_and_unsigned_body():
    """A checksum header given over HTTPS would make botocore SHA-256-sign the body: nothing is
    given there, so botocore takes the checksum in its one read, as a trailer."""
    config = UploadConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB)
    checksums = _checksums({"blob": (os.urandom(9 * MB), 8 * MB)}, config)
    client = boto3.client("s3", region_name="us-east-1", endpoint_url="https://127.0.0.1:9",
                          aws_access_key_id="k", aws_secret_access_key="s")
    with checksums.given_to(client):
        headers = sent_headers(client, "upload_part", Bucket="staging", Key="blob", UploadId="u",
                               PartNumber=1)
    assert "x-amz-checksum-crc32c" not in headers
    assert headers["x-amz-trailer"] == "x-amz-checksum-crc32c"
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def test_nothing_is_taken_for_an_endpoint_that_is_not_plain_http():
    assert speaks_plain_http("http://127.0.0.1:5000")
    assert not speaks_plain_http("https://s3.eu-west-1.amazonaws.com")
    assert not speaks_plain_http(None)  # AWS's own endpoint
    checksums = PartChecksums(UploadConfig(), enabled=False)
    assert checksums.for_size(100 * MB) is None
    assert checksums.for_stream() is None
    client = _client()  # plain http, but the run's checksums were not taken
    with checksums.given_to(client):
        assert sent_checksum(client, "put_object", Bucket="staging", Key="pack") == BOTOCORES_OWN
