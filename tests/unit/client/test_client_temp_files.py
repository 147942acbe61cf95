"""The packs' temporary files: removed after the run, and a removal that fails (a virus scanner
holding the file on Windows) is a warning naming the file, never the run's outcome."""

from __future__ import annotations

import logging
import os

import pytest
from client_support import PROJECT, write

from artifact_backup import BackupRequest, FileChangedError, UploadConfig
from artifact_backup.transfer import BaseSubscriber


@pytest.fixture
def held_packs(monkeypatch):
    """Every pack file refuses deletion, as Windows refuses a file another program holds open."""
    real_unlink = os.unlink
    refused: list[str] = []

    def unlink(path, *args, **kwargs):
        if os.path.basename(os.fspath(path)).startswith("artifact-pack-"):
            refused.append(os.fspath(path))
            raise PermissionError(13, "The process cannot access the file because it is being used "
                                      "by another process", os.fspath(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    return refused


def _request(root) -> BackupRequest:
    return BackupRequest(folder=root, project_key=PROJECT, include=["logs"])


def test_packs_are_removed_after_the_run(tmp_path, s3, make_uploader):
    packs = tmp_path / "packs"
    packs.mkdir()
    root = tmp_path / "p"
    write(root / "logs" / "a.log", "a")
    result = make_uploader(config=UploadConfig(temp_dir=str(packs))).backup(_request(root), wait=False)
    assert result.pieces_sent == 1
    assert os.listdir(packs) == []


def test_a_held_pack_file_is_named_not_raised(tmp_path, s3, make_uploader, held_packs, caplog):
    packs = tmp_path / "packs"
    packs.mkdir()
    root = tmp_path / "p"
    write(root / "logs" / "a.log", "a")
    with caplog.at_level(logging.WARNING):
        result = make_uploader(config=UploadConfig(temp_dir=str(packs))).backup(_request(root), wait=False)
    assert result.pieces_sent == 1  # the run is sent all the same
    assert held_packs
    [left] = os.listdir(packs)
    assert f"cannot remove the pack file {packs / left} (remove it by hand)" in caplog.text


def test_a_failed_clean_up_does_not_mask_the_runs_error(tmp_path, s3, make_uploader, held_packs):
    packs = tmp_path / "packs"
    packs.mkdir()
    root = tmp_path / "p"
    log = write(root / "logs" / "live.log", "0123456789")

    class Shrink(BaseSubscriber):
        def on_planned(self, **kwargs):
            log.write_text("01")

    uploader = make_uploader(subscribers=[Shrink()], config=UploadConfig(temp_dir=str(packs)))
    with pytest.raises(FileChangedError, match="live.log changed"):
        uploader.backup(_request(root))
    assert held_packs  # its pack's removal failed, and what is raised is still the run's own error
