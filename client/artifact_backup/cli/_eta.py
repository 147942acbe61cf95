"""Rate and time left of a transfer, from the bytes done so far and the clock.

A rate taken over the whole transfer from its very start is wrong early on: the first seconds go to
connections, listings and the first request's latency, so the first estimate of a four-minute
download once read an hour. Here the clock starts with the first bytes, not when the transfer was
planned; the rate is measured over windows of at least ``window`` seconds and smoothed (an
exponential moving average whose weight halves every ``half_life`` seconds); and no time left is
given before ``min_seconds`` of transfer and ``min_bytes`` (or ``min_fraction`` of the total) are
done. The clock is passed in, so the estimator is a pure function of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    """Bytes per second (smoothed) and seconds left; None while there is no trustworthy figure."""

    rate: float | None = None
    left: float | None = None


class RateEstimator:
    """Feed it ``(done, now)`` as often as you like; it answers with the current :class:`Estimate`."""

    def __init__(
        self,
        total: int,
        *,
        window: float = 1.0,
        half_life: float = 4.0,
        min_seconds: float = 3.0,
        min_bytes: int = 1024 * 1024,
        min_fraction: float = 0.02,
    ) -> None:
        self.total = max(0, total)
        self.window = window
        self.half_life = half_life
        self.min_seconds = min_seconds
        self.min_bytes = min_bytes
        self.min_fraction = min_fraction
        self._started: float | None = None
        self._mark: tuple[int, float] | None = None
        self._rate: float | None = None

    def update(self, done: int, now: float) -> Estimate:
        """The estimate once ``done`` bytes are done at time ``now`` (monotonic seconds)."""
        done = max(0, done)
        if self._started is None:
            # The clock starts with the first bytes: the time before them (connections, listings,
            # reading the first pack) is not the transfer's speed.
            if done > 0:
                self._started, self._mark = now, (done, now)
            return Estimate()
        assert self._mark is not None
        mark_done, mark_time = self._mark
        span = now - mark_time
        if span >= self.window:
            sample = max(0.0, (done - mark_done) / span)
            if self._rate is None:
                self._rate = sample
            else:
                weight = 1.0 - 0.5 ** (span / self.half_life)
                self._rate += weight * (sample - self._rate)
            self._mark = (done, now)
        return Estimate(self._rate, self._left(done, now))

    def _left(self, done: int, now: float) -> float | None:
        if self.total and done >= self.total:
            return 0.0
        assert self._started is not None
        enough = min(self.min_bytes, self.min_fraction * self.total) if self.total else self.min_bytes
        if self._rate is None or self._rate <= 0 or now - self._started < self.min_seconds or done < enough:
            return None
        return (self.total - done) / self._rate


def slower(by_bytes: Estimate, by_files: Estimate) -> Estimate:
    """The bytes' estimate, with the longer of the two times left: a run's last thousand small files
    take longer than their bytes suggest (a request each), its large files the other way round."""
    if by_bytes.left is None or by_files.left is None:
        return by_bytes
    return Estimate(by_bytes.rate, max(by_bytes.left, by_files.left))
