"""Least privilege on the local S3 server with IAM enforcement on: an uploader is refused another
project's staging prefixes, the filer cannot rewrite a timestamped or pinned object, the reader
restores (``enforced_support`` tells what the server checks and what the tests do for it).
"""

from __future__ import annotations

from enforced_support import (
    ARCHIVE,
    ARTIFACT,
    FROZEN,
    OTHER_RUN,
    PIECE,
    RECEIPT,
    REEL,
    RUN,
    RUN_RECORD,
    SECOND_RUN,
    STAGING,
    TAGS,
    Enforced,
    denied,
)

from infra.contract import TAG_MANAGED, TAG_MANAGED_VALUE, TAG_RETENTION

# --- uploaders scoped to their projects -------------------------------------------------------------


def test_uploader_uploads_each_project_it_is_tagged_with(enforced: Enforced) -> None:
    s3 = enforced.s3("uploader")
    s3.put_object(Bucket=STAGING, Key=f"incoming/{SECOND_RUN}/manifest.json", Body=b"{}")
    assert s3.get_object(Bucket=STAGING, Key=f"receipts/{SECOND_RUN}.json")["Body"].read() == b"other"


def test_uploader_is_denied_another_projects_prefixes(enforced: Enforced) -> None:
    s3 = enforced.s3("uploader")
    other_piece = f"incoming/{OTHER_RUN}/packs/{'a' * 64}.tar.gz"
    denied(s3.put_object, Bucket=STAGING, Key=other_piece, Body=b"squatted")
    denied(s3.put_object, Bucket=STAGING, Key=f"incoming/{OTHER_RUN}/manifest.json", Body=b"{}")
    denied(s3.create_multipart_upload, Bucket=STAGING, Key=other_piece)
    denied(s3.get_object, Bucket=STAGING, Key=f"receipts/{OTHER_RUN}.json")
    denied(s3.get_object, Bucket=STAGING, Key="index/OTHER01/reuse.json")
    denied(s3.get_object, Bucket=STAGING, Key=f"progress/{OTHER_RUN}.json")
    # A project key that merely starts like an own one is another project.
    denied(s3.put_object, Bucket=STAGING, Key="incoming/RMI253201/0123/manifest.json", Body=b"{}")
    kept = enforced.s3("admin").get_object(Bucket=STAGING, Key=f"incoming/{OTHER_RUN}/manifest.json")
    assert kept["Body"].read() == b"other"


def test_an_untagged_identity_may_upload_nothing(enforced: Enforced) -> None:
    s3 = enforced.s3("uploader-untagged")
    denied(s3.put_object, Bucket=STAGING, Key=f"incoming/{RUN}/manifest.json", Body=b"{}")
    denied(s3.get_object, Bucket=STAGING, Key=RECEIPT)


# --- the filer cannot rewrite history ---------------------------------------------------------------

UNTIMESTAMPED = "RMI25320/logs/process_log.txt"


def test_filer_cannot_overwrite_a_timestamped_object_without_if_none_match(enforced: Enforced) -> None:
    """The write-once Deny covers every timestamped key (artifacts, claims, run records); the
    server applies it as to a request without If-None-Match."""
    s3 = enforced.s3("filer")
    for key in (ARTIFACT, RUN_RECORD, "RMI25320/_runs/20251030_1430/claim.json",
                "RMI25320/gis_data/20251030_1430/sub/dir/tile.tif"):
        denied(s3.put_object, Bucket=ARCHIVE, Key=key, Body=b"rewritten")
        denied(s3.create_multipart_upload, Bucket=ARCHIVE, Key=key)
    denied(s3.copy_object, Bucket=ARCHIVE, Key=ARTIFACT, CopySource={"Bucket": ARCHIVE, "Key": REEL})
    assert enforced.s3("admin").get_object(Bucket=ARCHIVE, Key=ARTIFACT)["Body"].read() == b"filed"


def test_filer_still_replaces_untimestamped_objects(enforced: Enforced) -> None:
    """Untimestamped uploads replace their latest copy (versioning keeps the earlier ones)."""
    s3 = enforced.s3("filer")
    s3.put_object(Bucket=ARCHIVE, Key=UNTIMESTAMPED, Body=b"first", Tagging=TAGS)
    s3.put_object(Bucket=ARCHIVE, Key=UNTIMESTAMPED, Body=b"second", Tagging=TAGS)
    s3.put_object(Bucket=ARCHIVE, Key=f"RMI25320/_runs/untimestamped/{'1' * 32}.json", Body=b"{}")
    versions = enforced.s3("admin").list_object_versions(Bucket=ARCHIVE, Prefix=UNTIMESTAMPED)["Versions"]
    assert len(versions) == 2


def test_filer_cannot_retag_an_archived_object(enforced: Enforced) -> None:
    """Re-tagging a pinned object is denied by its existing tag; the server applies the Deny to any
    re-tag, and the filer never re-tags (it tags as it writes)."""
    pinned = "RMI25320/logs/20251030_1430/pinned.txt"
    admin = enforced.s3("admin")
    admin.put_object(Bucket=ARCHIVE, Key=pinned, Body=b"kept",
                     Tagging=f"{TAG_MANAGED}={TAG_MANAGED_VALUE}&{TAG_RETENTION}=pinned")
    standard = {"TagSet": [{"Key": TAG_MANAGED, "Value": TAG_MANAGED_VALUE},
                           {"Key": TAG_RETENTION, "Value": "standard"}]}
    denied(enforced.s3("filer").put_object_tagging, Bucket=ARCHIVE, Key=pinned, Tagging=standard)
    tags = admin.get_object_tagging(Bucket=ARCHIVE, Key=pinned)["TagSet"]
    assert {"Key": TAG_RETENTION, "Value": "pinned"} in tags


# --- reader ----------------------------------------------------------------------------------------


def test_reader_restores_downloads_and_pins(enforced: Enforced) -> None:
    s3 = enforced.s3("reader")
    s3.restore_object(Bucket=ARCHIVE, Key=FROZEN, RestoreRequest={"Days": 1, "GlacierJobParameters": {
        "Tier": "Bulk"}})
    assert s3.get_object(Bucket=ARCHIVE, Key=ARTIFACT)["Body"].read() == b"filed"
    assert s3.list_objects_v2(Bucket=ARCHIVE, Prefix="RMI25320")["KeyCount"] >= 2
    denied(s3.restore_object, Bucket=STAGING, Key=PIECE, RestoreRequest={"Days": 1})
    denied(s3.delete_object, Bucket=ARCHIVE, Key=FROZEN)
    denied(s3.put_object, Bucket=ARCHIVE, Key=ARTIFACT, Body=b"overwritten")
