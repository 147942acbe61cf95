"""CRC64NVME, S3's full-object checksum: computed as S3 computes it, carried by the manifest and the
run record, and refused when malformed."""

from __future__ import annotations

import base64
import json

import pytest
from awscrt import checksums

from artifact_contract import (
    Crc64Nvme,
    FileEntry,
    Manifest,
    ManifestInvalidError,
    Piece,
    RecordInvalidError,
    RunRecord,
    build_manifest,
    crc64nvme_b64,
    is_crc64nvme_b64,
    pack_piece_id,
)

SHA_A = "a" * 64
SHA_P = "c" * 64


def test_the_check_value_of_the_nvme_specification() -> None:
    # CRC-64/NVME's check value: the CRC of the ASCII digits 1 to 9 is 0xAE8B14860A799888.
    assert base64.b64decode(crc64nvme_b64(b"123456789")).hex() == "ae8b14860a799888"


def test_fed_in_pieces_it_equals_the_whole() -> None:
    data = bytes(range(256)) * 1000
    crc = Crc64Nvme()
    for start in range(0, len(data), 4097):
        crc.update(memoryview(data)[start:start + 4097])
    assert crc.b64() == crc64nvme_b64(data)
    assert crc.b64() == base64.b64encode(checksums.crc64nvme(data).to_bytes(8, "big")).decode()
    assert Crc64Nvme(data[:10]).b64() == crc64nvme_b64(data[:10])


@pytest.mark.parametrize("value", ["", "AAAA", "AAAAAAAAAAA", "AAAAAAAAAAAA=", "!!!!!!!!!!!=",
                                   "AAAAAAAAAAB=", None, 12, "AAAAAAAAAAAAAAAA"])
def test_malformed_values_are_not_checksums(value: object) -> None:
    assert not is_crc64nvme_b64(value)


def _manifest(crc: object) -> dict:
    data = build_manifest(
        run_id="0123456789abcdef0123456789abcdef", project_key="RMI25320", timestamp="20251030_1430",
        archive_bucket="rmi-360-raw", created_at="2025-10-30T14:30:00Z",
        pieces=[Piece(pack_piece_id(SHA_P), "pack", 10, SHA_P)],
        files=[FileEntry("logs", "process_log.txt", 5, SHA_A, pack_piece_id(SHA_P))],
    ).to_dict()
    if crc is not None:
        data["files"][0]["crc64nvme"] = crc
    return data


def test_the_manifest_carries_it_and_the_record_keeps_it() -> None:
    crc = crc64nvme_b64(b"hello")
    manifest = Manifest.from_json(json.dumps(_manifest(crc)))
    (entry,) = list(manifest.files)
    assert entry.crc64nvme == crc
    assert manifest.to_dict()["files"][0]["crc64nvme"] == crc
    record = RunRecord.from_json(RunRecord.for_manifest(manifest).to_json())
    assert record.files[0].crc64nvme == crc


def test_a_manifest_without_it_still_files_and_its_record_says_none() -> None:
    manifest = Manifest.from_json(json.dumps(_manifest(None)))
    (entry,) = list(manifest.files)
    assert entry.crc64nvme is None
    assert "crc64nvme" not in manifest.to_dict()["files"][0]
    record = RunRecord.for_manifest(manifest)
    assert record.files[0].crc64nvme is None
    assert "crc64nvme" not in record.to_dict()["files"][0]


@pytest.mark.parametrize("crc", ["not-a-crc", 7, "AAAAAAAAAAAAAAAA"])
def test_a_malformed_one_is_refused_naming_the_field(crc: object) -> None:
    with pytest.raises(ManifestInvalidError, match="crc64nvme"):
        Manifest.from_json(json.dumps(_manifest(crc)))


def test_a_record_with_a_malformed_one_is_invalid() -> None:
    manifest = Manifest.from_json(json.dumps(_manifest(crc64nvme_b64(b"x"))))
    data = json.loads(RunRecord.for_manifest(manifest).to_json())
    data["files"][0]["crc64nvme"] = "zz"
    with pytest.raises(RecordInvalidError, match="crc64nvme"):
        RunRecord.from_json(json.dumps(data))
