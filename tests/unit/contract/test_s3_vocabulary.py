"""The contract's S3 vocabulary tells answers apart by their shape, as botocore raises them."""

from __future__ import annotations

import io
import re

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from artifact_contract import s3


def _client_error(code: str | None, status: int) -> ClientError:
    error = {"Code": code, "Message": "m"} if code else {}
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("NoSuchKey", 404, "missing"),
        (None, 404, "missing"),  # a HEAD's answer has no body, only its status
        ("PreconditionFailed", 412, "precondition"),
        (None, 412, "precondition"),
        ("ConditionalRequestConflict", 409, "conflict"),
        ("AccessDenied", 403, "denied"),
        ("InternalError", 500, None),
        # A wrong bucket or wrong credentials are not a missing key or a denied one.
        ("NoSuchBucket", 404, None),
        ("InvalidAccessKeyId", 403, None),
        ("OperationAborted", 409, None),
    ],
)
def test_answers_are_told_apart(code: str | None, status: int, kind: str | None) -> None:
    exc = _client_error(code, status)
    found = {
        "missing": s3.is_missing(exc),
        "precondition": s3.is_precondition_failed(exc),
        "conflict": s3.is_conflict(exc),
        "denied": s3.is_denied(exc),
    }
    assert [k for k, v in found.items() if v] == ([kind] if kind else [])
    assert s3.error_code(exc) == (code or str(status))
    assert s3.is_aws_error(exc)


def test_errors_that_are_not_answers() -> None:
    unreachable = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert s3.error_code(unreachable) is None
    assert not s3.is_missing(unreachable)
    assert s3.is_aws_error(unreachable)
    assert not s3.is_aws_error(ValueError("ours"))
    assert s3.error_code(ValueError("ours")) is None


def test_body_is_closed_after_reading() -> None:
    body = io.BytesIO(b"abc")
    with s3.body_of({"Body": body}) as read:
        assert read.read() == b"abc"
    assert body.closed


def test_now_is_utc_to_the_second() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", s3.now_iso())


GB = 10**9


@pytest.mark.parametrize("size", [100 * GB, 10**12, s3.MAX_OBJECT_BYTES, 80 * 1024 * s3.MiB, 1, 0])
@pytest.mark.parametrize("preferred", [5 * s3.MiB, 8 * s3.MiB, 64 * s3.MiB])
def test_parts_stay_within_s3s_limits(size: int, preferred: int) -> None:
    ranges = s3.part_ranges(size, preferred)
    assert len(ranges) <= s3.MAX_PARTS
    assert [n for n, _, _ in ranges] == list(range(1, len(ranges) + 1))
    # Contiguous, covering every byte once.
    assert sum(last - first + 1 for _, first, last in ranges) == size
    for (_, _, last), (_, first, _) in zip(ranges, ranges[1:], strict=False):
        assert first == last + 1
    for _, first, last in ranges[:-1]:
        assert s3.MIN_PART_BYTES <= last - first + 1 <= s3.MAX_PART_BYTES


def test_preferred_part_size_is_kept_when_it_fits() -> None:
    assert s3.part_size(1 * GB, 8 * s3.MiB) == 8 * s3.MiB
    # 100 GB in 8 MiB parts would be 11,921 parts: raised to the next whole MiB that fits.
    assert s3.part_size(100 * GB, 8 * s3.MiB) == 10 * s3.MiB
    assert s3.part_size(s3.MAX_OBJECT_BYTES, 8 * s3.MiB) == 525 * s3.MiB


def test_an_object_larger_than_s3_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="5497558138880"):
        s3.part_size(s3.MAX_OBJECT_BYTES + 1, 8 * s3.MiB)
