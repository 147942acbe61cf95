"""What every fault test needs: a project on disk, a client and a filer pointed at the local stack
(directly or through a fault proxy), a queue to drain, and the checks that nothing was lost.

"Nothing lost" is checked the same way everywhere (:func:`assert_filed_once`): every local file is in
the archive under its layout key exactly once (one object version), byte-identical and carrying its
SHA-256; the run record lists exactly those files; the run's staging prefix is empty; the receipt
says filed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artifact_backup import load_config
from artifact_backup.config import Settings
from artifact_backup.local import LocalFilerWorker, LocalStack
from artifact_contract import (
    ARTIFACT_TYPES,
    Receipt,
    RunRecord,
    archive_key,
    receipt_key,
    run_record_key,
    staging_run_prefix,
)
from tests.support.s3 import list_keys
from tests.support.staged import noise

MiB = 1024 * 1024
#: What the suite injected, by kind, reported at the end of the run.
INJECTED: dict[str, int] = {"S3 faults on the wire": 0, "filers killed": 0, "clients killed": 0}
#: Small enough that a run has several packs, one single-request blob and one multipart blob.
TRANSFER = {
    "pack_threshold_mb": 0.25,
    "pack_max_mb": 0.25,
    "multipart_threshold_mb": 1,
    "multipart_chunksize_mb": 5,
    "wait_timeout_seconds": 120,
}
TYPES = ("logs", "gis_data")
#: The timestamp the suite's runs are filed under.
TS = "20251030_1200"


class FilerKilled(Exception):
    """The filer's process ending mid-way, as far as the handler and the queue can tell."""


def kill_at(step: str, nth: int = 1, before: Callable[[], None] | None = None) -> Callable[[str], None]:
    """A step hook that kills the filer the ``nth`` time it reaches ``step`` (after ``before``)."""
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name != step:
            return
        seen["n"] += 1
        if seen["n"] == nth:
            if before is not None:
                before()
            INJECTED["filers killed"] += 1
            raise FilerKilled(f"killed after {step} #{nth}")

    return hook


def make_project(root: Path, name: str = "P1", *, small: int = 12, seed: str = "", large: bool = True
                 ) -> Path:
    """A run folder: ``small`` log files (several packs), and unless ``large`` is false, a blob sent
    in one request and a blob sent (and copied into the archive) in parts, twice under two names
    (one shared blob)."""
    folder = root / name
    for i in range(small):
        path = folder / "logs" / f"reel_{i % 3}" / f"batch_{i:03d}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(noise(f"{seed}{name}-log-{i}", 30_000 + 997 * i))
    if large:
        gis = folder / "gis_data"
        gis.mkdir(parents=True, exist_ok=True)
        (gis / "centerline.shp").write_bytes(noise(f"{seed}{name}-shp", int(0.6 * MiB)))
        (gis / "orthomosaic.gpkg").write_bytes(noise(f"{seed}{name}-gpkg", int(1.5 * MiB)))
        (gis / "copy_of_orthomosaic.gpkg").write_bytes(noise(f"{seed}{name}-gpkg", int(1.5 * MiB)))
    return folder


def local_files(folder: Path, types: Iterable[str] = TYPES) -> dict[tuple[str, str], Path]:
    """(type, relative path) -> file, by the contract's extension table."""
    found: dict[tuple[str, str], Path] = {}
    for type_name in types:
        base = folder / type_name
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base).as_posix()
            if path.is_file() and ARTIFACT_TYPES[type_name].allows(rel):
                found[(type_name, rel)] = path
    return found


def write_settings(where: Path, stack: LocalStack, endpoint_url: str | None = None,
                   transfer: dict[str, Any] | None = None) -> Settings:
    """config.yaml with the stack's ``aws:`` block (optionally through a proxy) and small pieces."""
    block = stack.config_block().replace(stack.endpoint_url, endpoint_url or stack.endpoint_url)
    tuning = {**TRANSFER, **(transfer or {})}
    block += "  transfer:\n" + "".join(f"    {k}: {v}\n" for k, v in tuning.items())
    path = where / "config.yaml"
    path.write_text(block, encoding="utf-8")
    return load_config(path)


def versions(s3: Any, bucket: str, prefix: str = "") -> dict[str, int]:
    """How many versions each key has (the archive bucket is versioned: a rewrite shows)."""
    counts: dict[str, int] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            counts[v["Key"]] = counts.get(v["Key"], 0) + 1
        for m in page.get("DeleteMarkers", []):
            counts[m["Key"]] = counts.get(m["Key"], 0) + 1
    return counts


def archive_state(s3: Any, stack: LocalStack, prefix: str = "") -> dict[str, Any]:
    """Everything a reader of the archive can see, per key: bytes, metadata, type, checksum, tags,
    versions; and the staging bucket's keys with receipts reduced to what does not vary (``at``)."""
    archive: dict[str, Any] = {}
    bucket = stack.names.archive_bucket
    counts = versions(s3, bucket, prefix)
    for key in list_keys(s3, bucket, prefix):
        obj = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        archive[key] = {
            "sha256": hashlib.sha256(obj["Body"].read()).hexdigest(),
            "metadata": obj.get("Metadata", {}),
            "content_type": obj.get("ContentType"),
            "tags": sorted((t["Key"], t["Value"]) for t in tags),
            "versions": counts.get(key, 0),
        }
    staging: dict[str, Any] = {}
    for key in list_keys(s3, stack.names.staging_bucket):
        body = s3.get_object(Bucket=stack.names.staging_bucket, Key=key)["Body"].read()
        if key.startswith(("receipts/", "index/")):
            staging[key] = _without_clock(json.loads(body))
        else:
            staging[key] = hashlib.sha256(body).hexdigest()
    return {"archive": archive, "staging": staging}


