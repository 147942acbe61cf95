"""What collecting says when a selection cannot be uploaded as asked: nothing to upload (and where
it looked), no types configured, or a file an upload without a timestamp may not write.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from artifact_contract import ContractError, check_untimestamped_path

from .config import looks_like_windows_drive
from .exceptions import FileNameInvalidError
from .paths import strip_extended

if TYPE_CHECKING:
    from .collect import Selection
    from .config import Settings

#: The reason of a file the type's extension filter leaves out; every other reason (a broken link,
#: a FIFO, a link to a folder, a lock file) is worth naming on its own.
EXTENSION_FILTERED = "extension not kept for this type"


def display(path: Path | str) -> str:
    """A path for messages, whatever bytes its name holds."""
    text = strip_extended(os.fspath(path))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return repr(os.fsencode(text))[2:-1]
    return text


NO_TYPES_HINT = ("name the types to upload with --include (e.g. --include config logs report), or list "
                 "them under orchestrator.artifact_types")


def no_types_message(settings: Settings | None) -> str:
    where = f" in {display(settings.config_path)}" if settings and settings.config_path else ""
    return f"nothing to upload: orchestrator.artifact_types{where} is an empty list"


def check_untimestamped(selection: Selection, project_key: str) -> None:
    """Refuse, before anything is sent, an upload without a timestamp holding a file whose key
    would lie in a timestamped run's folder (its first folder looks like ``YYYYMMDD_HHMM``) or
    under ``_runs/``: untimestamped keys are written over, and a timestamped run's never may be."""
    for f in selection.files:
        try:
            check_untimestamped_path(project_key, f.type, f.path)
        except ContractError as exc:
            raise FileNameInvalidError(
                f"{display(f.source)} cannot be uploaded without a timestamp: {exc}",
                hint="add --timestamp (or --custom-timestamp YYYYMMDD_HHMM) to file the upload as a "
                     "timestamped run, or rename the folder so it does not look like a timestamp",
            ) from None


def empty_message(selection: Selection) -> str:
    return f"nothing to upload: no {', '.join(selection.types)} files in {display(selection.folder)}"


def drive_note(artifact_type: str, folder: Path) -> str:
    if not looks_like_windows_drive(folder):
        return ""
    return (f" (a Windows drive path, which this system cannot open: set "
            f"orchestrator.artifact_paths.{artifact_type} to the folder's path on this machine)")


def empty_hint(selection: Selection) -> str:
    lines = [f"looked in {display(p)}{drive_note(t, p)}" for t, p in selection.type_folders.items()]
    filtered = sum(1 for d in selection.dropped if d.reason == EXTENSION_FILTERED)
    if filtered:
        lines.append(f"{filtered} file(s) were left out by the extension filter (--verbose lists them)")
    other = [d for d in selection.dropped if d.reason != EXTENSION_FILTERED]
    lines += [f"left out: {d.type}/{d.path} ({d.reason})" for d in other[:10]]
    if len(other) > 10:
        lines.append(f"and {len(other) - 10} more left out (--verbose lists them)")
    return "\n".join(lines)
