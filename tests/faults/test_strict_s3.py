"""What only a server that checks what S3 checks can show (LocalStack; skipped on moto, which stores
a body whatever its checksum, ignores conditional copies, has no composite checksums and closes
every connection after one answer).

- A piece changed on the way (after the client computed its checksum) is refused by S3, and the
  upload says so: nothing of it is stored.
- The filer's conditional copies meet real 412s: ``CopySourceIfMatch`` on a blob replaced after it
  was verified (single and multipart copies: the run is refused, nothing is copied, nothing has to
  be undone), and ``IfNoneMatch`` on a copy an earlier attempt made (confirmed, not written again).
- A blob copied in parts carries its full-object CRC64NVME, the record's, given to S3 at completion
  and checked by the filer in S3's answer: an object answered as assembled otherwise is removed and
  copied again; a part misreported to S3 at completion is refused by S3 and nothing is filed.
- The client and the filer reuse their connections: far fewer connections than requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from artifact_backup.exceptions import UploadFailedError
from artifact_backup.local import LocalFilerWorker, provision
from artifact_backup.local.localstack import LocalStackServer
from artifact_contract import crc64nvme_b64, run_record_key, staging_run_prefix
from artifact_filer import copy as filer_copy
from artifact_filer import handler as filer_handler
from tests.support.local import swapped_filer
from tests.support.s3 import answers, list_keys

from .support import (
    TS,
    MiB,
    archive_state,
    assert_filed_once,
    backup,
    drain,
    kill_at,
    make_project,
    noise,
    read_receipt,
    restage,
    state_diff,
    versions,
)

pytestmark = [pytest.mark.integration, pytest.mark.strict_s3]


def test_a_piece_changed_on_the_way_is_refused_and_the_upload_says_so(
        tmp_path, stack, s3, client_proxy, make_filer, running_worker):
    make_filer()
    corrupt = client_proxy.inject("corrupt", rf"^PUT /{stack.names.staging_bucket}/incoming/.*/packs/",
                                  times=None)
    folder = make_project(tmp_path, large=False)
    with pytest.raises(UploadFailedError, match="differ from their checksum") as raised:
        backup(tmp_path, stack, folder, "P1", endpoint_url=client_proxy.endpoint_url)
    assert "run the upload again" in (raised.value.hint or "")
    assert corrupt.hits >= 1
    refused = {e.outcome for e in client_proxy.exchanges if e.outcome.startswith("corrupt")}
    assert refused == {"corrupt 400"}, refused
    # Nothing corrupted was stored, and without a manifest nothing reached the filer or the archive.
    assert [k for k in list_keys(s3, stack.names.staging_bucket, "incoming/") if "/packs/" in k] == []
    assert list_keys(s3, stack.names.archive_bucket) == []


def _blob_keys(staged: tuple[Any, str, dict[str, bytes]]) -> dict[str, str]:
    """The staged run's single-request blob and multipart blob, by how the filer copies them."""
    blobs = {k: len(v) for k, v in staged[2].items() if "/blobs/" in k}
    return {"single": min(blobs, key=blobs.__getitem__), "multipart": max(blobs, key=blobs.__getitem__)}


@pytest.mark.parametrize("copy", ["single", "multipart"])
def test_a_blob_replaced_after_verification_is_refused_by_the_servers_412(
        copy, staged, stack, s3, make_filer, worker):
    folder, run_id, objects = staged
    key = _blob_keys(staged)[copy]
    restage(s3, stack, objects)

    def replace() -> None:
        s3.put_object(Bucket=stack.names.staging_bucket, Key=key, Body=noise("replaced", len(objects[key])))

    filer = make_filer(stack.endpoint_url, on_step=_once_at("verified", replace))
    seen = answers(filer.client)
    drain(worker)
    operation = "CopyObject" if copy == "single" else "UploadPartCopy"
    assert seen[(operation, 412)] >= 1, seen
    receipt = read_receipt(s3, stack, "P1", run_id)
    assert receipt is not None
    assert not receipt.filed
    assert receipt.code == "piece-changed", receipt
    # The server refused the copy: no version of the blob and no delete marker (nothing was undone),
    # and no part of it left behind.
    archived = versions(s3, stack.names.archive_bucket, "P1/")
    replaced = "centerline.shp" if copy == "single" else "orthomosaic.gpkg"  # the larger blob
    assert not any(k.endswith(replaced) for k in archived), archived
    assert s3.list_multipart_uploads(Bucket=stack.names.archive_bucket).get("Uploads", []) == []


