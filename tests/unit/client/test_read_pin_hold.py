"""``pin`` and ``unpin`` with Object Lock: detection, order, and the errors a reader sees."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from artifact_backup.archive.pin import object_lock_enabled, set_retention
from artifact_backup.archive.summary import RunSummary
from artifact_backup.exceptions import ArchiveReadError
from artifact_contract import RecordedFile, RunRecord, archive_key

RECORD_KEY = "RMI25320/_runs/20251030_1430/run.json"


def run(*paths: str) -> RunSummary:
    files = tuple(RecordedFile("logs", p, archive_key("RMI25320", "logs", "20251030_1430", p), 1, "0" * 64)
                  for p in paths)
    record = RunRecord(run_id="a" * 32, project_key="RMI25320", timestamp="20251030_1430",
                       archive_bucket="rmi-360-raw", created_at="2025-10-30T14:30:05+00:00", files=files,
                       uploader={"client": "artifact-backup/0.1.0"})
    return RunSummary(record, RECORD_KEY)


def denied(operation: str, code: str = "AccessDenied") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, operation)


class Client:
    """Records every call in order; ``lock`` is what GetObjectLockConfiguration answers."""

    def __init__(self, lock: str | Exception, hold_error: Exception | None = None) -> None:
        self.lock, self.hold_error, self.calls = lock, hold_error, []

    def get_object_lock_configuration(self, *, Bucket):  # noqa: N803 - boto3's names
        if isinstance(self.lock, Exception):
            raise self.lock
        return {"ObjectLockConfiguration": {"ObjectLockEnabled": self.lock}}

    def put_object_legal_hold(self, *, Bucket, Key, LegalHold):  # noqa: N803
        if self.hold_error:
            raise self.hold_error
        self.calls.append(("hold", Key, LegalHold["Status"]))

    def put_object_tagging(self, *, Bucket, Key, Tagging):  # noqa: N803
        self.calls.append(("tag", Key, Tagging["TagSet"][1]["Value"]))

    def put_object(self, *, Bucket, Key, **kwargs):  # noqa: N803
        self.calls.append(("note", Key, None))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Enabled", True),
        (denied("GetObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"), False),
        (denied("GetObjectLockConfiguration", "NotImplemented"), False),
        (denied("GetObjectLockConfiguration"), None),
    ],
)
def test_object_lock_is_detected_and_its_absence_tolerated(answer, expected):
    assert object_lock_enabled(Client(answer), "rmi-360-raw") is expected


def test_a_missing_bucket_is_an_error_not_a_bucket_without_object_lock():
    with pytest.raises(ArchiveReadError) as info:
        object_lock_enabled(Client(denied("GetObjectLockConfiguration", "NoSuchBucket")), "gone")
    assert info.value.code == "bucket-not-found"


def test_pin_holds_artifacts_and_record_before_it_tags_and_writes_the_note():
    client = Client("Enabled")
    result = set_retention(client, "rmi-360-raw", run("a.log", "b.log"), pinned=True, note="keep")
    kinds = [c[0] for c in client.calls]
    assert kinds == ["hold"] * 3 + ["tag"] * 2 + ["note"]
    assert {c[1] for c in client.calls if c[0] == "hold"} == {*result.tagged, RECORD_KEY}
    assert {c[2] for c in client.calls if c[0] == "hold"} == {"ON"}
    assert result.to_dict()["legal_hold"] == "ON"
    assert result.to_dict()["objects_held"] == 3


def test_unpin_retags_then_lifts_the_holds_then_writes_the_note():
    client = Client("Enabled")
    result = set_retention(client, "rmi-360-raw", run("a.log"), pinned=False, note="")
    assert [(c[0], c[2]) for c in client.calls] == [
        ("tag", "standard"), ("hold", "OFF"), ("hold", "OFF"), ("note", None)
    ]
    assert result.to_dict()["legal_hold"] == "OFF"


def test_without_object_lock_or_permission_to_see_it_only_tags_are_set():
    for lock, reported in (("Disabled", False), (denied("GetObjectLockConfiguration"), None)):
        client = Client(lock)
        result = set_retention(client, "rmi-360-raw", run("a.log"), pinned=True, note="keep")
        assert [c[0] for c in client.calls] == ["tag", "note"]
        assert (result.object_lock, result.to_dict()["legal_hold"]) == (reported, None)


def test_a_denied_hold_names_the_permission_and_nothing_is_tagged_or_noted():
    client = Client("Enabled", hold_error=denied("PutObjectLegalHold"))
    with pytest.raises(ArchiveReadError) as info:
        set_retention(client, "rmi-360-raw", run("a.log"), pinned=True, note="keep")
    assert info.value.code == "access-denied"
    assert "s3:PutObjectLegalHold" in info.value.hint
    assert client.calls == []
