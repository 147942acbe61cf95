"""The uploader's and the filer's policies, as synthesized, enforced by the local S3 server's IAM.

Each can do its job and is refused beyond it; how the server enforces them, and what the tests do
that it does not, is told in ``enforced_support``.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from enforced_support import (
    ARCHIVE,
    ARTIFACT,
    MANIFEST,
    PIECE,
    PROGRESS,
    QUARANTINED,
    RECEIPT,
    REEL,
    RUN,
    RUN_RECORD,
    STAGING,
    TAGS,
    Enforced,
    denied,
)

#: IAM enforcement is moto's own (INITIAL_NO_AUTH_ACTION_COUNT): LocalStack's community edition does
#: not enforce IAM, so this module starts moto whatever ARTIFACT_BACKUP_S3_BACKEND says.
pytestmark = pytest.mark.moto_api

# --- uploader --------------------------------------------------------------------------------------


def test_uploader_uploads_a_run_and_reads_its_receipt(enforced: Enforced) -> None:
    s3 = enforced.s3("uploader")
    s3.put_object(Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'c' * 64}", Body=b"blob")
    upload = s3.create_multipart_upload(Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'d' * 64}")
    part = s3.upload_part(
        Bucket=STAGING,
        Key=f"incoming/{RUN}/blobs/{'d' * 64}",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"p",
    )
    s3.list_parts(Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'d' * 64}", UploadId=upload["UploadId"])
    s3.complete_multipart_upload(
        Bucket=STAGING,
        Key=f"incoming/{RUN}/blobs/{'d' * 64}",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    aborted = s3.create_multipart_upload(Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'e' * 64}")
    s3.abort_multipart_upload(
        Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'e' * 64}", UploadId=aborted["UploadId"]
    )
    s3.put_object(Bucket=STAGING, Key=MANIFEST, Body=b"{}")
    assert s3.get_object(Bucket=STAGING, Key=RECEIPT)["Body"].read() == b"staged"
    assert s3.list_objects_v2(Bucket=STAGING, Prefix="incoming")["KeyCount"] >= 3


def test_uploader_cannot_read_or_delete_other_staging_objects(enforced: Enforced) -> None:
    s3 = enforced.s3("uploader")
    denied(s3.get_object, Bucket=STAGING, Key=PIECE)
    denied(s3.head_object, Bucket=STAGING, Key=PIECE)
    denied(s3.get_object, Bucket=STAGING, Key=QUARANTINED)
    denied(s3.delete_object, Bucket=STAGING, Key=PIECE)
    denied(s3.delete_object, Bucket=STAGING, Key=RECEIPT)
    denied(s3.put_object, Bucket=STAGING, Key=RECEIPT, Body=b"forged receipt")
    denied(s3.put_object, Bucket=STAGING, Key=QUARANTINED, Body=b"x")
    denied(s3.put_object, Bucket=STAGING, Key="elsewhere/x", Body=b"x")
    denied(s3.put_bucket_policy, Bucket=STAGING, Policy="{}")
    # The filer trusts its progress notes (what it verified): no client may write or delete them;
    # an upload waiting for its receipt reads its own project's to show what the filer is doing.
    denied(s3.put_object, Bucket=STAGING, Key=PROGRESS, Body=b"forged progress")
    denied(s3.delete_object, Bucket=STAGING, Key=PROGRESS)
    assert s3.get_object(Bucket=STAGING, Key=PROGRESS)["Body"].read() == b"staged"


def test_uploader_cannot_read_delete_or_overwrite_any_archive_object(enforced: Enforced) -> None:
    s3 = enforced.s3("uploader")
    for key in (ARTIFACT, REEL, RUN_RECORD):
        denied(s3.get_object, Bucket=ARCHIVE, Key=key)
        denied(s3.head_object, Bucket=ARCHIVE, Key=key)
        denied(s3.put_object, Bucket=ARCHIVE, Key=key, Body=b"overwritten")
        denied(s3.delete_object, Bucket=ARCHIVE, Key=key)
        denied(s3.put_object_tagging, Bucket=ARCHIVE, Key=key, Tagging={"TagSet": []})
        denied(s3.create_multipart_upload, Bucket=ARCHIVE, Key=key)
    denied(s3.list_objects_v2, Bucket=ARCHIVE)
    denied(s3.list_object_versions, Bucket=ARCHIVE)
    version = enforced.s3("admin").head_object(Bucket=ARCHIVE, Key=ARTIFACT)
    denied(s3.delete_object, Bucket=ARCHIVE, Key=ARTIFACT, VersionId=version["VersionId"])
    denied(s3.get_object, Bucket=ARCHIVE, Key=ARTIFACT, VersionId=version["VersionId"])
    assert enforced.s3("admin").get_object(Bucket=ARCHIVE, Key=ARTIFACT)["Body"].read() == b"filed"


# --- filer -----------------------------------------------------------------------------------------


def test_filer_does_each_step_of_the_protocol(enforced: Enforced) -> None:
    # Every write to a timestamped key carries If-None-Match, as the filer's do.
    s3 = enforced.s3("filer-conforming")
    run = "RMI25320/fedcba9876543210fedcba9876543210"
    admin = enforced.s3("admin")
    admin.put_object(Bucket=STAGING, Key=f"incoming/{run}/packs/{'f' * 64}.tar.gz", Body=b"pack")
    admin.put_object(Bucket=STAGING, Key=f"incoming/{run}/manifest.json", Body=b"{}")
    # 2. already done? 3. read the manifest; 5. verify pieces
    with pytest.raises(ClientError, match="404|NoSuchKey|Not Found"):
        s3.head_object(Bucket=STAGING, Key=f"receipts/{run}.json")
    assert s3.get_object(Bucket=STAGING, Key=f"incoming/{run}/manifest.json")["Body"].read() == b"{}"
    s3.head_object(Bucket=STAGING, Key=f"incoming/{run}/packs/{'f' * 64}.tar.gz")
    listed = s3.list_objects_v2(Bucket=STAGING, Prefix="incoming")
    assert {f"incoming/{run}/manifest.json"} <= {o["Key"] for o in listed["Contents"]}
    # 4. already filed? 6. claim one type, and release it (or take a stale one over) on its ETag
    record = "RMI25320/_runs/20251031_0900/runs/fedcba9876543210fedcba9876543210.json"
    with pytest.raises(ClientError, match="404|NoSuchKey|Not Found"):
        s3.head_object(Bucket=ARCHIVE, Key=record)
    claim = "RMI25320/_runs/20251031_0900/claims/logs.json"
    s3.put_object(Bucket=ARCHIVE, Key=claim, Body=b"{}", IfNoneMatch="*")
    held = s3.get_object(Bucket=ARCHIVE, Key=claim)
    assert held["Body"].read() == b"{}"
    s3.put_object(Bucket=ARCHIVE, Key=claim, Body=b'{"released": true}', IfMatch=held["ETag"])
    # 7. file: a packed member written with tags, a blob copied server-side, tags set
    key = "RMI25320/logs/20251031_0900/process_log.txt"
    s3.put_object(Bucket=ARCHIVE, Key=key, Body=b"log", Tagging=TAGS, IfNoneMatch="*")
    s3.copy_object(
        Bucket=ARCHIVE,
        Key="RMI25320/gis_data/20251031_0900/big.gpkg",
        CopySource={"Bucket": STAGING, "Key": f"incoming/{run}/packs/{'f' * 64}.tar.gz"},
        TaggingDirective="REPLACE",
        Tagging=TAGS,
        IfNoneMatch="*",
    )
    assert s3.head_object(Bucket=ARCHIVE, Key=key)["ContentLength"] == 3
    # 8. record; 9. clean; 10. receipt, then the manifest goes
    s3.put_object(Bucket=ARCHIVE, Key=record, Body=b"{}", IfNoneMatch="*")
    assert s3.list_objects_v2(Bucket=ARCHIVE, Prefix="RMI25320")["KeyCount"] >= 4
    s3.delete_object(Bucket=STAGING, Key=f"incoming/{run}/packs/{'f' * 64}.tar.gz")
    s3.put_object(Bucket=STAGING, Key=f"receipts/{run}.json", Body=b"{}")
    s3.delete_object(Bucket=STAGING, Key=f"incoming/{run}/manifest.json")
    assert s3.get_object(Bucket=STAGING, Key=f"receipts/{run}.json")["Body"].read() == b"{}"


def test_filer_files_an_untimestamped_run_over_its_own_earlier_versions(enforced: Enforced) -> None:
    """Whether the archive keeps versions, then (a long filing) its own version found again."""
    s3 = enforced.s3("filer")
    assert s3.get_bucket_versioning(Bucket=ARCHIVE)["Status"] == "Enabled"
    key = "RMI25320/config/settings.json"
    first = s3.put_object(Bucket=ARCHIVE, Key=key, Body=b"first", Tagging=TAGS)["VersionId"]
    s3.put_object(Bucket=ARCHIVE, Key=key, Body=b"second", Tagging=TAGS)
    listed = s3.list_object_versions(Bucket=ARCHIVE, Prefix="RMI25320")
    assert first in {v["VersionId"] for v in listed["Versions"] if v["Key"] == key}
    assert s3.get_object(Bucket=ARCHIVE, Key=key, VersionId=first)["Body"].read() == b"first"
    denied(s3.delete_object, Bucket=ARCHIVE, Key=key, VersionId=first)


def test_reader_reads_an_earlier_untimestamped_run_at_its_version(enforced: Enforced) -> None:
    admin = enforced.s3("admin")
    key = "RMI25320/config/config.yaml"
    first = admin.put_object(Bucket=ARCHIVE, Key=key, Body=b"a: 1", Tagging=TAGS)["VersionId"]
    admin.put_object(Bucket=ARCHIVE, Key=key, Body=b"a: 2", Tagging=TAGS)
    s3 = enforced.s3("reader")
    assert s3.get_object(Bucket=ARCHIVE, Key=key, VersionId=first)["Body"].read() == b"a: 1"
    assert s3.head_object(Bucket=ARCHIVE, Key=key, VersionId=first)["ContentLength"] == 4
    denied(s3.delete_object, Bucket=ARCHIVE, Key=key, VersionId=first)
    denied(s3.put_object, Bucket=ARCHIVE, Key=key, Body=b"overwritten")
    assert admin.get_object(Bucket=ARCHIVE, Key=key, VersionId=first)["Body"].read() == b"a: 1"


def test_filer_keeps_progress_notes_on_a_long_filing(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    key = "progress/RMI25320/00000000000000000000000000000002.json"
    with pytest.raises(ClientError, match="404|NoSuchKey|Not Found"):
        s3.get_object(Bucket=STAGING, Key=key)
    s3.put_object(Bucket=STAGING, Key=key, Body=b"{}")
    assert s3.get_object(Bucket=STAGING, Key=key)["Body"].read() == b"{}"
    s3.delete_object(Bucket=STAGING, Key=key)


def test_filer_moves_a_refused_run_to_quarantine(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    run = "RMI25320/00000000000000000000000000000001"
    source = f"incoming/{run}/blobs/{'9' * 64}"
    enforced.s3("admin").put_object(Bucket=STAGING, Key=source, Body=b"bad")
    s3.copy_object(
        Bucket=STAGING,
        Key=f"quarantine/{run}/blobs/{'9' * 64}",
        CopySource={"Bucket": STAGING, "Key": source},
    )
    s3.delete_object(Bucket=STAGING, Key=source)
    s3.put_object(Bucket=STAGING, Key=f"receipts/{run}.json", Body=b'{"status": "refused"}')


def test_filer_can_delete_nothing_in_the_archive(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    for key in (ARTIFACT, REEL, RUN_RECORD):
        denied(s3.delete_object, Bucket=ARCHIVE, Key=key)
    version = enforced.s3("admin").head_object(Bucket=ARCHIVE, Key=ARTIFACT)
    denied(s3.delete_object, Bucket=ARCHIVE, Key=ARTIFACT, VersionId=version["VersionId"])
    # AWS answers 200 with a per-key AccessDenied, a server may refuse the request: either way the
    # object must survive.
    try:
        answer = s3.delete_objects(Bucket=ARCHIVE, Delete={"Objects": [{"Key": REEL}]})
        codes = [e["Code"] for e in answer.get("Errors", [])]
    except ClientError as error:
        codes = [error.response["Error"]["Code"]]
    assert codes == ["AccessDenied"]
    assert enforced.s3("admin").head_object(Bucket=ARCHIVE, Key=REEL)["ContentLength"] == 4
    denied(s3.put_bucket_lifecycle_configuration, Bucket=ARCHIVE, LifecycleConfiguration={"Rules": []})
    denied(s3.put_bucket_policy, Bucket=ARCHIVE, Policy="{}")
    denied(s3.put_bucket_versioning, Bucket=ARCHIVE, VersioningConfiguration={"Status": "Suspended"})


def test_filer_stays_inside_the_staging_protocol(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    denied(s3.put_object, Bucket=STAGING, Key=PIECE, Body=b"forged piece")
    denied(s3.put_object, Bucket=STAGING, Key="elsewhere/x", Body=b"x")
    denied(s3.delete_object, Bucket=STAGING, Key=RECEIPT)
    denied(s3.delete_object, Bucket=STAGING, Key=QUARANTINED)
    denied(s3.get_object, Bucket=STAGING, Key=QUARANTINED)
    denied(s3.put_bucket_notification_configuration, Bucket=STAGING, NotificationConfiguration={})
    denied(s3.get_object_tagging, Bucket=ARCHIVE, Key=ARTIFACT)


# --- reuse index -----------------------------------------------------------------------------------

INDEX = "index/RMI25320/reuse.json"


def test_uploader_reads_the_reuse_index_but_cannot_write_it(enforced: Enforced) -> None:
    enforced.s3("admin").put_object(Bucket=STAGING, Key=INDEX, Body=b"{}")
    s3 = enforced.s3("uploader")
    assert s3.get_object(Bucket=STAGING, Key=INDEX)["Body"].read() == b"{}"
    denied(s3.put_object, Bucket=STAGING, Key=INDEX, Body=b"forged index")
    denied(s3.delete_object, Bucket=STAGING, Key=INDEX)


def test_filer_keeps_the_reuse_index_and_copies_within_the_archive(enforced: Enforced) -> None:
    s3 = enforced.s3("filer-conforming")
    key = "index/RMI25320-reuse/reuse.json"
    with pytest.raises(ClientError, match="404|NoSuchKey|Not Found"):
        s3.get_object(Bucket=STAGING, Key=key)
    s3.put_object(Bucket=STAGING, Key=key, Body=b"{}", IfNoneMatch="*")
    etag = s3.head_object(Bucket=STAGING, Key=key)["ETag"]
    s3.put_object(Bucket=STAGING, Key=key, Body=b'{"files": {}}', IfMatch=etag)
    assert s3.get_object(Bucket=STAGING, Key=key)["Body"].read() == b'{"files": {}}'
    # A reused file: HEAD of the earlier copy, then a server-side copy under the new run's key.
    s3.head_object(Bucket=ARCHIVE, Key=ARTIFACT)
    s3.copy_object(
        Bucket=ARCHIVE,
        Key="RMI25320/logs/20251101_0900/process_log.txt",
        CopySource={"Bucket": ARCHIVE, "Key": ARTIFACT},
        MetadataDirective="REPLACE",
        Metadata={"run-id": "0" * 32},
        TaggingDirective="REPLACE",
        Tagging=TAGS,
        IfNoneMatch="*",
    )
    denied(s3.delete_object, Bucket=STAGING, Key=key)
