"""The progress display: the rate estimator, the lines it draws, and the filer's progress read back."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from artifact_backup.cli._console import Console
from artifact_backup.cli._eta import Estimate, RateEstimator, slower
from artifact_backup.cli._progress import ProgressDisplay, filing_text, percent, transfer_text
from artifact_backup.upload.filer_progress import FilerProgressReader, RunUnits, run_units, summarize

MiB = 1024 * 1024


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the estimator ----------------------------------------------------------------------------------


def test_no_time_left_before_enough_time_and_data():
    est = RateEstimator(100 * MiB)
    assert est.update(0, 0.0) == Estimate()
    assert est.update(1024, 0.5) == Estimate()  # the first bytes start the clock
    early = est.update(2 * MiB + 1024, 1.5)  # a rate, but one second is too early to promise a time
    assert early.rate == 2 * MiB
    assert early.left is None
    assert est.update(6 * MiB, 3.5).left is not None


def test_a_slow_start_does_not_inflate_the_first_estimate():
    """Seconds of set-up before the first byte (connections, listings) are not the transfer's
    speed: the clock starts with the first report, and the rate follows the recent windows."""
    est = RateEstimator(1000 * MiB)
    est.update(0, 0.0)
    est.update(0, 20.0)  # twenty seconds of nothing: a start-up stall
    est.update(64 * 1024, 28.0)  # the first bytes, once a first pack was built
    for second in range(1, 11):
        last = est.update(second * 10 * MiB, 28.0 + second)
    # At 10 MiB/s the 900 MiB left take 90 s; the average since the start would say 270 s.
    assert last.left is not None
    assert 90 <= last.left < 140


def test_the_rate_is_smoothed_not_jumpy():
    est = RateEstimator(10_000 * MiB)
    est.update(0, 0.0)
    for second in range(1, 11):
        est.update(second * 10 * MiB, float(second))
    spike = est.update(10 * 10 * MiB + 100 * MiB, 11.0)  # one window ten times as fast
    assert spike.rate is not None
    assert 10 * MiB < spike.rate < 40 * MiB


def test_done_means_nothing_left_and_windows_shorter_than_the_minimum_change_nothing():
    est = RateEstimator(4 * MiB)
    est.update(0, 0.0)
    first = est.update(1 * MiB, 1.0)
    assert est.update(2 * MiB, 1.2).rate == first.rate  # 0.2 s: no new window
    assert est.update(4 * MiB, 2.0).left == 0.0


# -- the lines --------------------------------------------------------------------------------------


def test_transfer_line_has_percent_bytes_of_total_rate_and_time_left():
    text = transfer_text("Uploading", 240 * MiB, 572 * MiB, Estimate(12.5 * MiB, 27.0), (120, 3000))
    assert text == ("Uploading    41% [########------------] 240.0 MiB of 572.0 MiB, 12.5 MiB/s, 0:27 left, "
                    "120/3000 files")
    narrow = transfer_text("Uploading", 1, 2, Estimate(), (0, 1), bar_width=0)
    assert narrow.startswith("Uploading    50% 1 B of 2 B")
    unknown = transfer_text("Downloading", 0, 10, Estimate(), (0, 1))
    assert "  0% [--------------------] 0 B of 10 B, -- B/s, -:-- left" in unknown
    text.encode("ascii")  # any console encoding can show it


def test_percent_reaches_100_only_when_done():
    assert percent(999, 1000) == 99
    assert percent(1000, 1000) == 100
    assert percent(5, 0) == 100
    assert percent(-3, 10) == 0


def test_filing_line_shows_what_the_filer_did_or_the_elapsed_time_alone():
    assert filing_text(42, None) == "Filing: waiting for the filer, 0:42 elapsed"
    progress = summarize(_progress_json(verified=["p1", "p2"], filed=["p1", "reuse:logs/big.bin"]),
                         RunUnits({"p1": 300, "p2": 200, "p3": 5}, reused=1), pieces=3)
    assert filing_text(75, progress) == ("Filing: waiting for the filer, 1:15 elapsed; 2/3 pieces verified, "
                                         "301/506 files filed")
    resumed = summarize(_progress_json(verified=["p1"], filed=[]), None, pieces=4)
    assert filing_text(5, resumed).endswith("; 1/4 pieces verified")


def test_upload_display_measures_the_collected_bytes_through_compressed_packs():
    stream, clock = Tty(), Clock()
    display = ProgressDisplay(stream, live=True, interval=0, clock=clock)
    display.on_planned(plan=SimpleNamespace(total_bytes=10 * MiB, total_files=4))
    display.on_file_hashed(path="logs/a.log", size=MiB)
    clock.now += 2
    display.on_bytes_sent(amount=MiB, content=4 * MiB)  # a pack: 4 MiB of files sent as 1 MiB
    display.on_file_reused(path="gis/big.tif", size=2 * MiB)
    display.on_piece_done(piece=SimpleNamespace(size=3 * MiB), skipped=True, content=4 * MiB)
    assert "100% [####################] 10.0 MiB of 10.0 MiB" in display.text()
    assert display.text().endswith(", 1/4 files")
    assert stream.getvalue().startswith("\rUploading")
    display.close()
    assert stream.getvalue().endswith("\r")


def test_download_display_leaves_files_already_on_disk_out_of_the_totals():
    display = ProgressDisplay(Tty(), live=True, interval=0, clock=Clock())
    display.on_download_planned(files=3, bytes=3 * MiB)
    display.on_file_downloaded(path="logs/a", size=MiB, skipped=True)
    display.on_bytes_received(amount=MiB)
    display.on_file_downloaded(path="logs/b", size=MiB, skipped=False)
    assert "50% [##########----------] 1.0 MiB of 2.0 MiB" in display.text()
    assert display.text().endswith(", 1/2 files")


def test_plain_lines_off_a_terminal_at_each_tenth_not_per_report():
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, live=False, clock=clock)
    display.on_download_planned(files=1, bytes=1000)
    for _ in range(100):
        display.on_bytes_received(amount=10)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 11  # 0%, 10% ... 100%
    assert lines[-1].startswith("Downloading 100% ")


def test_plain_wait_lines_are_spaced_out_and_live_ones_rewrite():
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, live=False, plain_interval=30, clock=clock)
    display.on_committed(run_id="r", already=False)
    for elapsed in range(1, 61):
        clock.now += 1
        display.on_waiting(elapsed=float(elapsed))
    assert stream.getvalue().splitlines() == [
        "Filing: waiting for the filer, 0:00 elapsed",
        "Filing: waiting for the filer, 0:30 elapsed",
        "Filing: waiting for the filer, 1:00 elapsed",
    ]


def test_console_chooses_live_plain_or_none():
    assert Console(stderr=Tty()).progress().live is True
    assert Console(stderr=io.StringIO()).progress().live is False
    assert Console(json_output=True, stderr=io.StringIO()).progress() is None  # a log read by programs
    assert Console(json_output=True, stderr=Tty()).progress().live is True  # stderr, never stdout


# -- the filer's progress, read back -----------------------------------------------------------------


def _progress_json(*, verified, filed, invocations=1) -> bytes:
    return json.dumps({"schema": "artifact-backup.filer-progress", "version": 1, "manifest_etag": "e",
                       "verified": {p: "etag" for p in verified}, "sources": None, "filed": filed,
                       "invocations": invocations}).encode()


class ProgressClient:
    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls = 0

    def get_object(self, *, Bucket, Key):  # noqa: N803 - boto3's names
        self.calls += 1
        assert Key == "progress/RMI25320/" + "a" * 32 + ".json"
        if isinstance(self.answer, Exception):
            raise self.answer
        body = StreamingBody(io.BytesIO(self.answer), len(self.answer))
        return {"ContentLength": len(self.answer), "Body": body}


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetObject")


def test_reader_reads_the_filers_object():
    client = ProgressClient(_progress_json(verified=["p1"], filed=["p1"], invocations=2))
    units = RunUnits({"p1": 3, "p2": 1}, 0)
    found = FilerProgressReader(client, "staging", "RMI25320", "a" * 32, units=units).read()
    assert (found.pieces_verified, found.pieces) == (1, 2)
    assert (found.files_filed, found.files, found.invocations) == (3, 4, 2)


def test_reader_tolerates_missing_and_stops_after_a_refusal():
    missing = FilerProgressReader(ProgressClient(_error("NoSuchKey")), "staging", "RMI25320", "a" * 32)
    assert missing.read() is None
    assert missing.read() is None
    assert missing.client.calls == 2  # none yet: looked for again
    denied_client = ProgressClient(_error("AccessDenied"))
    denied = FilerProgressReader(denied_client, "staging", "RMI25320", "a" * 32)
    assert denied.read() is None
    assert denied.read() is None
    assert denied_client.calls == 1
    assert denied.denied


def test_reader_ignores_what_is_not_the_filers_progress():
    reader = FilerProgressReader(ProgressClient(b'{"schema": "other"}'), "staging", "RMI25320", "a" * 32)
    assert reader.read() is None
    assert summarize(b"not json", None, None) is None


def test_run_units_count_files_per_piece_and_reused():
    entries = [SimpleNamespace(piece="p1"), SimpleNamespace(piece="p1"), SimpleNamespace(piece=None)]
    units = run_units(entries)
    assert units.files_per_piece == {"p1": 2}
    assert units.reused == 1
    assert units.files == 3


def test_a_download_of_many_small_files_takes_the_longer_estimate():
    assert slower(Estimate(10.0, 5.0), Estimate(2.0, 50.0)) == Estimate(10.0, 50.0)
    assert slower(Estimate(10.0, 5.0), Estimate()) == Estimate(10.0, 5.0)
    assert slower(Estimate(), Estimate(2.0, 50.0)) == Estimate()
    clock = Clock()
    display = ProgressDisplay(Tty(), live=True, interval=0, clock=clock)
    display.on_download_planned(files=1001, bytes=30 * MiB)  # one 20 MiB file, a thousand of 10 KiB
    display.on_bytes_received(amount=1)
    for _ in range(10):  # ten seconds: the large file streams at 1 MiB/s, the small ones ten a second
        clock.now += 1
        display.on_bytes_received(amount=MiB + 100 * 1024)
        for _ in range(10):
            display.on_file_downloaded(path="logs/x.log", size=10 * 1024, skipped=False)
    # ~19 MiB left at ~1.1 MiB/s says 17 s; 900 files at ten a second take a minute and a half.
    left = display.text().split(", ")[-2]
    assert left.startswith("1:2") or left.startswith("1:3"), display.text()


@pytest.mark.parametrize(("columns", "bar"), [(80, False), (200, True)])
def test_the_live_line_fits_the_terminal_and_keeps_its_bar_width(monkeypatch, columns, bar):
    monkeypatch.setenv("COLUMNS", str(columns))
    stream = Tty()
    display = ProgressDisplay(stream, live=True, interval=0, clock=Clock())
    display.on_download_planned(files=3002, bytes=177 * MiB)
    for _ in range(30):
        display.on_bytes_received(amount=5 * MiB)
        display.on_file_downloaded(path="logs/x.log", size=1, skipped=False)
    frames = [f.rstrip() for f in stream.getvalue().split("\r") if f.strip()]
    assert all(len(f) < columns for f in frames)
    assert all(("[" in f) is bar for f in frames)
    assert len({f.index("%") for f in frames}) == 1
    if bar:
        assert len({f.index("]") for f in frames}) == 1  # the numbers grow, the bar stays put


class KeysClient:
    """Answers every GetObject with NoSuchKey and remembers the keys asked for."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def get_object(self, *, Bucket, Key):  # noqa: N803 - boto3's names
        self.keys.append(Key)
        raise _error("NoSuchKey")


@pytest.mark.parametrize("subscribed", [True, False])
def test_the_filers_progress_is_read_only_for_someone_to_see_it(tmp_path, subscribed):
    from client_support import CONFIG_TEXT, STAGING, write

    from artifact_backup import Uploader, load_config
    from artifact_backup.exceptions import ReceiptTimeoutError

    ticks = iter(range(1000))
    client = KeysClient()
    heard: list[object] = []
    subscriber = SimpleNamespace(on_waiting=lambda **kwargs: heard.append(kwargs["filer"]))
    uploader = Uploader(load_config(write(tmp_path / "config.yaml", CONFIG_TEXT), environ={}), client=client,
                        subscribers=[subscriber] if subscribed else [], sleep=lambda s: None,
                        clock=lambda: float(next(ticks)))
    with pytest.raises(ReceiptTimeoutError):
        uploader.wait_for_receipt(STAGING, "RMI25320", "a" * 32, timeout=5)
    progress_reads = [k for k in client.keys if k.startswith("progress/")]
    assert bool(progress_reads) is subscribed
    assert all(k.startswith(("receipts/", "progress/")) for k in client.keys)
    if subscribed:
        assert heard
        assert all(f is None for f in heard)