def test_a_copy_an_earlier_attempt_made_is_met_by_the_servers_412_and_confirmed(
        staged, undisturbed, stack, s3, make_filer, worker, monkeypatch):
    folder, run_id, objects = staged
    restage(s3, stack, objects)
    make_filer(stack.endpoint_url, on_step=kill_at("filed"))
    assert _fails(worker)
    # The filer looks (HEAD) before it copies; here the earlier attempt's copy lands between the
    # look and the copy, as with two deliveries at once: the first HEAD of each key sees nothing.
    looked: set[str] = set()
    real_head = filer_copy.head

    def racing_head(ctx: Any, bucket: str, key: str, **kwargs: Any) -> Any:
        if bucket == stack.names.archive_bucket and key not in looked:
            looked.add(key)
            return None
        return real_head(ctx, bucket, key, **kwargs)

    monkeypatch.setattr(filer_copy, "head", racing_head)
    filer = make_filer(stack.endpoint_url)
    seen = answers(filer.client)
    drain(worker)
    assert seen[("CopyObject", 412)] >= 1, seen  # IfNoneMatch met the earlier attempt's copy
    assert seen[("CopyObject", 200)] == 0, seen  # and nothing was copied a second time
    diff = state_diff(archive_state(s3, stack), undisturbed)
    assert not diff, "\n".join(diff)
    assert_filed_once(s3, stack, folder, "P1", TS, run_id)


def _big_project(tmp_path: Any) -> Any:
    folder = make_project(tmp_path, small=2, large=False)
    (folder / "gis_data").mkdir()
    (folder / "gis_data" / "mosaic.gpkg").write_bytes(noise("mosaic", 11 * MiB))  # three 5 MiB parts
    return folder


def _parts_count(s3: Any, bucket: str, key: str) -> int:
    """How many parts S3 assembled a multipart object from."""
    attributes = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts"])
    return int(attributes["ObjectParts"]["TotalPartsCount"])


def test_a_blob_copied_in_parts_carries_the_full_object_crc64nvme_of_its_record(
        tmp_path, stack, s3, make_filer, running_worker):
    filer = make_filer(stack.endpoint_url)
    seen = answers(filer.client)
    folder = _big_project(tmp_path)
    result = backup(tmp_path, stack, folder, "P1")
    assert result.status == "filed"
    record = assert_filed_once(s3, stack, folder, "P1", TS, result.run_id)
    key = f"P1/gis_data/{TS}/mosaic.gpkg"
    head = s3.head_object(Bucket=stack.names.archive_bucket, Key=key, ChecksumMode="ENABLED")
    assert _parts_count(s3, stack.names.archive_bucket, key) == 3
    (recorded,) = [f.crc64nvme for f in record.files if f.key == key]
    assert recorded == crc64nvme_b64((folder / "gis_data" / "mosaic.gpkg").read_bytes())
    assert (head["ChecksumCRC64NVME"], head["ChecksumType"]) == (recorded, "FULL_OBJECT")
    assert "ChecksumSHA256" not in head  # a composite SHA-256 (of parts) would not be the file's
    assert seen[("CompleteMultipartUpload", 200)] == 1


