"""Disaster recovery on the embedded S3 server: an archive created with Object Lock, where ``pin``
places legal holds and ``unpin`` lifts them; and the read-side commands pointed at a replica in
another region with ``--bucket`` and ``--region``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from artifact_backup import backup_run, load_config
from artifact_backup.cli import main
from artifact_backup.local import LocalFilerWorker, provision
from artifact_backup.local.sample import make_sample_project
from artifact_contract import RunRecord, run_record_key
from tests.support.local import reset_server, swapped_filer

pytestmark = pytest.mark.integration

RUN_A = "20251030_0900"
RUN_B = "20251030_1430"
REPLICA = "rmi-360-raw-replica"
REPLICA_REGION = "eu-central-1"


@pytest.fixture
def locked_stack(fresh_server):
    """The local stack with an archive bucket created with Object Lock and a one-day GOVERNANCE
    default retention, as the CDK stack creates it with objectLockMode=GOVERNANCE."""
    reset_server(fresh_server)
    with swapped_filer():
        s3 = provision(fresh_server.endpoint_url).client("s3")
        # provision() created it without Object Lock; S3 allows it only at creation, so again.
        s3.delete_bucket(Bucket="rmi-360-raw")
        s3.create_bucket(Bucket="rmi-360-raw", ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket="rmi-360-raw",
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
            },
        )
        stack = provision(fresh_server.endpoint_url)
        with LocalFilerWorker(stack, log_level="WARNING"):
            yield stack


class Project:
    """A sample project filed into a stack's archive, and the CLI pointed at it."""

    def __init__(self, stack, root: Path, key: str, capsys) -> None:
        self.stack, self.key, self.capsys = stack, key, capsys
        self.s3 = stack.client("s3")
        self.bucket = stack.names.archive_bucket
        self.folder = make_sample_project(root / "projects", key)
        self.config = root / "config.yaml"
        self.config.write_text(f'schema_version: 1.2.0\nproject:\n  slug: "{key}"\n{stack.config_block()}',
                               encoding="utf-8")

    def file(self, timestamp: str) -> RunRecord:
        result = backup_run(self.folder, settings=load_config(self.config), project_key=self.key,
                            include=["config", "logs", "report"], timestamp=timestamp)
        assert result.status == "filed", result
        key = run_record_key(self.key, timestamp, result.run_id)
        return RunRecord.from_json(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def cli(self, *argv: str, expect: int = 0) -> dict:
        self.capsys.readouterr()
        code = main([*argv, "--config", str(self.config), "--json"])
        captured = self.capsys.readouterr()
        assert code == expect, captured.err
        return json.loads(captured.out)

    def hold(self, key: str) -> str:
        """ON or OFF; ``never`` when no hold was ever set (AWS answers an error, moto nothing)."""
        try:
            answer = self.s3.get_object_legal_hold(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchObjectLockConfiguration":
                raise
            return "never"
        return answer.get("LegalHold", {}).get("Status", "never")


# -- Object Lock --------------------------------------------------------------------------------------


def test_filed_objects_carry_the_default_retention(locked_stack, tmp_path, isolated_cache, capsys):
    project = Project(locked_stack, tmp_path, "LOCKED1", capsys)
    record = project.file(RUN_A)
    for f in record.files:
        head = project.s3.head_object(Bucket=project.bucket, Key=f.key)
        assert head["ObjectLockMode"] == "GOVERNANCE", f.key
        assert head["ObjectLockRetainUntilDate"] is not None


def test_pin_holds_every_object_of_the_run_and_unpin_lifts_the_holds(
    locked_stack, tmp_path, isolated_cache, capsys
):
    project = Project(locked_stack, tmp_path, "LOCKED2", capsys)
    record, other = project.file(RUN_A), project.file(RUN_B)
    record_key = run_record_key(project.key, RUN_A, record.run_id)

    result = project.cli("pin", project.key, RUN_A, "--note", "Final production run")["result"]
    assert (result["object_lock"], result["legal_hold"]) == (True, "ON")
    assert result["objects_held"] == len(record.files) + 1
    for key in [f.key for f in record.files] + [record_key]:
        assert project.hold(key) == "ON", key
    # The other run is untouched: no hold was ever placed on it.
    assert {project.hold(f.key) for f in other.files} == {"never"}

    # Held: not even an identity allowed to bypass GOVERNANCE retention can delete the version.
    victim = record.files[0].key
    version = project.s3.head_object(Bucket=project.bucket, Key=victim)["VersionId"]
    with pytest.raises(project.s3.exceptions.ClientError) as refused:
        project.s3.delete_object(Bucket=project.bucket, Key=victim, VersionId=version,
                                 BypassGovernanceRetention=True)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    result = project.cli("unpin", project.key, RUN_A, "--note", "superseded")["result"]
    assert (result["object_lock"], result["legal_hold"]) == (True, "OFF")
    for key in [f.key for f in record.files] + [record_key]:
        assert project.hold(key) == "OFF", key
    # Released, the retention alone remains, which GOVERNANCE lets a privileged identity bypass.
    project.s3.delete_object(Bucket=project.bucket, Key=victim, VersionId=version,
                             BypassGovernanceRetention=True)


def test_pin_on_a_bucket_without_object_lock_places_no_hold(local_stack, tmp_path, isolated_cache, capsys):
    project = Project(local_stack, tmp_path, "UNLOCKED-recovery", capsys)
    project.file(RUN_A)
    result = project.cli("pin", project.key, RUN_A, "--note", "keep")["result"]
    assert (result["object_lock"], result["legal_hold"], result["objects_held"]) == (False, None, 0)
    assert result["retention"] == "pinned"


# -- the replica --------------------------------------------------------------------------------------


def replicate(s3, source: str, destination: str, region: str) -> int:
    """What S3 replication leaves in the replica: every object with its tags and metadata (a
    bucket in another region; the embedded server does not replicate by itself)."""
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if destination not in existing:
        s3.create_bucket(Bucket=destination, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=destination, VersioningConfiguration={"Status": "Enabled"})
    copied = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=source):
        for obj in page.get("Contents", []):
            s3.copy_object(Bucket=destination, Key=obj["Key"], MetadataDirective="COPY",
                           CopySource={"Bucket": source, "Key": obj["Key"]}, TaggingDirective="COPY")
            copied += 1
    return copied


def test_the_read_side_works_against_the_replica_with_bucket_and_region(
    local_stack, tmp_path, isolated_cache, capsys
):
    project = Project(local_stack, tmp_path, "REPLICA-recovery", capsys)
    record = project.file(RUN_A)
    project.file(RUN_B)
    project.cli("pin", project.key, RUN_A, "--note", "kept in both regions")
    assert replicate(project.s3, project.bucket, REPLICA, REPLICA_REGION) > len(record.files)
    at_replica = ["--bucket", REPLICA, "--region", REPLICA_REGION]

    primary_runs = project.cli("runs", project.key)["runs"]
    replica_runs = project.cli("runs", project.key, *at_replica)["runs"]
    assert [r["run"] for r in replica_runs] == [RUN_A, RUN_B]
    assert [(r["run"], r["pinned"], r["files"]) for r in replica_runs] == [
        (r["run"], r["pinned"], r["files"]) for r in primary_runs
    ]
    shown = project.cli("show", project.key, RUN_A, *at_replica)
    assert (shown["bucket"], shown["run_id"]) == (REPLICA, record.run_id)

    target = tmp_path / "restored"
    downloaded = project.cli("download", project.key, RUN_A, "--to", str(target), *at_replica)["result"]
    assert downloaded["counts"]["downloaded"] == len(record.files)
    assert downloaded["bytes_downloaded"] == record.bytes
    for f in record.files:
        assert hashlib.sha256((target / f.type / f.path).read_bytes()).hexdigest() == f.sha256, f.key

    diff = project.cli("diff", project.key, RUN_A, RUN_B, *at_replica)
    assert diff["bucket"] == REPLICA
    assert diff["result"] == project.cli("diff", project.key, RUN_A, RUN_B)["result"]
