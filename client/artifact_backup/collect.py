"""Finding a run's files: which types, which folders, which files each type keeps.

Rules (docs/protocol.md, step 1):

* Each type's folder is ``{folder}/{orchestrator.artifact_paths[type]}`` (default ``{folder}/{type}``),
  walked recursively; with ``folder_type`` the folder itself is that type's folder.
* A file is kept when its type allows it (``ArtifactType.allows``: case-insensitive extension, or
  anything inside a ``.gdb`` folder). Other files are *dropped* and reported, not an error.
* ``config`` also carries the ``--config`` file itself, always as ``config.yaml`` (the user guide's
  ``config/{timestamp}/config.yaml``), whatever its own name. When the config folder holds a
  different ``config.yaml``, the ``--config`` file wins; the other is left out and reported.
* Symbolic links: a link to a file is followed (its content is uploaded under the link's name, as
  the user sees it in the folder); a link to a folder is not descended into (it could loop or pull
  in a whole disk) and is reported as dropped, as are broken links and special files. An NTFS
  junction is a link to a folder too, though ``is_symlink()`` does not say so.
* A kept file whose name cannot become an S3 key (not valid UTF-8, control characters) or that
  cannot be read is an error: silently leaving out a file the user expects in the archive is worse
  than stopping. Each kept file is opened once during the walk (nothing read): a file another
  program holds exclusively on Windows passes ``os.access`` and would fail only mid-upload.
* ArcGIS's ``*.lock`` files inside a ``.gdb`` are dropped, and the geodatabase is named in a warning
  (:mod:`.source_checks`).
* Long paths are walked in Windows's long-path form (:func:`.paths.io_path`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artifact_contract import (
    ARTIFACT_TYPES,
    ContractError,
    get_artifact_type,
    validate_relative_path,
)

from .collect_errors import (
    EXTENSION_FILTERED,
    NO_TYPES_HINT,
    display,
    drive_note,
    empty_hint,
    empty_message,
    no_types_message,
)
from .config import Settings, looks_like_windows_drive, native_path
from .exceptions import (
    ArgumentInvalidError,
    FileNameInvalidError,
    FileUnreadableError,
    FolderNotFoundError,
    SelectionEmptyError,
)
from .local_files import LocalFiles
from .paths import io_path, is_junction
from .source_checks import geodatabase_lock, geodatabase_warnings, unreadable_reason

CONFIG_TYPE = "config"
#: The name the ``--config`` file is filed under, as the user guide lays a run out.
CONFIG_NAME = "config.yaml"


@dataclass(frozen=True, slots=True)
class LocalFile:
    """One file to back up: where it is filed (type, relative path) and where it is on disk.

    A run can list tens of thousands of files and every one is held until the manifest is sent,
    so the file's location is kept as plain text (a path object costs 500 bytes more per file)
    and :attr:`source` makes the path when asked.
    """

    type: str
    path: str
    location: str
    size: int
    mtime_ns: int

    @property
    def source(self) -> Path:
        return Path(self.location)

    @property
    def member_name(self) -> str:
        return f"{self.type}/{self.path}"


@dataclass(frozen=True, slots=True)
class DroppedFile:
    """A file found in a type's folder that is not uploaded, and why."""

    type: str
    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class Selection:
    """Everything :func:`collect` decided, for the uploader and for ``--dry-run``."""

    folder: Path
    types: tuple[str, ...]
    #: On disk (:class:`.local_files.LocalFiles`), in (type, path) order; a tuple or list is
    #: spooled too. :meth:`close` frees it.
    files: Any
    dropped: tuple[DroppedFile, ...] = ()
    warnings: tuple[str, ...] = ()
    type_folders: dict[str, Path] = field(default_factory=dict)
    folder_type: str | None = None
    config_source: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.files, LocalFiles):
            object.__setattr__(self, "files", LocalFiles.of(self.files))

    @property
    def total_bytes(self) -> int:
        return self.files.total_bytes

    def files_per_type(self) -> dict[str, int]:
        return {t: self.files.count_of(t) for t in self.types}

    def bytes_per_type(self) -> dict[str, int]:
        return {t: self.files.bytes_of(t) for t in self.types}

    def close(self) -> None:
        """Free the spooled file list."""
        self.files.close()


def resolve_types(include: Iterable[str] | None, settings: Settings | None) -> tuple[str, ...]:
    """``--include`` when given, else the config's ``orchestrator.artifact_types``."""
    if include is None:
        return tuple(settings.artifact_types) if settings else tuple(ARTIFACT_TYPES)
    types: list[str] = []
    for name in include:
        try:
            get_artifact_type(name)
        except ContractError as exc:
            raise ArgumentInvalidError(f"--include: {exc}") from None
        if name not in types:
            types.append(name)
    return tuple(types)


