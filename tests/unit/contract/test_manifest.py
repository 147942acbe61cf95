import copy
import json

import pytest

from artifact_contract import (
    MAX_MANIFEST_BYTES,
    FileEntry,
    Manifest,
    ManifestInvalidError,
    Piece,
    Receipt,
    ReceiptInvalidError,
    blob_piece_id,
    blob_slot_id,
    build_manifest,
    is_blob_id,
    pack_piece_id,
)

RUN = "0123456789abcdef0123456789abcdef"
SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_P = "c" * 64


def good() -> dict:
    return build_manifest(
        run_id=RUN,
        project_key="RMI25320",
        timestamp="20251030_1430",
        archive_bucket="rmi-360-raw",
        created_at="2025-10-30T14:30:00Z",
        pieces=[
            Piece(pack_piece_id(SHA_P), "pack", 10, SHA_P),
            Piece(blob_piece_id(SHA_B), "blob", 99, SHA_B),
        ],
        files=[
            FileEntry("logs", "process_log.txt", 5, SHA_A, pack_piece_id(SHA_P)),
            FileEntry("gis_data", "big.gpkg", 99, SHA_B, blob_piece_id(SHA_B)),
        ],
    ).to_dict()


def test_round_trip():
    data = good()
    manifest = Manifest.from_json(json.dumps(data))
    assert manifest.to_dict() == data
    assert manifest.total_bytes == 104
    assert manifest.types == ("gis_data", "logs")
    assert [f.path for f in manifest.files_by_piece()[pack_piece_id(SHA_P)]] == ["process_log.txt"]


def test_json_is_the_dict_as_compact_json():
    """The manifest is written one entry at a time; its bytes are still exactly those of its dict."""
    manifest = Manifest.from_dict(good())
    expected = json.dumps(manifest.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    assert manifest.to_json() == expected
    assert Manifest.from_json(manifest.to_json()) == manifest


def slot_blob(data: dict, *, version: int, piece_id: str | None = None) -> None:
    """Rename the large file's blob to its name-derived slot id (or ``piece_id``)."""
    slot = piece_id or blob_slot_id("gis_data/big.gpkg")
    data["version"] = version
    data["pieces"][1]["id"] = slot
    data["files"][1]["piece"] = slot


def test_blob_named_by_its_file_is_version_3():
    """A large file sent while being hashed travels under its name's slot; the manifest says so by
    its version, so a filer that predates slots refuses it by name rather than as corrupt."""
    data = good()
    slot_blob(data, version=3)
    manifest = Manifest.from_dict(data)
    assert manifest.pieces[1].id == blob_slot_id("gis_data/big.gpkg") != blob_piece_id(SHA_B)
    assert manifest.version == 3
    assert json.loads(manifest.to_json())["version"] == 3
    assert Manifest.from_json(manifest.to_json()) == manifest
    # Without slots it is still version 1: older filers keep accepting it.
    assert Manifest.from_dict(good()).version == 1


def test_slot_ids_are_fixed_per_name():
    assert blob_slot_id("gis_data/big.gpkg") == blob_slot_id("gis_data/big.gpkg")
    assert blob_slot_id("gis_data/big.gpkg") != blob_slot_id("gis_data/other.gpkg")
    assert is_blob_id(blob_slot_id("gis_data/é.gpkg"))
    assert is_blob_id(blob_piece_id(SHA_B))
    assert not is_blob_id("blobs/" + "A" * 64)
    assert not is_blob_id(pack_piece_id(SHA_B))


def mutate(fn):
    data = copy.deepcopy(good())
    fn(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=4), "version 4 is not supported"),
        # A blob named by its file (not its content) needs version 3 ...
        (lambda d: slot_blob(d, version=1), "does not match its kind and sha256"),
        # ... and even there, a blob id is a blob's shape and nothing else.
        (lambda d: slot_blob(d, version=3, piece_id="blobs/../../x"), "does not match its kind"),
        (lambda d: slot_blob(d, version=3, piece_id=pack_piece_id(SHA_B)), "does not match its kind"),
        (lambda d: d.update(schema="other"), "schema"),
        (lambda d: d.update(run_id="xyz"), "run id"),
        (lambda d: d.update(project_key="a/b"), "slash"),
        (lambda d: d.update(timestamp="20251399_9999"), "not a real date"),
        (lambda d: d.update(archive_bucket=""), "archive_bucket"),
        (lambda d: d.update(files=[]), "no files"),
        (lambda d: d["files"].append(dict(d["files"][0])), "listed twice"),
        (lambda d: d["files"][0].update(path="../../x.txt"), "segment"),
        (lambda d: d["files"][0].update(path="/abs.txt"), "absolute"),
        (lambda d: d["files"][0].update(path="C:/x.txt"), "drive"),
        (lambda d: d["files"][0].update(path="a\\b.txt"), "backslash"),
        (lambda d: d["files"][0].update(path="a\x00.txt"), "control"),
        (lambda d: d["files"][0].update(path="x.exe"), "extension"),
        (lambda d: d["files"][0].update(type="reels"), "unknown artifact type"),
        (lambda d: d["files"][0].update(size=-1), "negative"),
        (lambda d: d["files"][0].update(size=True), "wrong type"),
        (lambda d: d["files"][0].update(sha256="ABC"), "sha256"),
        (lambda d: d["files"][0].update(piece="packs/nope.tar.gz"), "not listed"),
        (lambda d: d["files"][1].update(size=98), "does not match the blob"),
        (lambda d: d["pieces"].append(dict(d["pieces"][0])), "listed twice"),
        (lambda d: d["pieces"][0].update(kind="zip"), "neither"),
        (lambda d: d["pieces"][0].update(id="packs/../../x"), "does not match"),
        (
            lambda d: d["pieces"].append(
                {"id": pack_piece_id("d" * 64), "kind": "pack", "size": 1, "sha256": "d" * 64}
            ),
            "carry no",
        ),
        (lambda d: d.update(uploader={"host": 5}), "uploader"),
    ],
)
def test_invalid_manifests(change, message):
    with pytest.raises(ManifestInvalidError, match=message):
        Manifest.from_json(json.dumps(mutate(change)))


@pytest.mark.parametrize("raw", [b"not json", b"[]", b"\xff\xfe", b'"text"'])
def test_not_a_manifest(raw):
    with pytest.raises(ManifestInvalidError):
        Manifest.from_json(raw)


def test_huge_manifest_refused_unread():
    with pytest.raises(ManifestInvalidError, match="more than"):
        Manifest.from_json(b" " * (MAX_MANIFEST_BYTES + 1))


def test_receipt_round_trip_and_errors():
    receipt = Receipt(run_id=RUN, project_key="P", status="refused", reason="bad", code="x")
    again = Receipt.from_json(receipt.to_json())
    assert again == receipt
    assert not again.filed
    with pytest.raises(ReceiptInvalidError):
        Receipt.from_json(b"{}")
    with pytest.raises(ReceiptInvalidError):
        Receipt.from_json(b'{"schema": "artifact-backup.receipt", "status": "maybe"}')
