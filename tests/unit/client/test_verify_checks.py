"""``verify``'s comparisons, one outcome each: by the checksum S3 keeps (HEAD) and by reading (--deep),
against an in-process S3 stand-in that answers HEAD, GET and LIST as S3 does, Glacier included."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field, replace

import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from artifact_backup.archive.verify import verify, verify_record
from artifact_backup.archive.verify_heads import Stored, StoredChecksum, compare_head, stored_checksum
from artifact_backup.cli.verify import format_verify
from artifact_contract import ARTIFACT_TYPES, RecordedFile, RunRecord, archive_key, crc64nvme_b64

BUCKET = "rmi-360-raw"
PROJECT = "RMI25320"
TS = "20251030_1430"


def sha_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class Obj:
    body: bytes
    checksums: dict[str, str] = field(default_factory=dict)
    checksum_type: str | None = "FULL_OBJECT"
    storage_class: str = "STANDARD"
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str = '"0123456789abcdef0123456789abcdef"'


def crc_obj(body: bytes, **kw) -> Obj:
    return Obj(body, {"CRC64NVME": crc64nvme_b64(body)}, **{"metadata": {"sha256": sha_hex(body)}, **kw})


def sha_obj(body: bytes, **kw) -> Obj:
    return Obj(body, {"SHA256": sha_b64(body)}, **{"metadata": {"sha256": sha_hex(body)}, **kw})


def error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeS3:
    """Objects by (key, version id); HEAD answers a checksum only with ChecksumMode, as S3 does."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None], Obj] = {}
        self.calls: list[tuple[str, dict]] = []

    def put(self, key: str, obj: Obj, version: str | None = None) -> None:
        self.objects[(key, version)] = obj

    def _find(self, key: str, version: str | None, operation: str) -> Obj:
        obj = self.objects.get((key, version))
        if obj is None:
            raise error("404" if operation == "HeadObject" else "NoSuchKey", operation)
        return obj

    def head_object(self, *, Bucket, Key, VersionId=None, ChecksumMode=None):  # noqa: N803 - boto3's names
        self.calls.append(("HEAD", {"Key": Key, "VersionId": VersionId, "ChecksumMode": ChecksumMode}))
        obj = self._find(Key, VersionId, "HeadObject")
        answer = {"ContentLength": len(obj.body), "ETag": obj.etag, "Metadata": dict(obj.metadata)}
        if obj.storage_class != "STANDARD":
            answer["StorageClass"] = obj.storage_class
        if ChecksumMode == "ENABLED":
            answer.update({f"Checksum{alg}": value for alg, value in obj.checksums.items()})
            if obj.checksum_type and obj.checksums:
                answer["ChecksumType"] = obj.checksum_type
        return answer

    def get_object(self, *, Bucket, Key, VersionId=None):  # noqa: N803 - boto3's names
        self.calls.append(("GET", {"Key": Key, "VersionId": VersionId}))
        obj = self._find(Key, VersionId, "GetObject")
        if obj.storage_class in ("GLACIER", "DEEP_ARCHIVE"):
            raise error("InvalidObjectState", "GetObject")
        return {"Body": StreamingBody(io.BytesIO(obj.body), len(obj.body)), "Metadata": dict(obj.metadata)}

    def list_objects_v2(self, *, Bucket, Prefix, ContinuationToken=None):  # noqa: N803 - boto3's names
        self.calls.append(("LIST", {"Prefix": Prefix}))
        latest = sorted({k for k, _ in self.objects if k.startswith(Prefix)})
        contents = []
        for key in latest:
            obj = next(o for (k, _), o in self.objects.items() if k == key)
            contents.append({"Key": key, "Size": len(obj.body), "StorageClass": obj.storage_class})
        return {"Contents": contents, "IsTruncated": False}

    def made(self, kind: str) -> list[dict]:
        return [params for k, params in self.calls if k == kind]


