"""The progress display of ``upload`` and ``download``: what the library's subscribers report, drawn.

The library only reports (:class:`~artifact_backup.transfer.BaseSubscriber`, the archive reader's
subscribers); this module only displays. Each transfer is measured against a total known before it
starts: an upload against the bytes collected (the plan), a download against the run record's sizes.
The wait for the filer shows what the filer has verified and filed, as its progress in staging tells.

On a terminal the display is one line rewritten in place; elsewhere (a log of a scheduled run) it is
a plain line at each tenth of the way and at most every ``plain_interval`` seconds in between.
Output is plain ASCII, so any console encoding can show it.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from ._console import human_bytes
from ._console import human_duration as clock_text
from ._eta import Estimate, RateEstimator, slower

BAR_WIDTH = 20


def percent(done: int, total: int) -> int:
    """Whole percent done, 100 only when everything is done."""
    if total <= 0:
        return 100
    done = min(max(done, 0), total)
    return 100 if done == total else min(99, done * 100 // total)


def transfer_text(verb: str, done: int, total: int, estimate: Estimate, files: tuple[int, int],
                  bar_width: int = BAR_WIDTH) -> str:
    """``Uploading    42% [########------------] 75.9 MiB of 177.2 MiB, 13.9 MiB/s, 0:06 left, 120/3002
    files``; without the bar when ``bar_width`` is 0."""
    pct = percent(done, total)
    rate = f"{human_bytes(estimate.rate)}/s" if estimate.rate is not None else "-- B/s"
    left = f"{clock_text(estimate.left)} left" if estimate.left is not None else "-:-- left"
    shown = min(max(done, 0), total) if total > 0 else max(done, 0)
    bar = ""
    if bar_width > 0:
        filled = pct * bar_width // 100
        bar = f" [{'#' * filled}{'-' * (bar_width - filled)}]"
    return (f"{verb:<11} {pct:3d}%{bar} {human_bytes(shown)} of {human_bytes(total)}, {rate}, {left}, "
            f"{files[0]}/{files[1]} files")


def filing_text(elapsed: float, filer: Any | None) -> str:
    """The wait: what the filer has done, when its progress can be read; else the time alone."""
    text = f"Filing: waiting for the filer, {clock_text(elapsed)} elapsed"
    if filer is None:
        return text
    pieces = f"/{filer.pieces}" if filer.pieces is not None else ""
    parts = [f"{filer.pieces_verified}{pieces} pieces verified"]
    if filer.files_filed is not None:
        parts.append(f"{filer.files_filed}/{filer.files} files filed")
    return f"{text}; {', '.join(parts)}"


class ProgressDisplay:
    """An upload's and a download's subscriber that draws their progress on ``stream``.

    :param live: rewrite one line in place (a terminal), else print plain lines.
    :param clock: monotonic seconds; injectable for tests.
    """

    def __init__(self, stream: TextIO, *, live: bool, interval: float = 0.1, plain_interval: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.live = live
        self.interval = interval if live else plain_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._phase = ""
        self._done = self._total = 0
        self._files_done = self._files = 0
        self._estimator = RateEstimator(0)
        self._file_estimator = RateEstimator(0, min_bytes=10)
        self._estimate = Estimate()
        self._last = float("-inf")
        self._last_tenth = -1
        self._bar: int | None = None
        self._width = 0

    # -- upload -----------------------------------------------------------------------------------

    def on_planned(self, *, plan: Any, **kwargs: Any) -> None:
        with self._lock:
            self._start("upload", plan.total_bytes, plan.total_files)

    def on_file_hashed(self, **kwargs: Any) -> None:
        with self._lock:
            self._files_done += 1
            self._draw()

    def on_bytes_sent(self, *, amount: int, content: int | None = None, **kwargs: Any) -> None:
        self._advance(amount if content is None else content)

    def on_file_reused(self, *, size: int, **kwargs: Any) -> None:
        self._advance(size)

    def on_piece_done(self, *, piece: Any, skipped: bool, content: int | None = None, **kwargs: Any) -> None:
        if skipped:  # sent by an earlier attempt: done now
            self._advance(piece.size if content is None else content)

    def on_committed(self, **kwargs: Any) -> None:
        with self._lock:
            self._start("filing", 0, 0)
            self._show(filing_text(0, None), force=True)

    def on_waiting(self, *, elapsed: float, filer: Any = None, **kwargs: Any) -> None:
        with self._lock:
            if self._phase != "filing":
                self._start("filing", 0, 0)
            self._show(filing_text(elapsed, filer), force=self.live)

    # -- download ---------------------------------------------------------------------------------

    def on_download_planned(self, *, files: int, bytes: int, **kwargs: Any) -> None:
        with self._lock:
            self._start("download", bytes, files)

    def on_bytes_received(self, *, amount: int, **kwargs: Any) -> None:
        self._advance(amount)

    def on_file_downloaded(self, *, size: int, skipped: bool, **kwargs: Any) -> None:
        with self._lock:
            if skipped:  # already on disk: out of the totals, so rate and time left measure what travels
                self._total -= size
                self._files -= 1
                self._estimator.total = max(0, self._total)
                self._file_estimator.total = max(0, self._files)
            else:
                self._files_done += 1
            self._estimate = self._estimated()
            self._draw()

    # -- drawing ----------------------------------------------------------------------------------

    def _start(self, phase: str, total: int, files: int) -> None:
        self._phase, self._total, self._files = phase, total, files
        self._done = self._files_done = 0
        self._estimator = RateEstimator(total)
        self._file_estimator = RateEstimator(files, min_bytes=10)
        self._estimate = Estimate()
        self._last_tenth = -1
        self._last = float("-inf")
        self._bar = None
        if phase != "filing":
            self._draw(force=True)

    def _advance(self, amount: int) -> None:
        with self._lock:
            self._done += amount
            self._estimate = self._estimated()
            self._draw()

    def _estimated(self) -> Estimate:
        """A download's time left heeds its files too: each small file costs a request."""
        now = self._clock()
        by_bytes = self._estimator.update(self._done, now)
        if self._phase != "download":
            return by_bytes  # an upload reads its files ahead of sending them
        return slower(by_bytes, self._file_estimator.update(self._files_done, now))

    def text(self, bar_width: int = BAR_WIDTH) -> str:
        """The current transfer's line."""
        verb = "Uploading" if self._phase == "upload" else "Downloading"
        return transfer_text(verb, self._done, self._total, self._estimate, (self._files_done, self._files),
                             bar_width)

    def _fitted(self) -> str:
        """The line with as much bar as the terminal's width leaves room for beside the widest line
        this transfer can show (the bar keeps its width as the numbers grow): a line that wraps
        could not be rewritten in place."""
        if not self.live:
            return self.text()
        if self._bar is None:
            verb = "Uploading" if self._phase == "upload" else "Downloading"
            widest = transfer_text(verb, self._total, self._total, Estimate(1023.9 * 1024**3, 99 * 3600.0),
                                   (self._files, self._files), 0)
            room = self._columns() - 1 - len(widest) - 3
            self._bar = min(BAR_WIDTH, room) if room >= 5 else 0
        return self.text(self._bar)

    def _draw(self, *, force: bool = False) -> None:
        if self._phase not in ("upload", "download"):
            return
        tenth = percent(self._done, self._total) // 10
        if not self.live and tenth != self._last_tenth:
            force = True  # a plain line at each tenth of the way
        self._last_tenth = tenth
        self._show(self._fitted(), force=force)

    def _show(self, text: str, *, force: bool) -> None:
        now = self._clock()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if not self.live:
            self.stream.write(text + "\n")
        else:
            text = text[:self._columns() - 1]  # a wrapped line could not be rewritten in place
            self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
            self._width = len(text)
        self.stream.flush()

    def _columns(self) -> int:
        """The width of the terminal the display writes to (stdout may be redirected)."""
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            columns = 0
        # A terminal that does not say its size (0) gets the environment's COLUMNS, else 100.
        return columns if columns > 0 else shutil.get_terminal_size((100, 24)).columns

    def close(self) -> None:
        """Clear the live line, so the result is printed on a clean one."""
        with self._lock:
            if self.live and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0
