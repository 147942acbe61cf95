"""``artifact-backup verify`` end to end: runs filed by the real client and filer on the embedded S3
server, then the archive changed behind the filer's back (an object overwritten, one deleted, one
added, a run moved to Glacier) and checked through the command line, by the checksums S3 keeps (one
HEAD per file) and by reading every byte (``--deep``)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pytest
from botocore.config import Config

from artifact_backup import backup_run, load_config
from artifact_backup.archive.verify import verify
from artifact_backup.cli import main
from artifact_backup.exceptions import (
    EXIT_CORRUPT,
    EXIT_DEEP_NEEDED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_RESTORE_NEEDED,
)
from artifact_backup.local import LOCAL_CREDENTIALS
from artifact_backup.local.sample import make_sample_project
from artifact_contract import RunRecord, crc64nvme_b64

pytestmark = pytest.mark.integration

RUN_A = "20251030_0900"
RUN_B = "20251030_1430"


@pytest.fixture
def project(local_stack, s3, tmp_path: Path, project_key: str, isolated_cache):
    folder = make_sample_project(tmp_path / "projects", project_key)
    config = tmp_path / "config.yaml"
    config.write_text(f'project:\n  slug: "{project_key}"\n{local_stack.config_block()}', encoding="utf-8")
    for stamp in (RUN_A, RUN_B):
        result = backup_run(folder, settings=load_config(config), project_key=project_key,
                            include=["config", "logs", "report", "gis_data"], timestamp=stamp,
                            config_path=config)
        assert result.status == "filed"
    return project_key, config


def _record_key(s3, bucket: str, project_key: str, stamp: str) -> str:
    """The one upload's record at ``stamp`` (``_runs/{ts}/runs/{run_id}.json``)."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{project_key}/_runs/{stamp}/runs/")
    (key,) = [o["Key"] for o in listed.get("Contents", [])]
    return key


def _record(s3, bucket: str, project_key: str, stamp: str) -> RunRecord:
    raw = s3.get_object(Bucket=bucket, Key=_record_key(s3, bucket, project_key, stamp))["Body"].read()
    return RunRecord.from_json(raw)