def recorded(path: str, body: bytes, *, crc: bool = True, ts: str | None = TS, version: str | None = None,
             type_name: str = "logs") -> RecordedFile:
    return RecordedFile(type_name, path, archive_key(PROJECT, type_name, ts, path), len(body), sha_hex(body),
                        version, crc64nvme_b64(body) if crc else None)


def run_record(files, ts: str | None = TS) -> RunRecord:
    return RunRecord(run_id="a" * 32, project_key=PROJECT, timestamp=ts, archive_bucket=BUCKET,
                     created_at="2025-10-30T14:30:05+00:00", files=tuple(files))


def check(s3: FakeS3, files, *, deep: bool = False, ts: str | None = TS):
    return verify_record(s3, BUCKET, run_record(files, ts), f"{PROJECT}/_runs/{TS}/runs/{'a' * 32}.json",
                         deep=deep, workers=4, chunk=7)


ONE = b"process started\nprocess ended ok\n"
TWO = b"<html>report</html>\n"


def filed(*, crc: bool = True, **obj_kw) -> tuple[FakeS3, list[RecordedFile]]:
    """Two files filed as the filer writes them: CRC64NVME (or, for an older record, SHA-256)."""
    s3 = FakeS3()
    files = [recorded("process_log.txt", ONE, crc=crc),
             recorded("report.html", TWO, crc=crc, type_name="report")]
    for f, body in zip(files, (ONE, TWO), strict=True):
        s3.put(f.key, (crc_obj if crc else sha_obj)(body, **obj_kw))
    return s3, files


def problem(result, key: str):
    (found,) = [p for p in result.problems if p.key == key]
    return found


# -- by HEAD ---------------------------------------------------------------------------------------


def test_crc_match_verifies_by_head_alone_reading_nothing():
    s3, files = filed()
    result = check(s3, files)
    assert result.ok
    assert result.files_verified == 2
    assert result.verified_by == {"CRC64NVME": 2}
    assert result.bytes_read == 0
    assert result.requests == {"HEAD": 2, "GET": 0, "LIST": len(ARTIFACT_TYPES)}
    assert all(h["ChecksumMode"] == "ENABLED" for h in s3.made("HEAD"))
    assert not s3.made("GET")


def test_crc_differs_is_different_naming_both_values():
    s3, files = filed()
    other = ONE.replace(b"ok", b"KO")
    s3.put(files[0].key, crc_obj(other, metadata={}))
    result = check(s3, files)
    p = problem(result, files[0].key)
    assert p.problem == "different"
    assert crc64nvme_b64(other) in p.detail
    assert files[0].crc64nvme in p.detail
    assert "verify --deep" in p.detail
    assert p.actual_checksum == {"algorithm": "CRC64NVME", "value": crc64nvme_b64(other),
                                 "type": "FULL_OBJECT"}
    assert p.expected_crc64nvme == files[0].crc64nvme
    assert result.files_verified == 1


def test_crc_missing_on_the_object_is_different():
    s3, files = filed()
    s3.put(files[0].key, Obj(ONE))  # same bytes, but S3 keeps no checksum: not written as recorded
    p = problem(check(s3, files), files[0].key)
    assert p.problem == "different"
    assert "S3 holds no checksum, not the CRC64NVME" in p.detail
    assert p.actual_checksum is None


def test_another_algorithm_where_the_record_has_a_crc_is_different():
    s3, files = filed()
    s3.put(files[0].key, sha_obj(ONE))  # the right bytes, with a SHA-256 S3 keeps instead
    p = problem(check(s3, files), files[0].key)
    assert p.problem == "different"
    assert "a full-object SHA256 checksum" in p.detail
    assert p.actual_sha256 == sha_hex(ONE)


def test_old_record_verifies_by_a_full_object_sha256():
    s3, files = filed(crc=False)
    result = check(s3, files)
    assert result.ok
    assert result.verified_by == {"SHA256": 2}
    assert result.bytes_read == 0


