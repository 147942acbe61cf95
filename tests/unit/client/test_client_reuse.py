"""Skip-unchanged on the client: which large files are listed for reuse instead of sent, the one GET
of the reuse index, the switch in config and on the command line, and the automatic re-send."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from client_support import PROJECT, STAGING, Filer, write

from artifact_backup import BackupRequest, ConfigInvalidError, UploadConfig, load_config
from artifact_backup.cli import build_parser
from artifact_backup.transfer import KB, BaseSubscriber
from artifact_contract import IndexedFile, Manifest, RefusalCode, ReuseIndex, reuse_index_key

CONFIG = UploadConfig(pack_threshold=16 * KB, pack_max_bytes=64 * KB)
BIG = bytes(range(256)) * 160  # 40 KiB: above the 16 KiB pack threshold, so it travels alone
SMALL = b"line\n" * 10


class Bytes(BaseSubscriber):
    def __init__(self) -> None:
        self.sent = 0
        self.reused: list[str] = []

    def on_bytes_sent(self, *, amount: int, **kwargs) -> None:
        self.sent += amount

    def on_file_reused(self, *, path: str, size: int, **kwargs) -> None:
        self.reused.append(path)


def project(tmp_path):
    root = tmp_path / "p"
    write(root / "gis_data" / "roads.gpkg", BIG)
    write(root / "logs" / "a.log", SMALL)
    return root


def request(root, timestamp: str = "20251030_1200") -> BackupRequest:
    return BackupRequest(folder=root, project_key=PROJECT, include=["gis_data", "logs"], timestamp=timestamp)


def put_index(s3, sha: str, size: int, filed_at: datetime | None = None) -> None:
    filed = (filed_at or datetime.now(UTC)).isoformat()
    entry = IndexedFile(sha, size, f"{PROJECT}/gis_data/20251001_0900/roads.gpkg", "0" * 32, filed)
    s3.put_object(Bucket=STAGING, Key=reuse_index_key(PROJECT),
                  Body=ReuseIndex(PROJECT, {sha: entry}).to_json())


def manifest_of(s3, keys, run_id) -> Manifest:
    key = next(k for k in keys("incoming/") if k.endswith(f"{run_id}/manifest.json"))
    return Manifest.from_json(s3.get_object(Bucket=STAGING, Key=key)["Body"].read())


def test_unchanged_large_file_is_listed_for_reuse_not_sent(tmp_path, s3, calls, keys, make_uploader):
    root = project(tmp_path)
    put_index(s3, hashlib.sha256(BIG).hexdigest(), len(BIG))
    counter = Bytes()
    calls.reset()
    result = make_uploader(config=CONFIG, subscribers=[counter]).backup(request(root), wait=False)
    assert calls.counts["GetObject"] == 0  # without waiting nobody could re-send: everything is sent
    assert result.files_reused == 0
    calls.reset()
    result = make_uploader(config=CONFIG, subscribers=[counter := Bytes(), Filer(s3)]).backup(request(root))
    assert result.status == "filed"
    calls.counts["GetObject"] -= 1  # the Filer fixture reads the manifest
    assert calls.counts["GetObject"] == 2  # the index, once, and the receipt

    manifest = manifest_of(s3, keys, result.run_id)
    (gis,) = [f for f in manifest.files if f.type == "gis_data"]
    assert gis.piece is None
    assert gis.reuse is not None
    assert gis.reuse.sha256 == gis.sha256
    assert [p.kind for p in manifest.pieces] == ["pack"]
    assert not [k for k in keys(f"incoming/{PROJECT}/{result.run_id}/") if "/blobs/" in k]
    assert (result.files_reused, result.bytes_reused) == (1, len(BIG))
    assert counter.reused == ["gis_data/roads.gpkg"]
    assert counter.sent == result.bytes_sent < len(BIG)
    assert result.to_dict()["files_reused"] == 1


@pytest.mark.parametrize(
    "index",
    [
        lambda s3: None,  # no index yet: the project's first run
        lambda s3: put_index(s3, hashlib.sha256(BIG).hexdigest(), len(BIG) + 1),  # other size
        lambda s3: put_index(s3, "f" * 64, len(BIG)),  # other content
        lambda s3: put_index(s3, hashlib.sha256(BIG).hexdigest(), len(BIG),
                             datetime(2020, 1, 1, tzinfo=UTC)),  # too old: may be in Glacier
        lambda s3: s3.put_object(Bucket=STAGING, Key=reuse_index_key(PROJECT), Body=b"{not json"),
    ],
)
def test_large_file_is_sent_when_the_index_does_not_vouch_for_it(tmp_path, s3, keys, make_uploader, index):
    index(s3)
    result = make_uploader(config=CONFIG, subscribers=[Filer(s3)]).backup(request(project(tmp_path)))
    manifest = manifest_of(s3, keys, result.run_id)
    assert sorted(p.kind for p in manifest.pieces) == ["blob", "pack"]
    assert not manifest.reused
    assert result.files_reused == 0
    assert result.bytes_sent >= len(BIG)


def test_switched_off_nothing_is_reused_and_the_index_is_not_read(tmp_path, s3, calls, keys, make_uploader):
    put_index(s3, hashlib.sha256(BIG).hexdigest(), len(BIG))
    calls.reset()
    config = UploadConfig(pack_threshold=16 * KB, pack_max_bytes=64 * KB, skip_unchanged=False)
    result = make_uploader(config=config, subscribers=[Filer(s3)]).backup(request(project(tmp_path)))
    calls.counts["GetObject"] -= 1  # the Filer fixture reads the manifest
    assert calls.counts["GetObject"] == 1  # the receipt, not the index
    assert not manifest_of(s3, keys, result.run_id).reused
    again = make_uploader(config=CONFIG, subscribers=[Filer(s3)]).backup(
        request(project(tmp_path / "x"), timestamp="20251030_1300"), skip_unchanged=False
    )
    assert not manifest_of(s3, keys, again.run_id).reused


def test_a_run_of_small_files_does_not_read_the_index(tmp_path, s3, calls, make_uploader):
    root = tmp_path / "p"
    write(root / "logs" / "a.log", SMALL)
    calls.reset()
    make_uploader(config=CONFIG, subscribers=[Filer(s3)]).backup(request(root))
    assert calls.counts["GetObject"] == 2  # the Filer fixture's manifest read, and the receipt


class RefuseFirstReuse(Filer):
    """Refuses the first committed run as the filer does when an earlier copy is gone."""

    def on_committed(self, *, run_id: str, already: bool, **kwargs) -> None:
        first = not self.committed
        self.status, self.code = ("refused", RefusalCode.REUSE_UNAVAILABLE) if first else ("filed", None)
        self.reason = "gis_data/roads.gpkg was listed as unchanged, but ... send the run again" if first \
            else None
        super().on_committed(run_id=run_id, already=already, **kwargs)


def test_reuse_refused_sends_the_run_again_in_full_under_the_same_timestamp(
    tmp_path, s3, keys, make_uploader
):
    put_index(s3, hashlib.sha256(BIG).hexdigest(), len(BIG))
    filer = RefuseFirstReuse(s3)
    counter = Bytes()
    result = make_uploader(config=CONFIG, subscribers=[filer, counter]).backup(request(project(tmp_path)))

    assert result.status == "filed"
    assert result.resent is True
    first, second = filer.committed
    assert result.run_id == second != first
    assert result.timestamp == "20251030_1200"
    assert manifest_of(s3, keys, first).reused
    resent = manifest_of(s3, keys, second)
    assert not resent.reused
    assert sorted(p.kind for p in resent.pieces) == ["blob", "pack"]
    assert resent.timestamp == "20251030_1200"
    assert result.bytes_sent == counter.sent > len(BIG)


def test_other_refusals_are_not_retried(tmp_path, s3, make_uploader):
    from artifact_backup import RunRefusedError

    filer = Filer(s3, status="refused", code=RefusalCode.TIMESTAMP_TAKEN, reason="taken")
    with pytest.raises(RunRefusedError):
        make_uploader(config=CONFIG, subscribers=[filer]).backup(request(project(tmp_path)))
    assert len(filer.committed) == 1


def test_config_switch_and_command_line_flag(tmp_path):
    base = 'aws:\n  s3_bucket_raw: "rmi-360-raw"\n'
    on = write(tmp_path / "on.yaml", base)
    off = write(tmp_path / "off.yaml", base + "  transfer:\n    skip_unchanged: false\n")
    bad = write(tmp_path / "bad.yaml", base + "  transfer:\n    skip_unchanged: \"no\"\n")
    assert load_config(on, environ={}).transfer.skip_unchanged is True
    assert load_config(off, environ={}).transfer.skip_unchanged is False
    with pytest.raises(ConfigInvalidError, match="must be true or false") as raised:
        load_config(bad, environ={})
    assert raised.value.key == "aws.transfer.skip_unchanged"

    parser, _ = build_parser()
    args = parser.parse_args(["upload", "--folder", "x", "--no-skip-unchanged"])
    assert args.skip_unchanged is False
    assert parser.parse_args(["upload", "--folder", "x"]).skip_unchanged is None
