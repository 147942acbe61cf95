"""The staging protocol on the client side, against in-process moto: pieces, manifest, resume,
receipts, and the request budget."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest
from client_support import ARCHIVE, PROJECT, STAGING, Filer, write

import artifact_backup.upload.blob_task as blob_task_module
import artifact_backup.upload.resume as resume_module
from artifact_backup import (
    BackupRequest,
    BucketNotFoundError,
    FileChangedError,
    ReceiptTimeoutError,
    RunRefusedError,
    UploadConfig,
    UploadFailedError,
)
from artifact_backup.transfer import KB, MB, BaseSubscriber
from artifact_contract import Manifest, crc64nvme_b64, receipt_key


def request(project, **kwargs) -> BackupRequest:
    kwargs.setdefault("include", ["logs", "report"])
    return BackupRequest(folder=project, project_key=PROJECT, **kwargs)


def manifest_of(s3, keys, run_id) -> Manifest:
    key = next(k for k in keys("incoming/") if k.endswith(f"{run_id}/manifest.json"))
    return Manifest.from_json(s3.get_object(Bucket=STAGING, Key=key)["Body"].read())


class Recorder(BaseSubscriber):
    def __init__(self):
        self.events: list[tuple[str, dict]] = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            return lambda **kw: object.__getattribute__(self, "events").append((name, kw))
        return object.__getattribute__(self, name)

    def names(self):
        return [n for n, _ in self.events]


def test_filed_run_and_a_valid_manifest(project, s3, keys, make_uploader):
    recorder = Recorder()
    uploader = make_uploader(subscribers=[Filer(s3), recorder])
    result = uploader.backup(request(project, timestamp="20251030_1200"))
    assert result.status == "filed"
    assert result.timestamp == "20251030_1200"
    assert result.archive_urls() == [
        f"s3://{ARCHIVE}/{PROJECT}/logs/20251030_1200/",
        f"s3://{ARCHIVE}/{PROJECT}/report/20251030_1200/",
    ]
    manifest = manifest_of(s3, keys, result.run_id)
    assert manifest.archive_bucket == ARCHIVE
    assert manifest.project_key == PROJECT
    assert manifest.timestamp == "20251030_1200"
    assert {f.member_name for f in manifest.files} == {
        "logs/enhance_log.csv", "logs/exiftool_log.txt", "logs/nested/mosaic_processor_output.LOG",
        "logs/process_log.txt", "report/assets/chart.PNG", "report/report.html",
        "report/report_data_RMI25320.json",
    }
    # every file's declared checksum is its content's, and the pack holds exactly those bytes
    (piece,) = manifest.pieces
    pack = s3.get_object(Bucket=STAGING, Key=f"incoming/{PROJECT}/{result.run_id}/{piece.id}")["Body"].read()
    assert hashlib.sha256(pack).hexdigest() == piece.sha256
    assert len(pack) == piece.size
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(pack))) as tar:
        for entry in manifest.files:
            data = tar.extractfile(entry.member_name).read()
            assert hashlib.sha256(data).hexdigest() == entry.sha256
            assert len(data) == entry.size
    names = recorder.names()
    assert names[:2] == ["on_collected", "on_planned"]
    assert names.count("on_file_hashed") == 7
    assert "on_piece_done" in names
    assert names.index("on_committed") > names.index("on_piece_done")


def test_request_budget_for_two_thousand_small_files(tmp_path, s3, calls, make_uploader):
    root = tmp_path / "big"
    for i in range(2000):
        write(root / "logs" / f"step_{i:04}.log", f"line {i}\n" * 20)
    result = make_uploader(subscribers=[Filer(s3)]).backup(
        BackupRequest(folder=root, project_key=PROJECT, include=["logs"], timestamp=True)
    )
    assert result.status == "filed"
    assert result.files == 2000
    # the Filer fixture's own calls go through the same client: take them out
    ours = dict(calls.counts)
    ours["GetObject"] -= 1  # the fixture reads the manifest
    ours["PutObject"] -= 1  # and writes the receipt
    ours["ListObjectsV2"] -= 1
    assert {k: v for k, v in ours.items() if v} == {"PutObject": 2, "GetObject": 1}


def test_blobs_go_alone_and_identical_ones_once(tmp_path, s3, keys, make_uploader):
    root = tmp_path / "p"
    big = bytes(range(256)) * 100  # 25.6 KB
    write(root / "report" / "a.png", big)
    write(root / "report" / "copy.png", big)
    write(root / "report" / "small.html", "<p>")
    config = UploadConfig(pack_threshold=16 * KB, pack_max_bytes=64 * KB)
    result = make_uploader(config=config).backup(request(root, include=["report"]), wait=False)
    assert result.status == "committed"
    manifest = manifest_of(s3, keys, result.run_id)
    kinds = sorted(p.kind for p in manifest.pieces)
    assert kinds == ["blob", "pack"]
    blob = next(p for p in manifest.pieces if p.kind == "blob")
    assert blob.sha256 == hashlib.sha256(big).hexdigest()
    assert [f.path for f in manifest.files if f.piece == blob.id] == ["a.png", "copy.png"]
    # Every file carries the CRC64NVME of its own bytes, packed or sent as a blob.
    contents = {"a.png": big, "copy.png": big, "small.html": b"<p>"}
    assert {f.path: f.crc64nvme for f in manifest.files} == {
        name: crc64nvme_b64(data) for name, data in contents.items()}
    body = s3.get_object(Bucket=STAGING, Key=f"incoming/{PROJECT}/{result.run_id}/{blob.id}")["Body"].read()
    assert body == big


def test_large_blob_goes_multipart_with_sha256_parts(tmp_path, s3, calls, keys, make_uploader):
    root = tmp_path / "p"
    data = b"0123456789abcdef" * (11 * MB // 16)
    write(root / "report" / "scan.png", data)
    config = UploadConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    result = make_uploader(config=config).backup(request(root, include=["report"]), wait=False)
    assert calls.counts["CreateMultipartUpload"] == 1
    assert calls.counts["UploadPart"] == 3
    (piece,) = manifest_of(s3, keys, result.run_id).pieces
    assert piece.kind == "blob"
    assert piece.size == len(data)


def test_a_lone_large_file_is_sent_while_it_is_hashed(tmp_path, s3, keys, make_uploader, monkeypatch):
    """Its upload starts before its hash is done (the hash waits here until the blob's first
    request goes out), under its name's slot; the manifest, version 3, carries the hash."""
    import threading

    from artifact_contract import blob_slot_id

    root = tmp_path / "p"
    data = bytes(range(256)) * (40 * KB // 256)
    write(root / "report" / "scan.png", data)
    slot = blob_slot_id("report/scan.png")
    started = threading.Event()

    def on_send(params, **kwargs):
        if params["Key"].endswith(slot):
            started.set()

    s3.meta.events.register("before-parameter-build.s3.PutObject", on_send)
    real = blob_task_module.digest_file

    def hash_after_upload_started(f, *args):
        if not started.wait(timeout=30):
            raise AssertionError("the blob's upload did not start before its hash was done")
        return real(f, *args)

    monkeypatch.setattr(blob_task_module, "digest_file", hash_after_upload_started)
    config = UploadConfig(pack_threshold=16 * KB, pack_max_bytes=64 * KB)
    result = make_uploader(config=config).backup(request(root, include=["report"]), wait=False)
    manifest = manifest_of(s3, keys, result.run_id)
    assert manifest.version == 3
    (piece,) = manifest.pieces
    assert (piece.id, piece.kind, piece.size) == (slot, "blob", len(data))
    assert piece.sha256 == hashlib.sha256(data).hexdigest()
    assert [f.crc64nvme for f in manifest.files] == [crc64nvme_b64(data)]
    body = s3.get_object(Bucket=STAGING, Key=f"incoming/{PROJECT}/{result.run_id}/{slot}")["Body"].read()
    assert body == data


def test_resume_finds_a_blob_sent_while_hashed(tmp_path, s3, calls, keys, make_uploader):
    root = tmp_path / "p"
    write(root / "report" / "scan.png", b"z" * 40 * KB)
    config = UploadConfig(pack_threshold=16 * KB, pack_max_bytes=64 * KB)
    handler = fail_manifest_put(s3)
    with pytest.raises(UploadFailedError, match="connection lost"):
        make_uploader(config=config).backup(request(root, include=["report"], timestamp=True))
    s3.meta.events.unregister("before-parameter-build.s3.PutObject", handler)
    calls.reset()
    again = request(root, include=["report"], timestamp=True)
    result = make_uploader(config=config).backup(again, wait=False)
    assert result.resumed is True
    assert (result.pieces_sent, result.pieces_skipped) == (0, 1)
    assert list(calls.put_keys) == [f"incoming/{PROJECT}/{result.run_id}/manifest.json"]
    (piece,) = manifest_of(s3, keys, result.run_id).pieces
    assert piece.sha256 == hashlib.sha256(b"z" * 40 * KB).hexdigest()


class Interrupt(Exception):
    pass


def fail_manifest_put(s3):
    def handler(params, **kwargs):
        if params["Key"].endswith("manifest.json"):
            raise Interrupt("connection lost")

    s3.meta.events.register("before-parameter-build.s3.PutObject", handler)
    return handler


def test_resume_sends_only_missing_pieces(tmp_path, s3, calls, keys, make_uploader, monkeypatch):
    root = tmp_path / "p"
    write(root / "logs" / "a.log", "a")
    write(root / "report" / "big.png", b"x" * 40 * KB)
    write(root / "report" / "other.png", b"y" * 40 * KB)
    config = UploadConfig(pack_threshold=16 * KB, pack_max_bytes=64 * KB)
    stamps = iter(["20251030_0900", "20251030_0901"])
    monkeypatch.setattr(resume_module, "format_timestamp", lambda *a: next(stamps))

    handler = fail_manifest_put(s3)
    with pytest.raises(UploadFailedError, match="connection lost"):
        make_uploader(config=config).backup(request(root, timestamp=True))
    s3.meta.events.unregister("before-parameter-build.s3.PutObject", handler)
    first_pieces = [k for k in keys("incoming/") if "/packs/" in k or "/blobs/" in k]
    assert len(first_pieces) == 3
    run_id = first_pieces[0].split("/")[2]

    # one piece went missing (an interrupted PUT): only it is sent again
    missing = next(k for k in first_pieces if "/blobs/" in k)
    s3.delete_object(Bucket=STAGING, Key=missing)
    calls.reset()
    result = make_uploader(config=config, subscribers=[Filer(s3)]).backup(request(root, timestamp=True))
    assert result.resumed is True
    assert result.run_id == run_id
    assert result.timestamp == "20251030_0900"  # --timestamp resumes into the same run
    assert (result.pieces_sent, result.pieces_skipped) == (1, 2)
    ours = [k for k in calls.put_keys if not k.startswith("receipts/")]
    assert ours == [missing, f"incoming/{PROJECT}/{run_id}/manifest.json"]
    assert calls.counts["ListObjectsV2"] == 2  # ours, and the Filer fixture's


def test_changed_files_start_a_new_run(tmp_path, s3, make_uploader, journal):
    root = tmp_path / "p"
    write(root / "logs" / "a.log", "a")
    handler = fail_manifest_put(s3)
    with pytest.raises(UploadFailedError):
        make_uploader().backup(request(root, include=["logs"]))
    s3.meta.events.unregister("before-parameter-build.s3.PutObject", handler)
    first = list(journal.directory.glob("*.json"))
    assert len(first) == 1
    old_run = json.loads(first[0].read_text())["run_id"]
    write(root / "logs" / "b.log", "b")
    result = make_uploader().backup(request(root, include=["logs"]), wait=False)
    assert result.resumed is False
    assert result.run_id != old_run
    assert list(journal.directory.glob("*.json")) == []  # committed with --no-wait: cleared


def test_committed_run_is_not_sent_again(tmp_path, s3, calls, make_uploader, journal):
    root = tmp_path / "p"
    write(root / "logs" / "a.log", "a")
    uploader = make_uploader(config=UploadConfig(wait_timeout=0))
    with pytest.raises(ReceiptTimeoutError) as err:
        uploader.backup(request(root, include=["logs"]))
    assert err.value.exit_code == 7
    assert len(list(journal.directory.glob("*.json"))) == 1  # kept: the same command waits again
    calls.reset()
    result = make_uploader(subscribers=[]).backup(request(root, include=["logs"]), wait=False)
    assert result.already_committed is True
    assert result.run_id == err.value.run_id
    assert calls.counts["PutObject"] == 0


def test_manifest_is_put_once_and_412_means_committed(project, s3, keys, make_uploader):
    uploader = make_uploader()
    result = uploader.backup(request(project), wait=False)
    manifest = manifest_of(s3, keys, result.run_id)
    assert uploader.commit(STAGING, manifest) is True  # the second put is refused with 412


def test_receipt_already_there_on_resume(tmp_path, s3, calls, make_uploader):
    root = tmp_path / "p"
    write(root / "logs" / "a.log", "a")
    filer = Filer(s3)
    with pytest.raises(ReceiptTimeoutError):
        make_uploader(config=UploadConfig(wait_timeout=0)).backup(request(root, include=["logs"]))
    # the filer answers later; the re-run finds the receipt and sends nothing
    run_id = next(iter(make_uploader().journal.directory.glob("*.json"))).read_text()
    run_id = json.loads(run_id)["run_id"]
    filer.on_committed(run_id=run_id, already=False)
    calls.reset()
    result = make_uploader().backup(request(root, include=["logs"]))
    assert result.status == "filed"
    assert calls.counts["PutObject"] == 0


def test_refused_run_raises_with_the_filers_reason(project, s3, make_uploader, journal):
    reason = "20251030_1200 is taken by another run"
    filer = Filer(s3, status="refused", code="timestamp-taken", reason=reason)
    with pytest.raises(RunRefusedError) as err:
        make_uploader(subscribers=[filer]).backup(request(project, timestamp="20251030_1200"))
    assert err.value.exit_code == 6
    assert err.value.refusal_code == "timestamp-taken"
    assert "is taken by another run" in str(err.value)
    assert "--custom-timestamp" in err.value.hint
    assert err.value.result.status == "refused"
    assert list(journal.directory.glob("*.json")) == []


def test_receipt_wait_backs_off_and_times_out(project, s3, make_uploader):
    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds):
        pauses.append(seconds)
        now[0] += seconds

    config = UploadConfig(wait_timeout=10, poll_initial=0.5, poll_multiplier=2, poll_max=3)
    uploader = make_uploader(config=config, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(ReceiptTimeoutError, match="no receipt for run .* after 10 s"):
        uploader.backup(request(project))
    assert pauses == [0.5, 1, 2, 3, 3, 0.5]


def test_receipt_for_another_run_is_not_accepted(project, s3, make_uploader):
    from artifact_backup import ReceiptUnreadableError

    uploader = make_uploader()
    result = uploader.backup(request(project), wait=False)
    s3.put_object(Bucket=STAGING, Key=receipt_key(PROJECT, result.run_id), Body=b"{}")
    with pytest.raises(ReceiptUnreadableError):
        uploader.wait_for_receipt(STAGING, PROJECT, result.run_id, timeout=0)


def test_missing_staging_bucket_is_the_guides_failure(project, s3, make_uploader):
    s3.delete_bucket(Bucket=STAGING)
    with pytest.raises(BucketNotFoundError) as err:
        make_uploader().backup(request(project))
    assert str(err.value).startswith(
        "Failed to upload artifacts to S3: s3://rmi-360-raw-staging does not exist"
    )
    assert "1. AWS credentials are configured" in err.value.hint
    assert err.value.exit_code == 5


def test_dry_run_sends_nothing(project, calls, make_uploader):
    result = make_uploader().backup(request(project, timestamp=True), dry_run=True)
    assert result.status == "dry-run"
    assert calls.total == 0
    assert result.files == 7
    assert len(result.dropped) == 2
    assert result.plan is not None
    assert len(result.plan.packs) == 1


def test_a_file_shrinking_while_packed_is_an_error(tmp_path, s3, make_uploader):
    root = tmp_path / "p"
    log = write(root / "logs" / "live.log", "0123456789")

    class Shrink(BaseSubscriber):
        def on_planned(self, **kwargs):
            log.write_text("01")

    with pytest.raises(FileChangedError, match="live.log changed while it was being uploaded"):
        make_uploader(subscribers=[Shrink()]).backup(request(root, include=["logs"]))


def test_staging_access_denied_names_the_project_tag_to_grant(project, s3, make_uploader):
    """The uploader policy grants each identity its tagged projects: a denied upload says which tag."""
    from botocore.exceptions import ClientError

    from artifact_backup import AccessDeniedError

    def deny(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")

    s3.meta.events.register("before-call.s3.PutObject", deny)
    with pytest.raises(AccessDeniedError) as err:
        make_uploader().backup(request(project))
    assert f"artifact-backup-project={PROJECT}" in err.value.hint
    assert err.value.hint.count("Check:") == 1
    assert err.value.exit_code == 5