def test_old_record_with_another_full_object_sha256_is_different():
    s3, files = filed(crc=False)
    other = ONE.replace(b"ok", b"KO")
    s3.put(files[0].key, Obj(other, {"SHA256": sha_b64(other)}))
    p = problem(check(s3, files), files[0].key)
    assert p.problem == "different"
    assert p.actual_sha256 == sha_hex(other) != files[0].sha256
    assert sha_hex(other) in p.detail


@pytest.mark.parametrize("obj", [
    Obj(ONE, {"SHA256": sha_b64(ONE[:5]) + "-2"}, "COMPOSITE"),          # S3 and LocalStack
    Obj(ONE, {"SHA256": sha_b64(ONE[:5])}, None, etag='"abc-2"'),         # moto: no type, multipart ETag
    Obj(ONE),                                                              # no checksum at all
    Obj(ONE, {"CRC32": "6LiFlw=="}),                                       # another algorithm
], ids=["composite", "composite-untyped", "absent", "crc32"])
def test_old_record_without_a_full_object_sha256_is_unchecked_not_passed(obj):
    s3, files = filed(crc=False)
    s3.put(files[0].key, obj)
    result = check(s3, files)
    assert not result.ok
    assert not result.problems
    (unchecked,) = result.unchecked
    assert unchecked["key"] == files[0].key
    assert unchecked["needs"] == "deep"
    assert unchecked["detail"].startswith("recorded before full-object checksums")
    assert "`verify --deep` reads it" in unchecked["detail"]
    assert result.files_verified == 1


def test_size_differs_is_different_whatever_the_checksum():
    s3, files = filed()
    s3.put(files[0].key, Obj(ONE + b"!", {"CRC64NVME": files[0].crc64nvme}))
    p = problem(check(s3, files), files[0].key)
    assert p.problem == "different"
    assert p.actual_size == len(ONE) + 1
    assert "size differs" in p.detail


def test_sha256_metadata_other_than_the_record_is_different():
    s3, files = filed()
    s3.put(files[0].key, crc_obj(ONE, metadata={"sha256": "0" * 64}))
    p = problem(check(s3, files), files[0].key)
    assert p.problem == "different"
    assert "sha256 metadata" in p.detail


def test_missing_object_is_missing_without_a_head():
    s3, files = filed()
    del s3.objects[(files[1].key, None)]
    result = check(s3, files)
    assert problem(result, files[1].key).problem == "missing"
    assert [h["Key"] for h in s3.made("HEAD")] == [files[0].key]  # the listing already said so


def test_untimestamped_file_is_headed_at_its_recorded_version():
    s3 = FakeS3()
    mine = recorded("process_log.txt", ONE, ts=None, version="v1")
    s3.put(mine.key, crc_obj(ONE), version="v1")
    s3.put(mine.key, crc_obj(TWO), version="v2")  # a later upload's copy, the latest
    gone = recorded("gone.txt", TWO, ts=None, version="v9")
    result = check(s3, [mine, gone], ts=None)
    assert result.files_verified == 1
    assert problem(result, gone.key).problem == "missing"  # a 404 of its HEAD
    assert sorted(h["VersionId"] for h in s3.made("HEAD")) == ["v1", "v9"]
    assert result.requests == {"HEAD": 2, "GET": 0, "LIST": 0}


def test_glacier_object_is_verified_by_head_without_restore():
    s3, files = filed(storage_class="GLACIER")
    s3.put(files[1].key, crc_obj(TWO, storage_class="DEEP_ARCHIVE"))
    result = check(s3, files)
    assert result.ok
    assert result.files_verified == 2
    assert not result.unchecked


def test_old_record_in_glacier_without_full_object_sha256_needs_a_restore():
    s3, files = filed(crc=False)
    s3.put(files[0].key, Obj(ONE, {"SHA256": "x-3"}, "COMPOSITE", storage_class="GLACIER"))
    (unchecked,) = check(s3, files).unchecked
    assert unchecked["needs"] == "restore"
    assert unchecked["storage_class"] == "GLACIER"
    assert "restore it, then `verify --deep`" in unchecked["detail"]


# -- by reading ------------------------------------------------------------------------------------