def _cli(capsys, config: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["verify", *argv, "--config", str(config)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys, config: Path, *argv: str, expect: int = EXIT_OK) -> dict:
    code, out, err = _cli(capsys, config, *argv, "--json")
    assert code == expect, err
    return json.loads(out)


def test_an_untouched_run_verifies(project, capsys):
    project_key, config = project
    code, out, err = _cli(capsys, config, project_key, RUN_B)
    assert code == EXIT_OK, err
    assert f"Run {RUN_B} of {project_key}: OK" in out
    assert "everything matches its run record" in out
    assert "by S3's checksums" in out

    data = _json(capsys, config, project_key)
    assert data["ok"] is True
    assert data["runs_checked"] == 2
    assert data["counts"] == {"missing": 0, "different": 0, "extra": 0, "record-invalid": 0}
    assert data["files_verified"] == data["files"] == sum(r["files"] for r in data["runs"]) > 10


def test_by_head_one_head_per_file_and_no_byte_read_deep_reads_them_all(project, local_stack, s3, capsys):
    """The whole project as filed, both ways: by HEAD nothing is read; --deep reads every byte, one
    GET each."""
    project_key, config = project
    bucket = local_stack.names.archive_bucket
    data = _json(capsys, config, project_key)
    files = data["files"]
    assert data["mode"] == "head"
    assert data["bytes_read"] == 0
    # As filed, every record names the ETag of each object the filer wrote: the LIST settles them.
    assert data["requests"]["HEAD"] == 0
    assert data["verified_by"] == {"ETag": files}
    for run in data["runs"]:
        assert run["requests"] == {"HEAD": 0, "GET": 0, "LIST": 4}  # one LIST per type folder
    record_reads = data["requests"]["GET"]
    assert record_reads >= 2  # the two run records, nothing else

    # Records that name no ETag (an earlier attempt's writes, older filers): one HEAD per file.
    records = [_refile(s3, bucket, project_key, stamp, crc=True) for stamp in (RUN_A, RUN_B)]
    heads = _json(capsys, config, project_key)
    assert heads["requests"]["HEAD"] == files
    assert heads["bytes_read"] == 0
    assert heads["verified_by"] == _settled_by(dataclasses.replace(
        records[0], files=records[0].files + records[1].files))
    for run in heads["runs"]:
        assert run["requests"] == {"HEAD": run["files"], "GET": 0, "LIST": 4}

    deep = _json(capsys, config, project_key, "--deep")
    assert deep["mode"] == "deep"
    assert deep["files_verified"] == files
    assert deep["verified_by"] == {"bytes": files}
    assert deep["bytes_read"] == sum(r["bytes_read"] for r in deep["runs"]) > 2 * 200_000
    assert deep["requests"]["HEAD"] == 0
    assert deep["requests"]["GET"] == files + record_reads
    code, out, _ = _cli(capsys, config, project_key, RUN_A, "--deep")
    assert code == EXIT_OK
    assert "read and hashed (--deep)" in out


def test_tampered_deleted_and_extra_objects_are_reported(project, local_stack, s3, capsys):
    project_key, config = project
    bucket = local_stack.names.archive_bucket
    record = _record(s3, bucket, project_key, RUN_B)
    by_path = {f"{f.type}/{f.path}": f for f in record.files}
    tampered = by_path["logs/process_log.txt"]
    deleted = by_path["report/report.html"]
    same_size = s3.get_object(Bucket=bucket, Key=tampered.key)["Body"].read().replace(b"ok", b"KO")
    s3.put_object(Bucket=bucket, Key=tampered.key, Body=same_size, ChecksumAlgorithm="SHA256",
                  Metadata={"sha256": tampered.sha256})  # the metadata still claims the old checksum
    s3.delete_object(Bucket=bucket, Key=deleted.key)
    extra = f"{project_key}/logs/{RUN_B}/sneaked_in.log"
    s3.put_object(Bucket=bucket, Key=extra, Body=b"not filed by the filer\n")
    stray_type = f"{project_key}/gis_data/{RUN_B}/stray.gpkg"  # under another type's folder
    s3.put_object(Bucket=bucket, Key=stray_type, Body=b"x")

    code, out, err = _cli(capsys, config, project_key, RUN_B)
    assert code == EXIT_CORRUPT
    assert f"Run {RUN_B} of {project_key}: PROBLEMS" in out
    assert "error: the archive differs from the run records" in err
    assert "verify --deep" in err
    for key in (tampered.key, deleted.key, extra, stray_type):
        assert key in out

    for deep in ((), ("--deep",)):
        data = _json(capsys, config, project_key, *deep, expect=EXIT_CORRUPT)
        assert data["ok"] is False
        assert data["error"]["code"] == "verify-failed"
        assert data["error"]["exit_code"] == EXIT_CORRUPT
        result = data["result"]
        assert result["counts"] == {"missing": 1, "different": 1, "extra": 2, "record-invalid": 0}
        runs = {r["run"]: r for r in result["runs"]}
        assert runs[RUN_A]["ok"] is True
        problems = {p["key"]: p for p in runs[RUN_B]["problems"]}
        assert problems[tampered.key]["problem"] == "different"
        assert problems[tampered.key]["expected_sha256"] == tampered.sha256
        assert problems[tampered.key]["actual_sha256"] != tampered.sha256
        assert problems[tampered.key]["actual_size"] == tampered.size
        assert problems[deleted.key]["problem"] == "missing"
        assert problems[extra]["problem"] == "extra"
        assert runs[RUN_B]["files_verified"] == runs[RUN_B]["files"] - 2
    assert problems[tampered.key]["detail"] == "its SHA-256 differs from the run record"
    assert result["bytes_read"] > 0


def _refile(s3, bucket: str, project_key: str, stamp: str, *, crc: bool) -> RunRecord:
    """Make a filed run what the filer writes with the client's CRC64NVME (``crc``: every object
    holding it as S3's checksum, the record naming it), or what it wrote before (a SHA-256 of the
    whole object, a record without CRC64NVME); either way a record naming no ETag, so every file
    is asked by HEAD. The bytes and metadata stay."""
    key = _record_key(s3, bucket, project_key, stamp)
    record = _record(s3, bucket, project_key, stamp)
    files = []
    for f in record.files:
        got = s3.get_object(Bucket=bucket, Key=f.key)
        body = got["Body"].read()
        s3.put_object(Bucket=bucket, Key=f.key, Body=body, Metadata=got["Metadata"],
                      ChecksumAlgorithm="CRC64NVME" if crc else "SHA256")
        files.append(dataclasses.replace(f, crc64nvme=crc64nvme_b64(body) if crc else None, etag=None))
    record = dataclasses.replace(record, files=tuple(files))
    s3.put_object(Bucket=bucket, Key=key, Body=record.to_json())
    return record


def _settled_by(record: RunRecord) -> dict[str, int]:
    """What a HEAD settles each file of a record the filer wrote by: its CRC64NVME, or an older
    record's SHA-256."""
    return dict(Counter("CRC64NVME" if f.crc64nvme else "SHA256" for f in record.files))


def _no_checksum_client(local_stack):
    """A client that sends no checksum of its own (S3 then computes its default, or moto none)."""
    import boto3

    return boto3.client("s3", endpoint_url=local_stack.endpoint_url, region_name=local_stack.region,
                        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                        config=Config(request_checksum_calculation="when_required"))


def test_crc_records_verify_by_head_and_objects_overwritten_are_different(project, local_stack, s3,
                                                                         capsys):
    """A record naming CRC64NVME: a matching object verifies by HEAD; one overwritten behind the
    filer's back (same size, other bytes) with another checksum, or none, is different both ways."""
    project_key, config = project
    bucket = local_stack.names.archive_bucket
    record = _refile(s3, bucket, project_key, RUN_B, crc=True)
    data = _json(capsys, config, project_key, RUN_B)
    assert data["verified_by"] == {"CRC64NVME": len(record.files)}
    assert data["runs"][0]["requests"]["HEAD"] == len(record.files)
    assert data["bytes_read"] == 0

    by_path = {f"{f.type}/{f.path}": f for f in record.files}
    crc32, bare = by_path["logs/process_log.txt"], by_path["logs/exiftool_log.txt"]
    for f, client in ((crc32, s3), (bare, _no_checksum_client(local_stack))):
        body = s3.get_object(Bucket=bucket, Key=f.key)["Body"].read()
        client.put_object(Bucket=bucket, Key=f.key, Body=body[::-1], Metadata={"sha256": f.sha256})

    result = _json(capsys, config, project_key, RUN_B, expect=EXIT_CORRUPT)["result"]
    problems = {p["key"]: p for p in result["runs"][0]["problems"]}
    assert set(problems) == {crc32.key, bare.key}
    assert all(p["problem"] == "different" for p in problems.values())
    assert problems[crc32.key]["actual_checksum"]["algorithm"] == "CRC32"
    assert "not the CRC64NVME" in problems[crc32.key]["detail"]
    assert "`verify --deep` reads the bytes to settle it" in problems[crc32.key]["detail"]
    assert problems[bare.key]["expected_crc64nvme"] == bare.crc64nvme
    # moto keeps no checksum for such a put; S3 (and LocalStack) computes its CRC64NVME default.
    stored = problems[bare.key]["actual_checksum"]
    if stored is not None:
        assert stored["algorithm"] == "CRC64NVME"
        assert stored["value"] != bare.crc64nvme
    assert result["bytes_read"] == 0

    deep = _json(capsys, config, project_key, RUN_B, "--deep", expect=EXIT_CORRUPT)["result"]
    differs = "its SHA-256 differs from the run record"
    found = {p["key"]: p["detail"] for p in deep["runs"][0]["problems"]}
    assert found == {crc32.key: differs, bare.key: differs}


def test_an_old_record_is_settled_by_deep_where_s3_holds_no_full_object_sha256(project, local_stack, s3,
                                                                             capsys):
    """A record without CRC64NVME, its objects rewritten with another checksum, none, or a composite
    SHA-256 (a multipart upload): not passed by HEAD (exit 11), settled by --deep."""
    project_key, config = project
    bucket = local_stack.names.archive_bucket
    record = _refile(s3, bucket, project_key, RUN_A, crc=False)
    by_path = {f"{f.type}/{f.path}": f for f in record.files}
    crc32, bare, parts = (by_path["logs/process_log.txt"], by_path["logs/exiftool_log.txt"],
                          by_path["report/report.html"])
    tampered = s3.get_object(Bucket=bucket, Key=crc32.key)["Body"].read()[::-1]
    s3.put_object(Bucket=bucket, Key=crc32.key, Body=tampered, Metadata={"sha256": crc32.sha256})
    body = s3.get_object(Bucket=bucket, Key=bare.key)["Body"].read()
    _no_checksum_client(local_stack).put_object(Bucket=bucket, Key=bare.key, Body=body,
                                                Metadata={"sha256": bare.sha256})
    body = s3.get_object(Bucket=bucket, Key=parts.key)["Body"].read()
    upload = s3.create_multipart_upload(Bucket=bucket, Key=parts.key, ChecksumAlgorithm="SHA256",
                                        Metadata={"sha256": parts.sha256})
    part = s3.upload_part(Bucket=bucket, Key=parts.key, UploadId=upload["UploadId"], PartNumber=1,
                          Body=body, ChecksumAlgorithm="SHA256")
    s3.complete_multipart_upload(
        Bucket=bucket, Key=parts.key, UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"],
                                    "ChecksumSHA256": part["ChecksumSHA256"]}]})

    code, out, err = _cli(capsys, config, project_key, RUN_A)
    assert code == EXIT_DEEP_NEEDED, err
    assert "not settled by S3's checksums (3, `verify --deep` reads them)" in out
    assert f"Run {RUN_A} of {project_key}: NOT ALL CHECKED" in out
    assert f"artifact-backup verify {project_key} {RUN_A} --deep reads them" in err
    data = _json(capsys, config, project_key, RUN_A, expect=EXIT_DEEP_NEEDED)
    assert data["ok"] is False
    assert data["unchecked_needs"] == {"restore": 0, "deep": 3}
    assert {u["key"] for u in data["runs"][0]["unchecked"]} == {crc32.key, bare.key, parts.key}
    assert data["files_verified"] == len(record.files) - 3

    deep = _json(capsys, config, project_key, RUN_A, "--deep", expect=EXIT_CORRUPT)["result"]
    assert [p["key"] for p in deep["runs"][0]["problems"]] == [crc32.key]
    assert deep["files_verified"] == len(record.files) - 1
    assert deep["unchecked"] == 0