def test_an_object_assembled_unlike_its_parts_is_removed_by_the_filer_and_copied_again(
        tmp_path, stack, s3, make_filer, worker):
    """The full-object CRC64NVME S3 answers at completion is what the filer checks: answered wrong
    (as a server that assembled other parts would), the object is removed and the message fails;
    its next delivery copies it again."""
    filer = make_filer(stack.endpoint_url)
    seen = answers(filer.client)

    def assembled_otherwise(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("ChecksumCRC64NVME"):
            parsed["ChecksumCRC64NVME"] = crc64nvme_b64(b"other parts")

    filer.client.meta.events.register("after-call.s3.CompleteMultipartUpload", assembled_otherwise)
    folder = _big_project(tmp_path)
    result = backup(tmp_path, stack, folder, "P1", wait=False)
    assert _fails(worker)
    assert seen[("CompleteMultipartUpload", 200)] == 1
    key = f"P1/gis_data/{TS}/mosaic.gpkg"
    archive = stack.names.archive_bucket
    assert key not in list_keys(s3, archive, "P1/gis_data/"), "the wrongly assembled copy was kept"
    assert versions(s3, archive, key) == {key: 2}  # the copy and the delete marker that removed it
    filer.client.meta.events.unregister("after-call.s3.CompleteMultipartUpload", assembled_otherwise)
    drain(worker)
    receipt = read_receipt(s3, stack, "P1", result.run_id)
    assert receipt is not None
    assert receipt.filed, receipt
    stored = s3.get_object(Bucket=archive, Key=key, ChecksumMode="ENABLED")
    data = (folder / "gis_data" / "mosaic.gpkg").read_bytes()
    assert stored["Body"].read() == data
    assert stored["ChecksumCRC64NVME"] == crc64nvme_b64(data)
    assert _parts_count(s3, archive, key) == 3


def test_a_part_misreported_at_completion_is_refused_by_the_server(
        tmp_path, stack, s3, make_filer, worker):
    filer = make_filer(stack.endpoint_url)
    seen = answers(filer.client)

    def misreport(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("CopyPartResult", {}).get("ChecksumCRC64NVME"):
            parsed["CopyPartResult"]["ChecksumCRC64NVME"] = crc64nvme_b64(b"another part")

    filer.client.meta.events.register("after-call.s3.UploadPartCopy", misreport)
    folder = _big_project(tmp_path)
    result = backup(tmp_path, stack, folder, "P1", wait=False)
    assert _fails(worker)
    assert seen[("CompleteMultipartUpload", 400)] >= 1, seen
    assert versions(s3, stack.names.archive_bucket, "P1/gis_data/") == {}
    assert s3.list_multipart_uploads(Bucket=stack.names.archive_bucket).get("Uploads", []) == []
    # Told truly this time, the same message files the run.
    make_filer(stack.endpoint_url)
    drain(worker)
    assert_filed_once(s3, stack, folder, "P1", TS, result.run_id)


def test_connections_are_reused_by_the_client_and_the_filer(tmp_path, isolated_cache, monkeypatch):
    """Counted at the server: a run of many pieces costs a handful of connections per side."""
    with LocalStackServer(counters=True) as server, swapped_filer():
        assert server.endpoint_url is not None
        assert server.counters_url is not None
        local = provision(server.endpoint_url)
        for name, value in local.filer_environment("WARNING").items():
            monkeypatch.setenv(name, value)
        filer_handler.reset_filer(filer_handler.build_filer())
        # The client reads AWS_ENDPOINT_URL too (it outranks config.yaml): only the filer may see it.
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        with _counting(server.counters_url) as counted:
            worker = LocalFilerWorker(local, handler=filer_handler.handler, wait_seconds=1).start()
            try:
                folder = make_project(tmp_path, small=40, large=True)
                result = backup(tmp_path, local, folder, "P1")
            finally:
                worker.stop()
        assert result.status == "filed"
        s3 = local.client("s3")
        assert run_record_key("P1", TS, result.run_id) in list_keys(s3, local.names.archive_bucket)
        assert list_keys(s3, local.names.staging_bucket, staging_run_prefix("P1", result.run_id)) == []
    requests, connections = counted["requests"], counted["connections"]
    assert requests >= 60, counted
    # One connection per request would be the server (or a client) closing after every answer.
    assert connections * 2 <= requests, counted


def _fails(worker: LocalFilerWorker, seconds: float = 60) -> bool:
    """Whether a delivery fails within ``seconds``: S3's notification reaches the queue a moment
    after the put, and the queue may first hand over the test event S3 sent when the stack was
    provisioned."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if worker.poll_once().failed:
            return True
    return False


def _once_at(step: str, action: Callable[[], None]) -> Callable[[str], None]:
    done: list[bool] = []

    def hook(name: str) -> None:
        if name == step and not done:
            done.append(True)
            action()

    return hook


class _counting:  # noqa: N801 - used as a context manager, like contextlib's
    """The server's counters over the block, as differences."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.totals: dict[str, int] = {}

    def _read(self) -> dict[str, Any]:
        import json
        import urllib.request

        with urllib.request.urlopen(self.url, timeout=30) as response:
            return json.loads(response.read())

    def __enter__(self) -> dict[str, int]:
        self._before = self._read()
        return self.totals

    def __exit__(self, *exc: object) -> None:
        after = self._read()
        self.totals.update({k: after[k] - self._before[k] for k in ("requests", "connections")})

