"""The run record written as it is serialised: one file at a time, in the bytes of
``RunRecord.to_json``, so the memory a record needs does not grow with the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from json.encoder import encode_basestring
from typing import IO, Any

from .filing import RecordedFile, RunRecord
from .layout import archive_prefix
from .manifest import FileEntry, Manifest
from .records import RECORD_JSON_OPTIONS

#: The S3 version a filer wrote of a file at its archive key (None: none to name).
VersionLookup = Callable[[FileEntry, str], "str | None"]
#: The ETag S3 answered to the filer's write of a file at its archive key (None: not seen).
EtagLookup = Callable[[FileEntry, str], "str | None"]


_FILES = "files"


def run_record_head(manifest: Manifest) -> dict[str, Any]:
    """The run record's fields but its list of files, as ``RunRecord.to_dict`` gives them.

    The record of the manifest without its files has the same run and uploader; the prefixes, count
    and total that depend on every file come from the manifest's own counts, kept as it was read.
    """
    head = RunRecord.for_manifest(replace(manifest, files=())).to_dict()
    head["prefixes"] = [archive_prefix(manifest.project_key, t, manifest.timestamp) for t in manifest.types]
    head["file_count"] = manifest.file_count
    head["bytes"] = manifest.total_bytes
    del head[_FILES]
    return head


def write_run_record(manifest: Manifest, out: IO[bytes], versions: VersionLookup | None = None,
                     etags: EtagLookup | None = None) -> None:
    """Write the run record of ``manifest`` to ``out``: the bytes of ``RunRecord.to_json``.

    ``dumps_record(RunRecord.for_manifest(manifest).to_dict())`` holds every file of the run four
    times at once (the manifest's entries, the record's, their dicts, and the encoder's pieces of
    text, then the text and its bytes): a few kilobytes per file, the largest thing a filer holds.
    Here the files are written one at a time, in the same order and the same bytes, so the memory
    a record needs does not grow with the run. ``versions`` gives each key's S3 version id, for
    the records of untimestamped runs; ``etags`` the ETag of each write the filer saw answered.
    """
    head = run_record_head(manifest)
    out.write(b"{")
    for i, name in enumerate(sorted([*head, _FILES])):
        out.write(b"%s\n %s: " % (b"," if i else b"", encode_basestring(name).encode()))
        if name != _FILES:
            out.write(_nested(head[name], 1).encode())
            continue
        out.write(b"[")
        for j, (entry, key) in enumerate(_in_key_order(manifest)):
            version = versions(entry, key) if versions is not None else None
            etag = etags(entry, key) if etags is not None else None
            recorded = RecordedFile(entry.type, entry.path, key, entry.size, entry.sha256, version,
                                    entry.crc64nvme, etag).to_dict()
            out.write(b"%s\n  %s" % (b"," if j else b"", _item(recorded).encode()))
        out.write(b"\n ]")
    out.write(b"\n}")


def _nested(value: Any, level: int) -> str:
    """``value`` as ``json.dumps(..., indent=1)`` writes it ``level`` levels deep."""
    return json.dumps(value, **RECORD_JSON_OPTIONS).replace("\n", "\n" + " " * level)


def _item(data: dict[str, Any]) -> str:
    """A file's entry two levels deep; flat text and numbers are written directly (the common case,
    and a fiftieth of the encoder's time), anything else through the encoder."""
    parts = []
    for name in sorted(data):
        value = data[name]
        if type(value) is str:
            text = encode_basestring(value)
        elif type(value) is int:
            text = int.__repr__(value)
        else:
            return _nested(data, 2)
        parts.append(f"\n   {encode_basestring(name)}: {text}")
    return "{" + ",".join(parts) + "\n  }" if parts else "{}"


def _key(manifest: Manifest, entry: FileEntry) -> str:
    # The path was validated when the manifest was read, and the key's length with it.
    return archive_prefix(manifest.project_key, entry.type, manifest.timestamp) + entry.path


def _in_key_order(manifest: Manifest) -> Iterator[tuple[FileEntry, str]]:
    """The files with their archive keys, sorted by key as ``RunRecord.for_manifest`` sorts them.

    A spooled manifest reads them in key order from its index. A client lists its files in key order
    already; only an in-memory manifest that does not is sorted here.
    """
    if manifest.spooled:
        yield from manifest.files_in_key_order()
        return
    files: Any = manifest.files
    previous = None
    for entry in files:
        key = _key(manifest, entry)
        if previous is not None and key < previous:
            files = sorted(files, key=lambda f: _key(manifest, f))
            break
        previous = key
    for entry in files:
        yield entry, _key(manifest, entry)
