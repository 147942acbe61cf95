"""Readers join the records of the uploads filed at one timestamp into that timestamp's one run."""

from __future__ import annotations

from artifact_backup.archive.joined import join
from artifact_contract import RecordedFile, RunRecord

TS = "20251030_1200"


def record(run_id: str, created_at: str, *files: tuple[str, str], config: str | None = None) -> RunRecord:
    recorded = tuple(RecordedFile(t, p, f"P/{t}/{TS}/{p}", 10, "0" * 64) for t, p in files)
    return RunRecord(run_id, "P", TS, "bucket", created_at, recorded,
                     prefixes=tuple(sorted({f"P/{t}/{TS}/" for t, _ in files})), config_sha256=config)


def test_one_record_is_the_run_as_it_is():
    only = record("a" * 32, "2025-10-30T12:00:00Z", ("logs", "x.log"))
    merged, key, uploads = join([(only, "k")])
    assert merged is only
    assert key == "k"
    assert [(u.run_id, u.types) for u in uploads] == [("a" * 32, ("logs",))]


def test_uploads_are_joined_oldest_first_with_the_config_uploads_hash():
    report = record("b" * 32, "2025-10-30T13:00:00Z", ("report", "r.html"), ("config", "c.yaml"),
                    config="c" * 64)
    logs = record("a" * 32, "2025-10-30T12:00:00Z", ("logs", "x.log"), config="l" * 64)
    merged, key, uploads = join([(report, "kb"), (logs, "ka")])
    assert (merged.run_id, key) == ("a" * 32, "ka")
    assert [f.key for f in merged.files] == sorted(f.key for f in (*logs.files, *report.files))
    assert merged.prefixes == tuple(sorted((*logs.prefixes, *report.prefixes)))
    assert merged.config_sha256 == "c" * 64
    assert [(u.run_id, u.types, u.record_key) for u in uploads] == [
        ("a" * 32, ("logs",), "ka"), ("b" * 32, ("config", "report"), "kb")]
    assert merged.bytes == logs.bytes + report.bytes
