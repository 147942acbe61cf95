"""Build runs in staging the way docs/protocol.md says the client does, and break them on purpose.

Packs are deterministic PAX tars, gzip level 1, members ``{type}/{path}``; files at or above the
threshold travel as blobs. ``tamper`` hooks let a test replace a pack's members with anything (links,
``..`` names, bombs) while the manifest stays what an honest client would have sent.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from artifact_contract import (
    FileEntry,
    Manifest,
    Piece,
    blob_piece_id,
    build_manifest,
    crc64nvme_b64,
    manifest_key,
    pack_piece_id,
    piece_key,
)

STAGING = "filer-test-staging"
ARCHIVE = "filer-test-archive"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def noise(seed: str, size: int) -> bytes:
    """Deterministic incompressible bytes, so packs stay the size of their input."""
    return random.Random(seed).randbytes(size)


def new_run_id() -> str:
    return uuid.uuid4().hex


def _gzip(raw: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0) as gz:
        gz.write(raw)
    return out.getvalue()


Member = tuple[tarfile.TarInfo, bytes | None]


def tar_bytes(members: Iterable[Member]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def regular(name: str, data: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, data


def make_pack(files: Mapping[tuple[str, str], bytes], tamper: Callable[[list[Member]], list[Member]] | None
              = None) -> bytes:
    members = [regular(f"{t}/{p}", d) for (t, p), d in sorted(files.items())]
    if tamper is not None:
        members = tamper(members)
    return _gzip(tar_bytes(members))


@dataclass
class StagedRun:
    """A run as the client would stage it; ``upload`` puts it in the bucket, manifest last."""

    project_key: str
    files: dict[tuple[str, str], bytes]
    timestamp: str | None = "20251030_1430"
    run_id: str = field(default_factory=new_run_id)
    archive_bucket: str = ARCHIVE
    pack_threshold: int = 64 * 1024
    pack_max_input: int = 64 * 1024 * 1024
    tamper: Callable[[list[Member]], list[Member]] | None = None
    #: Whether the manifest gives each file's CRC64NVME, as clients that compute it do.
    crc64nvme: bool = False
    pieces: dict[str, bytes] = field(default_factory=dict)
    manifest: Manifest | None = None

    def build(self) -> Manifest:
        entries: list[FileEntry] = []
        pieces: list[Piece] = []
        small = {k: v for k, v in sorted(self.files.items()) if len(v) < self.pack_threshold}
        large = {k: v for k, v in sorted(self.files.items()) if len(v) >= self.pack_threshold}
        groups: list[dict[tuple[str, str], bytes]] = [{}]
        for key, data in small.items():
            if groups[-1] and sum(map(len, groups[-1].values())) + len(data) > self.pack_max_input:
                groups.append({})
            groups[-1][key] = data
        for group in (g for g in groups if g):
            body = make_pack(group, self.tamper)
            piece = Piece(pack_piece_id(sha(body)), "pack", len(body), sha(body))
            self.pieces[piece.id] = body
            pieces.append(piece)
            entries += [FileEntry(t, p, len(d), sha(d), piece.id, crc64nvme=self._crc(d))
                        for (t, p), d in group.items()]
        for (t, p), data in large.items():
            piece_id = blob_piece_id(sha(data))
            if piece_id not in self.pieces:
                self.pieces[piece_id] = data
                pieces.append(Piece(piece_id, "blob", len(data), sha(data)))
            entries.append(FileEntry(t, p, len(data), sha(data), piece_id, crc64nvme=self._crc(data)))
        self.manifest = build_manifest(
            run_id=self.run_id,
            project_key=self.project_key,
            timestamp=self.timestamp,
            archive_bucket=self.archive_bucket,
            created_at="2025-10-30T14:30:00+00:00",
            files=entries,
            pieces=pieces,
            uploader={"host": "test"},
        )
        return self.manifest

    def _crc(self, data: bytes) -> str | None:
        return crc64nvme_b64(data) if self.crc64nvme else None

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.project_key, self.run_id)

    def piece_key(self, piece_id: str) -> str:
        return piece_key(self.project_key, self.run_id, piece_id)

    def upload(self, s3: Any, *, manifest: bytes | None = None, skip: Iterable[str] = (),
               bucket: str = STAGING) -> str:
        if self.manifest is None:
            self.build()
        assert self.manifest is not None
        skipped = set(skip)
        for piece_id, body in self.pieces.items():
            if piece_id not in skipped:
                s3.put_object(Bucket=bucket, Key=self.piece_key(piece_id), Body=body)
        s3.put_object(Bucket=bucket, Key=self.manifest_key,
                      Body=manifest if manifest is not None else self.manifest.to_json())
        return self.manifest_key


def s3_event(bucket: str, key_as_sent: str, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2025-10-30T14:30:00.000Z",
                "eventName": event_name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "manifest-arrivals",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key_as_sent, "size": 1, "eTag": "x", "sequencer": "0"},
                },
            }
        ]
    }


def sqs_batch(bodies: Iterable[Mapping[str, Any] | str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"msg-{i}",
                "receiptHandle": f"handle-{i}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:artifact-backup-filer",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2025-10-30T14:30:00.000Z",
    "Bucket": STAGING,
    "RequestId": "x",
    "HostId": "y",
}


def crc_mismatches(s3: Any, bucket: str, record: Any) -> dict[str, str]:
    """Every file of a run record whose archived object does not hold the record's CRC64NVME as a
    full-object checksum (HEAD with ChecksumMode), with what S3 holds instead. moto names no type
    for an object written in one request (whose checksum can only be full-object); S3 and
    LocalStack name FULL_OBJECT."""
    wrong: dict[str, str] = {}
    for f in record.files:
        head = s3.head_object(Bucket=bucket, Key=f.key, ChecksumMode="ENABLED")
        held = (head.get("ChecksumCRC64NVME"), head.get("ChecksumType"))
        if f.crc64nvme is None or held not in ((f.crc64nvme, "FULL_OBJECT"), (f.crc64nvme, None)):
            wrong[f.key] = f"{held}, recorded {f.crc64nvme}"
    return wrong
