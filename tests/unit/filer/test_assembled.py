"""The filer's check of a multipart copy against S3's composite checksum of its parts."""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

import pytest

from artifact_filer.assembled import assembled_problem, check_assembled, composite_sha256
from artifact_filer.exceptions import ArchiveChangedError


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


PARTS = [{"PartNumber": n, "ETag": f'"{n}"', "ChecksumSHA256": b64sha(bytes([n]) * 10)} for n in (1, 2, 3)]


def test_the_composite_is_the_checksum_of_the_part_digests_with_their_count():
    digests = b"".join(hashlib.sha256(bytes([n]) * 10).digest() for n in (1, 2, 3))
    assert composite_sha256([p["ChecksumSHA256"] for p in PARTS]) == b64sha(digests) + "-3"


def test_an_object_of_exactly_the_parts_passes():
    completed = {"ChecksumSHA256": composite_sha256([p["ChecksumSHA256"] for p in PARTS])}
    assert assembled_problem(completed, PARTS) is None


@pytest.mark.parametrize("parts", [PARTS[:2], PARTS[::-1], [PARTS[0], PARTS[0], PARTS[2]]],
                         ids=["part-left-out", "parts-reordered", "part-repeated"])
def test_an_object_of_other_parts_is_named(parts):
    completed = {"ChecksumSHA256": composite_sha256([p["ChecksumSHA256"] for p in parts])}
    problem = assembled_problem(completed, PARTS)
    assert problem is not None
    assert completed["ChecksumSHA256"] in problem


@pytest.mark.parametrize("completed", [{}, {"ChecksumSHA256": b64sha(b"whole object")}, None],
                         ids=["no-checksum", "full-object-checksum", "no-answer"])
def test_nothing_to_compare_is_no_problem(completed):
    assert assembled_problem(completed, PARTS) is None


def test_parts_without_checksums_cannot_be_compared():
    parts = [{k: v for k, v in p.items() if k != "ChecksumSHA256"} for p in PARTS]
    assert assembled_problem({"ChecksumSHA256": "x-3"}, parts) is None


class _Ctx:
    archive_bucket = "archive"

    def __init__(self) -> None:
        self.deleted: list[dict[str, Any]] = []
        self.log = logging.getLogger("test-assembled")
        outer = self

        class Client:
            def delete_object(self, **kwargs: Any) -> None:
                outer.deleted.append(kwargs)

        self.client = Client()


def test_a_wrongly_assembled_copy_is_removed_and_the_filing_fails_to_be_tried_again():
    ctx = _Ctx()
    with pytest.raises(ArchiveChangedError, match="P1/gis_data/x.gpkg"):
        check_assembled(ctx, "P1/gis_data/x.gpkg", {"ChecksumSHA256": "bogus-3"}, PARTS)  # type: ignore[arg-type]
    assert ctx.deleted == [{"Bucket": "archive", "Key": "P1/gis_data/x.gpkg"}]


def test_a_rightly_assembled_copy_is_left_alone():
    ctx = _Ctx()
    completed = {"ChecksumSHA256": composite_sha256([p["ChecksumSHA256"] for p in PARTS])}
    check_assembled(ctx, "k", completed, PARTS)  # type: ignore[arg-type]
    assert ctx.deleted == []
