"""A filing longer than one invocation: what it has verified and filed so far, and when to stop.

A Lambda invocation ends at its timeout whatever it is doing; a run of a few hundred thousand files
takes longer than that to verify and file. So the filer watches the time it has left
(``context.get_remaining_time_in_millis()``) between *units* of work (a piece verified; a pack, a
blob or a reused file filed), and once less than ``FilerConfig.stop_margin_ms`` is left it lets the
units in flight finish, writes what is done to the run's progress object in staging
(``progress/{project}/{run_id}.json``, outside ``incoming/``: only the filer writes there, so it can
trust it) and continues in a fresh invocation (:mod:`.continuation`).

The next invocation reads the object back and skips what it lists. Nothing in it is needed for
correctness: a filer that finds none (or one for another upload of the manifest) starts over, and
every step is idempotent. It only saves the work. Each invocation finishes at least one unit before
it looks at the clock, so every continuation makes progress however short its time.

The run stays invisible until its record is written, by the invocation that files the last unit:
a run is in the archive complete or not at all, however many invocations filed it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from artifact_contract import progress_key

from .context import FilingContext
from .plumbing import get_small
from .storage import JSON_TYPE

PROGRESS_SCHEMA = "artifact-backup.filer-progress"
PROGRESS_VERSION = 1

#: Milliseconds the invocation has left (the Lambda context's ``get_remaining_time_in_millis``).
RemainingTime = Callable[[], int]


def reuse_unit(member_name: str) -> str:
    """The unit of a reused file (it travels in no piece): its type folder and path."""
    return "reuse:" + member_name


@dataclass
class ProgressState:
    """What is done of one upload of a run's manifest (its ETag): kept between invocations."""

    manifest_etag: str
    #: Piece id -> the ETag it was verified at; filing reads exactly that object again.
    verified: dict[str, str] = field(default_factory=dict)
    #: Reused file's SHA-256 -> the archive key and ETag its copy was checked at (None: not checked).
    sources: dict[str, tuple[str, str]] | None = None
    #: Units whose every file is in the archive: piece ids, and :func:`reuse_unit` names.
    filed: set[str] = field(default_factory=set)
    #: Invocations that worked on the filing before this one.
    invocations: int = 0

    def to_json(self) -> bytes:
        return json.dumps({
            "schema": PROGRESS_SCHEMA,
            "version": PROGRESS_VERSION,
            "manifest_etag": self.manifest_etag,
            "verified": self.verified,
            "sources": None if self.sources is None else {k: list(v) for k, v in self.sources.items()},
            "filed": sorted(self.filed),
            "invocations": self.invocations,
        }, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ProgressState:
        """The state written by :meth:`to_json`; ``ValueError`` for anything else."""
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("schema") != PROGRESS_SCHEMA:
            raise ValueError("not a filer progress object")
        if data.get("version") != PROGRESS_VERSION:
            raise ValueError(f"filer progress version {data.get('version')!r} is not {PROGRESS_VERSION}")
        sources = data["sources"]
        return cls(
            manifest_etag=str(data["manifest_etag"]),
            verified={str(k): str(v) for k, v in dict(data["verified"]).items()},
            sources=None if sources is None else {str(k): (str(v[0]), str(v[1])) for k, v in sources.items()},
            filed={str(u) for u in data["filed"]},
            invocations=int(data["invocations"]),
        )


class Progress:
    """The filing's progress and this invocation's clock, shared by the worker threads.

    ``remaining`` is None outside Lambda (the CLI's in-process filer, unit tests): such a filing
    never stops and never writes a progress object.
    """

    def __init__(
        self,
        ctx: FilingContext,
        state: ProgressState,
        remaining: RemainingTime | None,
    ) -> None:
        self._ctx = ctx
        self.state = state
        self._remaining = remaining
        self._margin_ms = ctx.config.stop_margin_ms
        self._checkpoint_s = ctx.config.checkpoint_seconds
        self._lock = threading.Lock()
        self._saving = threading.Lock()
        self._saved_at = time.monotonic()
        self._checkpointer: threading.Thread | None = None
        self._closed = False
        #: Units finished by this invocation.
        self.done = 0

    @property
    def key(self) -> str:
        return progress_key(self._ctx.location.project_key, self._ctx.location.run_id)

    # -- the clock ----------------------------------------------------------------------------

    def out_of_time(self) -> bool:
        """Whether to start no more units: the invocation is near its end, and has done one."""
        if self._remaining is None or self.done == 0:
            return False
        return self._remaining() < self._margin_ms

    # -- what is done -------------------------------------------------------------------------

    def verified(self, piece_id: str) -> str | None:
        return self.state.verified.get(piece_id)

    def mark_verified(self, piece_id: str, etag: str) -> None:
        with self._lock:
            self.state.verified[piece_id] = etag
            self.done += 1
        self._checkpoint()

    def is_filed(self, unit: str) -> bool:
        return unit in self.state.filed

    def mark_filed(self, unit: str) -> None:
        with self._lock:
            self.state.filed.add(unit)
            self.done += 1
        self._checkpoint()

    # -- keeping it -----------------------------------------------------------------------------

    def save(self) -> None:
        """Write what is done to staging, for the invocation that continues the filing."""
        with self._saving:
            with self._lock:
                body = self.state.to_json()
            self._ctx.client.put_object(Bucket=self._ctx.staging_bucket, Key=self.key, Body=body,
                                        ContentType=JSON_TYPE)
            self._saved_at = time.monotonic()

    def save_quietly(self) -> None:
        """Save after a failure, when there is something to save: the message is delivered again
        and its next attempt should not redo the work. Never hides the failure."""
        if self._remaining is None or self.done == 0:
            return
        try:
            self.save()
        except Exception as exc:  # the failure being handled matters more
            self._ctx.log.warning("could not save the filing's progress",
                                  extra={**self._ctx.identity(), "error": str(exc)})

    def _checkpoint(self) -> None:
        """Save now and then while filing: an invocation killed at its timeout (a unit that outran
        the margin) loses no more than this interval's work.

        Saved from a thread of its own: the unit may have been settled on the native S3 client's
        event loop, which must not wait for a request.
        """
        if self._remaining is None or time.monotonic() - self._saved_at < self._checkpoint_s:
            return
        with self._lock:
            if self._closed or (self._checkpointer is not None and self._checkpointer.is_alive()):
                return
            self._saved_at = time.monotonic()  # one checkpoint per interval, even if it fails
            self._checkpointer = threading.Thread(target=self._save_logged, name="progress", daemon=True)
            self._checkpointer.start()

    def _save_logged(self) -> None:
        try:
            self.save()
        except Exception as exc:  # the next checkpoint or the pause tries again
            self._ctx.log.warning("could not save the filing's progress",
                                  extra={**self._ctx.identity(), "error": str(exc)})

    def close(self) -> None:
        """No more checkpoints, and none still being written: once every unit is filed, the record
        and the clean-up follow, and a late checkpoint must not bring the notes back after them."""
        with self._lock:
            self._closed = True
            checkpointer = self._checkpointer
        if checkpointer is not None:
            checkpointer.join()


def resume(ctx: FilingContext, manifest_etag: str, remaining: RemainingTime | None) -> Progress:
    """This filing's progress: an earlier invocation's, when it was filing this same manifest."""
    fresh = ProgressState(manifest_etag=manifest_etag)
    raw = get_small(ctx, ctx.staging_bucket, progress_key(ctx.location.project_key, ctx.location.run_id))
    if raw is None:
        return Progress(ctx, fresh, remaining)
    try:
        state = ProgressState.from_json(raw)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        ctx.log.warning("unreadable filer progress is ignored", extra={**ctx.identity(), "error": str(exc)})
        return Progress(ctx, fresh, remaining)
    if state.manifest_etag != manifest_etag:
        ctx.log.info("filer progress of another upload of the manifest is ignored", extra=ctx.identity())
        return Progress(ctx, fresh, remaining)
    state.invocations += 1
    ctx.log.info("continuing a filing", extra={**ctx.identity(), "invocation": state.invocations + 1,
                                               "verified": len(state.verified), "filed": len(state.filed)})
    return Progress(ctx, state, remaining)


def describe(progress: Progress) -> dict[str, Any]:
    """The progress, for a log line."""
    return {"invocation": progress.state.invocations + 1, "units_this_invocation": progress.done,
            "verified": len(progress.state.verified), "filed": len(progress.state.filed)}