def _check_name(artifact_type: str, rel: str, source: str | Path) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise FileNameInvalidError(
            f"file name is not valid UTF-8: {display(source)}",
            hint="rename the file (S3 keys are UTF-8 text), or move it out of the folder",
        ) from None
    try:
        validate_relative_path(rel)
    except ContractError as exc:
        raise FileNameInvalidError(
            f"file {display(source)} cannot be stored in S3: {exc}",
            hint="rename the file, or move it out of the folder",
        ) from None


def _walk(
    artifact_type: str, top: Path, files: LocalFiles, dropped: list[DroppedFile], unreadable: list[str],
    warnings: list[str],
) -> None:
    kind = get_artifact_type(artifact_type)
    locks: dict[str, set[str]] = {}
    stack: list[tuple[Path | str, str]] = [(top, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(io_path(directory)))
        except OSError as exc:
            unreadable.append(f"{display(directory)} ({exc.strerror or exc})")
            continue
        for entry in entries:
            rel = prefix + entry.name
            try:
                if entry.is_symlink():
                    try:
                        target = os.stat(entry.path)
                    except OSError:
                        dropped.append(DroppedFile(artifact_type, rel, "broken link"))
                        continue
                    if stat.S_ISDIR(target.st_mode):
                        dropped.append(DroppedFile(artifact_type, rel + "/", "link to a folder"))
                        continue
                elif is_junction(entry):
                    dropped.append(DroppedFile(artifact_type, rel + "/", "junction (a link to a folder)"))
                    continue
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                    continue
                st = entry.stat(follow_symlinks=True)
            except OSError as exc:
                unreadable.append(f"{display(entry.path)} ({exc.strerror or exc})")
                continue
            if not stat.S_ISREG(st.st_mode):
                dropped.append(DroppedFile(artifact_type, rel, special_file_reason(st.st_mode)))
                continue
            if not kind.allows(rel):
                dropped.append(DroppedFile(artifact_type, rel, EXTENSION_FILTERED))
                continue
            if lock := geodatabase_lock(rel):
                locks.setdefault(lock[0], set()).add(lock[1])
                dropped.append(DroppedFile(artifact_type, rel,
                                           "ArcGIS lock file: the geodatabase was in use"))
                continue
            # entry.path is absolute: the walk starts from an absolute folder.
            _check_name(artifact_type, rel, entry.path)
            location = io_path(entry.path)
            if why := unreadable_reason(location):
                unreadable.append(f"{display(entry.path)} ({why})")
                continue
            files.put(LocalFile(artifact_type, rel, location, st.st_size, st.st_mtime_ns))
    warnings.extend(geodatabase_warnings(artifact_type, locks))


def _folder(folder: str | os.PathLike[str]) -> Path:
    path = native_path(folder)
    if os.path.isdir(io_path(path)):
        return path.absolute()
    if path.exists():
        raise FolderNotFoundError(
            f"not a folder: {display(folder)}", hint="pass the project folder to --folder"
        )
    hint = "check the --folder path"
    if looks_like_windows_drive(folder):
        hint += " (it is a Windows drive path; on this system pass the folder's local path)"
    raise FolderNotFoundError(f"folder not found: {display(folder)}", hint=hint)


def collect(
    folder: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    include: Sequence[str] | None = None,
    folder_type: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
    allow_empty: bool = False,
) -> Selection:
    """Find the files of a run; raises :class:`SelectionEmptyError` when there is nothing to send."""
    if folder_type is not None and include is not None:
        raise ArgumentInvalidError(
            "--folder-type and --include cannot be used together",
            hint="--folder-type uploads one type's folder; --include picks types in a project folder",
        )
    root = _folder(folder)
    types, type_folders = _type_folders(root, settings, include, folder_type)
    # Spooled to disk as they are found: a run may hold 200,000 files.
    files = LocalFiles()
    dropped: list[DroppedFile] = []
    warnings: list[str] = []
    config_source = None
    try:
        _walk_types(types, type_folders, files, dropped, warnings, has_config=config_path is not None)
        if CONFIG_TYPE in types and config_path is not None:
            config_source = native_path(config_path).absolute()
            _add_config(config_source, files, dropped, warnings)
    except BaseException:
        files.close()
        raise
    dropped.sort(key=lambda d: (d.type, d.path))
    selection = Selection(
        folder=root,
        types=types,
        files=files,
        dropped=tuple(dropped),
        warnings=tuple(warnings),
        type_folders=type_folders,
        folder_type=folder_type,
        config_source=config_source,
    )
    if not files and not allow_empty:
        files.close()
        raise SelectionEmptyError(empty_message(selection), hint=empty_hint(selection))
    return selection


def _type_folders(
    root: Path, settings: Settings | None, include: Sequence[str] | None, folder_type: str | None
) -> tuple[tuple[str, ...], dict[str, Path]]:
    """The types to upload and each one's folder: ``root`` itself with ``--folder-type``, else the
    configured (or default) sub-folder of ``root``, or an absolute path as configured."""
    if folder_type is not None:
        try:
            get_artifact_type(folder_type)
        except ContractError as exc:
            raise ArgumentInvalidError(f"--folder-type: {exc}") from None
        return (folder_type,), {folder_type: root}
    types = resolve_types(include, settings)
    if not types:
        raise SelectionEmptyError(no_types_message(settings), hint=NO_TYPES_HINT)
    type_folders = {}
    for t in types:
        configured = native_path(settings.type_folder(t)) if settings else Path(t)
        # A Windows drive path is absolute where it was written: never read it as a sub-folder.
        absolute = configured.is_absolute() or looks_like_windows_drive(configured)
        type_folders[t] = configured if absolute else root / configured
    return types, type_folders


def _walk_types(
    types: Sequence[str], type_folders: dict[str, Path], files: LocalFiles, dropped: list[DroppedFile],
    warnings: list[str], *, has_config: bool,
) -> None:
    """Walk every type's folder; a missing one is a warning (the config type's too, unless the
    ``--config`` file stands in for it), files that cannot be read are one error naming them."""
    unreadable: list[str] = []
    for t in types:
        top = type_folders[t]
        if os.path.isdir(io_path(top)):
            _walk(t, top.absolute(), files, dropped, unreadable, warnings)
        elif not (t == CONFIG_TYPE and has_config):
            warnings.append(f"no {t} folder at {display(top)}{drive_note(t, top)}")
    if unreadable:
        more = f"; and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
        shown = "; ".join(unreadable[:5]) + more
        raise FileUnreadableError(
            f"cannot read {len(unreadable)} file(s): {shown}",
            hint="fix the permissions, or close the program holding the files, then re-run",
        )


def _add_config(config_source: Path, files: LocalFiles, dropped: list[DroppedFile],
                warnings: list[str]) -> None:
    """File the ``--config`` file at the user guide's key, ``config/{timestamp}/config.yaml``, whatever
    its own name: whoever reads a run's config reads it there. A different file the config folder
    holds under that name is left out and reported; the same file walked under a name that differs
    only in case (``Config.yaml`` on Windows) is filed once."""
    if not config_source.is_file():
        warnings.append(f"the config file {display(config_source)} does not exist")
        return
    if why := unreadable_reason(io_path(config_source)):
        raise FileUnreadableError(f"cannot read the config file {display(config_source)} ({why})",
                                  hint="close the program holding it or fix its permissions, then re-run")
    for walked in _top_level_config_names(files):
        if not _same_file(walked.location, config_source):
            if walked.path != CONFIG_NAME:
                continue  # another file, under a name of its own
            reason = f"the --config file {display(config_source)} is filed as config/{CONFIG_NAME} instead"
            dropped.append(DroppedFile(CONFIG_TYPE, walked.path, reason))
            warnings.append(f"{display(walked.source)} is not uploaded: {reason}")
        files.remove(CONFIG_TYPE, walked.path)
    st = config_source.stat()
    files.put(LocalFile(CONFIG_TYPE, CONFIG_NAME, str(config_source), st.st_size, st.st_mtime_ns))


def _top_level_config_names(files: LocalFiles) -> list[LocalFile]:
    """The walked files at the top of the config folder named config.yaml in any case."""
    folded = CONFIG_NAME.casefold()
    return [f for f in files.between((CONFIG_TYPE, ""), (CONFIG_TYPE, "\U0010ffff"), below=2**63 - 1)
            if "/" not in f.path and f.path.casefold() == folded]


def _same_file(location: str, config_source: Path) -> bool:
    try:
        return os.path.samefile(location, config_source)
    except OSError:
        return False


def special_file_reason(mode: int) -> str:
    """Why an entry that is neither a file nor a folder is left out, in the user's words."""
    for test, what in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return f"not a regular file: {what}"
    return "not a regular file"
