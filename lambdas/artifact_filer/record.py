"""The run record, written as it is serialised rather than built whole first.

``dumps_record(RunRecord.for_manifest(manifest).to_dict())`` holds every file of the run four times
at once (the manifest's entries, the record's entries, their dicts, and the encoder's pieces of
text, then the text and its bytes): a few kilobytes per file, the largest thing the filer held. Here
the files are written one at a time into a file object, in the same order and the same bytes, so the
memory a record needs does not grow with the run; ``tests/unit/filer/test_record.py`` holds the two
to the same output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from json.encoder import encode_basestring
from typing import IO, Any

from artifact_contract import FileEntry, Manifest, RecordedFile, RunRecord, archive_prefix

#: ``dumps_record``'s settings: its output is what re-filing must reproduce byte for byte.
_DUMPS = {"ensure_ascii": False, "sort_keys": True, "indent": 1}
_FILES = "files"


def record_head(manifest: Manifest) -> dict[str, Any]:
    """The run record's fields but its list of files, as ``RunRecord.to_dict`` gives them.

    The record of the manifest cut to one file per type has the same prefixes, run and uploader; the
    count and total that depend on every file are filled in from the manifest itself.
    """
    one_per_type = tuple({f.type: f for f in manifest.files}.values())
    head = RunRecord.for_manifest(replace(manifest, files=one_per_type)).to_dict()
    head["file_count"] = len(manifest.files)
    head["bytes"] = manifest.total_bytes
    del head[_FILES]
    return head


def write_record(manifest: Manifest, out: IO[bytes]) -> None:
    """Write the run record of ``manifest`` to ``out``: the bytes of ``RunRecord.to_json``."""
    head = record_head(manifest)
    out.write(b"{")
    for i, name in enumerate(sorted([*head, _FILES])):
        out.write(b"%s\n %s: " % (b"," if i else b"", encode_basestring(name).encode()))
        if name != _FILES:
            out.write(_nested(head[name], 1).encode())
            continue
        out.write(b"[")
        for j, (entry, key) in enumerate(_in_key_order(manifest)):
            recorded = RecordedFile(entry.type, entry.path, key, entry.size, entry.sha256).to_dict()
            out.write(b"%s\n  %s" % (b"," if j else b"", _item(recorded).encode()))
        out.write(b"\n ]")
    out.write(b"\n}")


def _nested(value: Any, level: int) -> str:
    """``value`` as ``json.dumps(..., indent=1)`` writes it ``level`` levels deep."""
    return json.dumps(value, **_DUMPS).replace("\n", "\n" + " " * level)  # type: ignore[arg-type]


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

    A client lists its files in key order already; only a manifest that does not is sorted here,
    which holds every key at once for the length of the sort.
    """
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
