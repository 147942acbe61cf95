"""What the filer's tests share: a run's sample files and the checks that a run was filed, or
refused and quarantined, as the protocol says."""

from __future__ import annotations

import json

import pytest

from artifact_contract import Receipt, receipt_key, type_claim_key
from artifact_filer import FilerRefusedError
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, StagedRun

PROJECT = "RMI25320"
TS = "20251030_1430"


def sample_files() -> dict[tuple[str, str], bytes]:
    return {
        ("config", "config.yaml"): b"project:\n  slug: RMI25320\n",
        ("logs", "process_log.txt"): b"step 1 ok\n" * 100,
        ("logs", "sub dir/exiftool log+1.txt"): b"exif\n" * 50,
        ("report", "report.html"): b"<html>report</html>",
        ("report", "assets/chart \u00e9t\u00e9.png"): bytes(range(256)) * 10,
        # Above StagedRun's 64 KiB pack threshold: travels as a blob, copied server-side.
        ("report", "report_data_RMI25320.json"): json.dumps({"x": list(range(20000))}).encode(),
        ("gis_data", "centerline.gdb/a00000001.gdbtable"): b"\x00gdb" * 30000,
    }


def claim_keys(run: StagedRun) -> set[str]:
    """The run's claims: one per artifact type at its timestamp."""
    return {type_claim_key(run.project_key, run.timestamp, t) for t, _ in run.files}


def archive_snapshot(s3) -> dict[str, tuple[str, dict, list]]:
    """Every archive object with its ETag, metadata and tags: equal snapshots mean nothing changed."""
    snap = {}
    for key in list_keys(s3, ARCHIVE):
        head = s3.head_object(Bucket=ARCHIVE, Key=key)
        tags = s3.get_object_tagging(Bucket=ARCHIVE, Key=key)["TagSet"]
        snap[key] = (head["ETag"], head["Metadata"], sorted((t["Key"], t["Value"]) for t in tags),
                     head["LastModified"])
    return snap


def assert_refused(s3, run: StagedRun, exc_info, code: str) -> Receipt:
    assert exc_info.value.code == code
    receipt = Receipt.from_json(s3.get_object(Bucket=STAGING, Key=receipt_key(run.project_key, run.run_id))
                                ["Body"].read())
    assert receipt.status == "refused"
    assert receipt.code == code
    assert receipt.reason
    staged = [run.manifest_key, *(run.piece_key(p) for p in run.pieces)]
    quarantined = list_keys(s3, STAGING, f"quarantine/{run.project_key}/{run.run_id}/")
    assert not list_keys(s3, STAGING, f"incoming/{run.project_key}/{run.run_id}/")
    assert set(quarantined) <= {"quarantine/" + k[len("incoming/"):] for k in staged}
    assert "quarantine/" + run.manifest_key[len("incoming/"):] in quarantined
    return receipt


def refused_before_archive(s3, filer, steps, run: StagedRun, code: str, **upload) -> None:
    """Filing ``run`` is refused with ``code`` before anything is verified or reaches the archive."""
    with pytest.raises(FilerRefusedError) as exc_info:
        filer.file(run.upload(s3, **upload))
    assert_refused(s3, run, exc_info, code)
    assert list_keys(s3, ARCHIVE) == []
    assert "verified" not in steps
    assert "object-filed" not in steps


def refused_with_tampered_packs(s3, filer, steps, tamper, code: str) -> None:
    """Upload packs rebuilt by ``tamper`` (members in, members out) under the honest run's manifest,
    rewritten to name those packs: the filer must refuse with ``code`` before the archive."""
    honest = StagedRun(PROJECT, sample_files())
    honest.build()
    run = StagedRun(PROJECT, sample_files(), tamper=tamper, run_id=honest.run_id)
    run.build()
    manifest = json.loads(honest.manifest.to_json())
    ids = {p["id"]: p for p in manifest["pieces"]}
    for honest_piece, fake_piece in zip(honest.manifest.pieces, run.manifest.pieces, strict=True):
        assert honest_piece.kind == fake_piece.kind
        entry = ids[honest_piece.id]
        entry.update(id=fake_piece.id, size=fake_piece.size, sha256=fake_piece.sha256)
        for f in manifest["files"]:
            if f["piece"] == honest_piece.id:
                f["piece"] = fake_piece.id
    refused_before_archive(s3, filer, steps, run, code, manifest=json.dumps(manifest).encode())
