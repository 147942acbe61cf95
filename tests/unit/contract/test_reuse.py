"""Reused files in the manifest (version 2) and the reuse index the filer keeps in staging."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from artifact_contract import (
    FileEntry,
    IndexedFile,
    Manifest,
    ManifestInvalidError,
    Piece,
    Reuse,
    ReuseIndex,
    ReuseIndexInvalidError,
    build_manifest,
    pack_piece_id,
    reuse_index_key,
)

RUN = "0123456789abcdef0123456789abcdef"
SHA_A = "a" * 64
SHA_G = "9" * 64
SHA_P = "c" * 64
NOW = datetime(2025, 10, 30, 14, 30, tzinfo=UTC)


def with_reuse() -> Manifest:
    return build_manifest(
        run_id=RUN,
        project_key="RMI25320",
        timestamp="20251030_1430",
        archive_bucket="rmi-360-raw",
        created_at="2025-10-30T14:30:00+00:00",
        pieces=[Piece(pack_piece_id(SHA_P), "pack", 10, SHA_P)],
        files=[
            FileEntry("logs", "process_log.txt", 5, SHA_A, pack_piece_id(SHA_P)),
            FileEntry("gis_data", "roads.gpkg", 99, SHA_G, None, Reuse(SHA_G)),
        ],
    )


def test_reused_file_round_trips_as_version_2():
    manifest = with_reuse()
    data = manifest.to_dict()
    assert data["version"] == 2
    gis = next(f for f in data["files"] if f["type"] == "gis_data")
    assert gis["piece"] is None
    assert gis["reuse"] == {"sha256": SHA_G}
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest
    assert [f.path for f in again.reused] == ["roads.gpkg"]
    assert again.files_by_piece() == {pack_piece_id(SHA_P): [again.files[0]]}
    assert again.total_bytes == 104


def test_a_run_with_nothing_reused_is_still_written_as_version_1():
    manifest = build_manifest(
        run_id=RUN, project_key="P", timestamp=None, archive_bucket="b", created_at="2025-10-30T14:30:00",
        pieces=[Piece(pack_piece_id(SHA_P), "pack", 10, SHA_P)],
        files=[FileEntry("logs", "a.log", 5, SHA_A, pack_piece_id(SHA_P))],
    )
    data = manifest.to_dict()
    assert data["version"] == 1
    assert "reuse" not in data["files"][0]
    assert Manifest.from_dict(data) == manifest


def test_every_file_reused_needs_no_piece():
    manifest = build_manifest(
        run_id=RUN, project_key="P", timestamp=None, archive_bucket="b", created_at="2025-10-30T14:30:00",
        pieces=[], files=[FileEntry("gis_data", "a.gpkg", 7, SHA_G, None, Reuse(SHA_G))],
    )
    assert manifest.pieces == ()
    assert manifest.files_by_piece() == {}


def _mutated(change) -> dict:
    data = copy.deepcopy(with_reuse().to_dict())
    change(next(f for f in data["files"] if f["type"] == "gis_data"), data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f, d: d.update(version=1), "version 1 does not know"),
        (lambda f, d: f.update(piece=pack_piece_id(SHA_P)), "its piece must be null"),
        (lambda f, d: f.pop("piece"), "its piece must be null"),
        (lambda f, d: f.update(reuse={"sha256": SHA_A}), "not the file's own sha256"),
        (lambda f, d: f.update(reuse={"sha256": "A" * 64}), "64 lowercase hex"),
        (lambda f, d: f.update(reuse={"sha256": SHA_G, "key": "RMI25320/x"}), "only 'sha256'"),
        (lambda f, d: f.update(reuse=SHA_G), "only 'sha256'"),
        (lambda f, d: f.update(reuse=[SHA_G]), "only 'sha256'"),
        (lambda f, d: f.update(reuse=None), "has the wrong type"),  # then piece null must be a str
        (lambda f, d: f.update(path="../escape.gpkg"), "segment"),
    ],
)
def test_malformed_reuse_is_refused(change, message):
    with pytest.raises(ManifestInvalidError, match=message):
        Manifest.from_dict(_mutated(change))


def test_reuse_index_key_is_per_project_and_validated():
    assert reuse_index_key("RMI25320") == "index/RMI25320/reuse.json"
    with pytest.raises(Exception, match="slash"):
        reuse_index_key("a/b")


def entry(sha: str, key: str, days_ago: float, size: int = 10) -> IndexedFile:
    return IndexedFile(sha, size, key, RUN, (NOW - timedelta(days=days_ago)).isoformat())


def test_lookup_needs_same_checksum_and_size_and_a_young_enough_copy():
    index = ReuseIndex("P", {SHA_G: entry(SHA_G, "P/gis_data/20251001_0900/a.gpkg", 3)}, max_age_days=60)
    assert index.lookup(SHA_G, 10, now=NOW) is not None
    assert index.lookup(SHA_G, 11, now=NOW) is None
    assert index.lookup(SHA_A, 10, now=NOW) is None
    assert index.lookup(SHA_G, 10, now=NOW + timedelta(days=58)) is None


def test_merge_keeps_the_newest_copy_drops_overwritten_keys_old_entries_and_the_excess():
    index = ReuseIndex(
        "P",
        {
            SHA_G: entry(SHA_G, "P/gis_data/20251001_0900/a.gpkg", 20),
            SHA_A: entry(SHA_A, "P/gis_data/a.gpkg", 5),  # untimestamped key, about to be overwritten
            "1" * 64: entry("1" * 64, "P/gis_data/20250101_0900/old.gpkg", 200),
            "2" * 64: entry("2" * 64, "P/gis_data/20251020_0900/keep.gpkg", 1),
        },
    )
    run = [entry(SHA_G, "P/gis_data/20251030_1430/a.gpkg", 0), entry(SHA_P, "P/gis_data/a.gpkg", 0)]
    merged = index.merged(run, updated_at=NOW.isoformat(), now=NOW)
    assert set(merged.entries) == {SHA_G, SHA_P, "2" * 64}
    assert merged.entries[SHA_G].key == "P/gis_data/20251030_1430/a.gpkg"
    capped = index.merged(run, updated_at="x", now=NOW, max_entries=2)
    assert set(capped.entries) == {SHA_G, SHA_P}
    assert set(merged.without([SHA_G], updated_at="y").entries) == {SHA_P, "2" * 64}


def test_index_round_trips_and_refuses_anything_it_did_not_write():
    index = ReuseIndex("P", {SHA_G: entry(SHA_G, "P/gis_data/20251001_0900/a.gpkg", 3)}, updated_at="t")
    raw = index.to_json()
    assert ReuseIndex.from_json(raw, "P") == index
    with pytest.raises(ReuseIndexInvalidError, match="another project"):
        ReuseIndex.from_json(raw, "Q")

    def bad(change) -> bytes:
        data = json.loads(raw)
        change(data)
        return json.dumps(data).encode()

    for change, message in [
        (lambda d: d["files"][SHA_G].update(key="Q/gis_data/a.gpkg"), "outside"),
        (lambda d: d["files"][SHA_G].update(key="P/_runs/20251001_0900/run.json"), "outside"),
        (lambda d: d["files"][SHA_G].update(size=-1), "size"),
        (lambda d: d["files"][SHA_G].update(size=True), "size"),
        (lambda d: d["files"].update({"XYZ": {}}), "malformed"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(schema="x"), "not a reuse index"),
        (lambda d: d.update(max_age_days="60"), "max_age_days"),
    ]:
        with pytest.raises(ReuseIndexInvalidError, match=message):
            ReuseIndex.from_json(bad(change), "P")
    with pytest.raises(ReuseIndexInvalidError, match="JSON"):
        ReuseIndex.from_json(b"{", "P")