_CLOCK_FIELDS = frozenset({"at", "filed_at", "updated_at"})


def _without_clock(data: Any) -> Any:
    """A receipt or index without the wall-clock times it carries (they differ between filings)."""
    if isinstance(data, dict):
        return {k: _without_clock(v) for k, v in data.items() if k not in _CLOCK_FIELDS}
    if isinstance(data, list):
        return [_without_clock(v) for v in data]
    return data


def read_receipt(s3: Any, stack: LocalStack, project_key: str, run_id: str) -> Receipt | None:
    try:
        raw = s3.get_object(Bucket=stack.names.staging_bucket, Key=receipt_key(project_key, run_id))
    except s3.exceptions.NoSuchKey:
        return None
    return Receipt.from_json(raw["Body"].read())


def assert_filed_once(
    s3: Any, stack: LocalStack, folder: Path, project_key: str, timestamp: str | None, run_id: str,
    types: Iterable[str] = TYPES,
) -> RunRecord:
    """The run is in the archive exactly, once, and staging holds nothing of it but its receipt."""
    bucket = stack.names.archive_bucket
    files = local_files(folder, types)
    expected = {archive_key(project_key, t, timestamp, rel): path for (t, rel), path in files.items()}
    assert expected, "the test project has no files"
    record_key = run_record_key(project_key, timestamp, run_id)
    record = RunRecord.from_json(s3.get_object(Bucket=bucket, Key=record_key)["Body"].read())
    assert record.run_id == run_id
    assert {f.key: f.sha256 for f in record.files} == {
        k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in expected.items()
    }
    stamp = f"/{timestamp}/" if timestamp else "/"
    stored = [k for k in list_keys(s3, bucket, f"{project_key}/")
              if "/_runs/" not in k and (stamp in k if timestamp else k.count("/") >= 1)]
    if timestamp:
        assert set(stored) == set(expected)
    else:
        assert set(expected) <= set(stored)
    counts = versions(s3, bucket, f"{project_key}/")
    for key, path in expected.items():
        assert counts[key] == 1, f"{key} was written {counts[key]} times"
        obj = s3.get_object(Bucket=bucket, Key=key)
        data = obj["Body"].read()
        assert data == path.read_bytes(), key
        assert obj["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert obj["Metadata"]["run-id"] == run_id
    assert counts[record_key] == 1
    assert list_keys(s3, stack.names.staging_bucket, staging_run_prefix(project_key, run_id)) == []
    assert list_keys(s3, stack.names.staging_bucket, f"quarantine/{project_key}/{run_id}/") == []
    receipt = read_receipt(s3, stack, project_key, run_id)
    assert receipt is not None
    assert receipt.filed, receipt
    return record


@dataclass
class Drained:
    batches: int = 0
    received: int = 0
    failed: int = 0


def queue_depth(stack: LocalStack, sqs: Any, url: str | None = None) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url or stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def drain(worker: LocalFilerWorker, *, deadline: float = 60.0,
          until: Callable[[], bool] | None = None) -> Drained:
    """Hand the queue's batches to the handler until it is empty (or ``until`` holds)."""
    sqs = worker.stack.client("sqs")
    total = Drained()
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        outcome = worker.poll_once()
        total.batches += bool(outcome.received)
        total.received += outcome.received
        total.failed += outcome.failed
        if until is not None and until():
            return total
        if until is None and outcome.received == 0 and queue_depth(worker.stack, sqs) == 0:
            return total
    raise AssertionError(f"the queue did not drain in {deadline:g} s ({total})")


def backup(where: Path, stack: LocalStack, folder: Path, project_key: str, *,
           endpoint_url: str | None = None, timestamp: bool | str = "20251030_1200",
           transfer: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """``backup_run`` as the guide's command line would call it, with a journal of the test's own."""
    from artifact_backup import backup_run
    from artifact_backup.journal import Journal

    settings = write_settings(where, stack, endpoint_url, transfer)
    kwargs.setdefault("journal", Journal(where / "journal"))
    kwargs.setdefault("include", list(TYPES))
    return backup_run(folder, settings=settings, project_key=project_key, timestamp=timestamp, **kwargs)


def staging_objects(s3: Any, stack: LocalStack, prefix: str = "incoming/") -> dict[str, bytes]:
    return {k: s3.get_object(Bucket=stack.names.staging_bucket, Key=k)["Body"].read()
            for k in list_keys(s3, stack.names.staging_bucket, prefix)}


def restage(s3: Any, stack: LocalStack, objects: dict[str, bytes]) -> None:
    """Put a run's staging objects back as its client sent them: pieces first, the manifest last
    (its arrival is the event the filer reacts to)."""
    for key in sorted(objects, key=lambda k: k.endswith("/manifest.json")):
        s3.put_object(Bucket=stack.names.staging_bucket, Key=key, Body=objects[key])


def state_diff(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Readable differences between two :func:`archive_state` results (empty when equal)."""
    out: list[str] = []
    for side in ("archive", "staging"):
        for key in sorted(set(got[side]) | set(want[side])):
            if key not in want[side]:
                out.append(f"{side}: extra {key}")
            elif key not in got[side]:
                out.append(f"{side}: missing {key}")
            elif got[side][key] != want[side][key]:
                out.append(f"{side}: {key}: {got[side][key]} != {want[side][key]}")
    return out


def side_by_side(*calls: Callable[[], Any], timeout: float,
                 catch: type[BaseException] | tuple[type[BaseException], ...] = Exception) -> list[Any]:
    """Run every call at once, each on a thread of its own; what each returned, or the exception
    (of ``catch``) it raised, in the order of ``calls``."""
    outcomes: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            outcomes[i] = calls[i]()
        except catch as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return outcomes