def test_a_run_in_glacier_is_verified_without_restore_and_deep_needs_one(project, local_stack, s3, capsys):
    """The lifecycle's transition, as a copy in place to GLACIER keeps the object's checksum."""
    project_key, config = project
    bucket = local_stack.names.archive_bucket
    _refile(s3, bucket, project_key, RUN_A, crc=True)
    _refile(s3, bucket, project_key, RUN_B, crc=False)
    for stamp in (RUN_A, RUN_B):  # a record with CRC64NVME, and one older than it
        record = _record(s3, bucket, project_key, stamp)
        for f in record.files:
            s3.copy_object(Bucket=bucket, Key=f.key, CopySource={"Bucket": bucket, "Key": f.key},
                           StorageClass="GLACIER")
    assert s3.head_object(Bucket=bucket, Key=record.files[0].key)["StorageClass"] == "GLACIER"

    data = _json(capsys, config, project_key)
    files = data["files"]
    assert data["files_verified"] == files
    assert data["bytes_read"] == 0
    assert data["unchecked"] == 0
    assert {r["run"]: r["verified_by"] for r in data["runs"]} == {
        RUN_A: {"CRC64NVME": files // 2}, RUN_B: {"SHA256": files // 2}}

    code, out, err = _cli(capsys, config, project_key, "--deep")
    assert code == EXIT_RESTORE_NEEDED
    assert f"not checked ({files // 2}, restore first)" in out
    assert "artifact-backup restore" in err
    deep = _json(capsys, config, project_key, "--deep", expect=EXIT_RESTORE_NEEDED)
    assert deep["unchecked"] == files
    assert deep["unchecked_needs"] == {"restore": files, "deep": 0}
    assert deep["files_verified"] == 0
    assert deep["bytes_read"] == 0
    assert all(u["storage_class"] == "GLACIER" for r in deep["runs"] for u in r["unchecked"])


def test_runs_as_filed_in_glacier_are_settled_by_their_listed_etags(project, local_stack, s3, capsys):
    """The lifecycle keeps an object's ETag and checksum: as filed, a run in Glacier is verified from
    its LIST alone; an object replaced there (another ETag) is asked by HEAD and found different."""
    project_key, config = project
    bucket = local_stack.names.archive_bucket
    record = _record(s3, bucket, project_key, RUN_A)
    assert all(f.etag for f in record.files)
    for f in record.files:
        s3.copy_object(Bucket=bucket, Key=f.key, CopySource={"Bucket": bucket, "Key": f.key},
                       StorageClass="GLACIER")
    data = _json(capsys, config, project_key, RUN_A)
    assert data["files_verified"] == len(record.files)
    assert data["unchecked"] == 0
    assert data["bytes_read"] == 0
    assert data["requests"]["HEAD"] == 0

    replaced = record.files[0]
    s3.put_object(Bucket=bucket, Key=replaced.key, Body=b"y" * replaced.size, StorageClass="GLACIER",
                  ChecksumAlgorithm="CRC64NVME", Metadata={"sha256": replaced.sha256})
    result = _json(capsys, config, project_key, RUN_A, expect=EXIT_CORRUPT)["result"]
    assert [(p["key"], p["problem"]) for p in result["runs"][0]["problems"]] == [(replaced.key, "different")]
    assert result["runs"][0]["requests"]["HEAD"] == 1


def test_library_call_reads_every_byte_once(project, local_stack, s3):
    project_key, _ = project
    bucket = local_stack.names.archive_bucket
    result = verify(s3, bucket, project_key, RUN_A, deep=True, workers=4, chunk=4096)
    record = _record(s3, bucket, project_key, RUN_A)
    assert result.ok
    assert [r.label for r in result.runs] == [RUN_A]
    assert result.bytes_read == record.bytes
    assert result.files_verified == len(record.files)


def test_a_damaged_run_record_is_reported(project, local_stack, s3, capsys):
    project_key, config = project
    bucket = local_stack.names.archive_bucket
    s3.put_object(Bucket=bucket, Key=_record_key(s3, bucket, project_key, RUN_A), Body=b"{not json")
    code, out, _ = _cli(capsys, config, project_key, "--json")
    assert code == EXIT_CORRUPT
    result = json.loads(out)["result"]
    assert result["counts"]["record-invalid"] == 1
    assert [r["run"] for r in result["runs"]] == [RUN_B]


def test_an_unknown_run_or_project_exits_not_found(project, capsys):
    project_key, config = project
    code, _, err = _cli(capsys, config, project_key, "20200101_0000")
    assert code == EXIT_NOT_FOUND
    assert "no run 20200101_0000" in err
    code, _, err = _cli(capsys, config, f"{project_key}-none")
    assert code == EXIT_NOT_FOUND
    assert "has no run in the archive" in err