def test_deep_reads_and_hashes_every_byte():
    s3, files = filed()
    # A lying stored checksum passes a HEAD but not a reading.
    other = ONE.replace(b"ok", b"KO")
    s3.put(files[0].key, Obj(other, {"CRC64NVME": files[0].crc64nvme}, metadata={}))
    assert check(s3, files).ok
    s3.calls.clear()
    result = check(s3, files, deep=True)
    assert result.mode == "deep"
    assert problem(result, files[0].key).detail == "its SHA-256 differs from the run record"
    assert problem(result, files[0].key).actual_sha256 == sha_hex(other)
    assert result.verified_by == {"bytes": 1}
    assert result.bytes_read == len(other) + len(TWO)
    assert result.requests == {"HEAD": 0, "GET": 2, "LIST": len(ARTIFACT_TYPES)}


def test_deep_leaves_glacier_objects_unchecked_until_restored():
    s3, files = filed(storage_class="GLACIER")
    result = check(s3, files, deep=True)
    assert not result.problems
    assert result.files_verified == 0
    assert [(u["needs"], u["storage_class"]) for u in result.unchecked] == [("restore", "GLACIER")] * 2
    assert result.bytes_read == 0


def test_deep_settles_an_old_record_a_head_cannot():
    s3, files = filed(crc=False)
    s3.put(files[0].key, Obj(ONE, {"SHA256": "x-2"}, "COMPOSITE"))
    assert check(s3, files).unchecked
    result = check(s3, files, deep=True)
    assert result.ok
    assert result.verified_by == {"bytes": 2}


# -- what S3 answered, and the whole-project call ----------------------------------------------------


def test_stored_checksum_kinds():
    crc = crc64nvme_b64(ONE)
    assert stored_checksum({"ChecksumCRC64NVME": crc, "ChecksumType": "FULL_OBJECT"}) == StoredChecksum(
        "CRC64NVME", crc, False)
    assert stored_checksum({"ChecksumCRC64NVME": crc, "ETag": '"a-3"'}).composite is False
    assert stored_checksum({"ChecksumSHA256": "abc=-3"}).composite is True
    assert stored_checksum({"ChecksumSHA256": "abc=", "ETag": '"a-3"'}).composite is True
    assert stored_checksum({"ChecksumSHA256": "abc=", "ETag": '"a"'}).composite is False
    assert stored_checksum({"ChecksumSHA256": "abc=", "ChecksumType": "COMPOSITE"}).composite is True
    assert stored_checksum({"ETag": '"a"'}) is None


def test_compare_head_is_by_size_first():
    f = recorded("a.txt", ONE)
    stored = Stored(len(ONE) - 1, "STANDARD", StoredChecksum("CRC64NVME", f.crc64nvme, False), None)
    assert "size differs" in compare_head(f, stored).detail
    assert compare_head(f, replace(stored, size=len(ONE))).by == "CRC64NVME"


def test_whole_project_counts_every_request_and_formats_them():
    s3, files = filed()
    record = run_record(files)
    s3.put(f"{PROJECT}/_runs/{TS}/runs/{record.run_id}.json", Obj(record.to_json()))
    result = verify(s3, BUCKET, PROJECT, workers=2)
    assert result.ok
    assert result.files == result.files_verified == 2
    assert result.mode == "head"
    assert result.requests["HEAD"] == 2
    assert result.requests["GET"] == 1
    assert result.requests == {k: sum(1 for c, _ in s3.calls if c == k) for k in ("HEAD", "GET", "LIST")}
    data = result.to_dict()
    assert data["requests"] == result.requests
    assert data["verified_by"] == {"CRC64NVME": 2}
    assert data["unchecked_needs"] == {"restore": 0, "deep": 0}
    assert data["runs"][0]["requests"]["HEAD"] == 2
    text = format_verify(result)
    assert "by S3's checksums" in text
    assert f"{sum(result.requests.values())} requests: 2 HEAD, 1 GET, " in text
    assert "0 B read" in text
