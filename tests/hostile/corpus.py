# ruff: noqa: E501 - one case per line reads best as a table
"""The bad-input corpus: runs a hostile or broken client could write straight into staging.

Each case starts from the run an honest client would stage (deterministic packs, one blob, a valid
manifest) and breaks one thing: a pack member's name or type, a pack's bytes, a manifest field, the
manifest key itself. ``code`` is the refusal the filer must answer with; ``None`` means the key breaks
the layout so badly that no receipt can name the run (it is logged and dead-lettered, and its
objects stay where they are).
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from artifact_contract import RefusalCode, blob_piece_id, manifest_key, pack_piece_id, piece_key
from tests.support.staged import Member, StagedRun, regular, sha, tar_bytes

TIMESTAMP = "20251030_1430"
MiB = 1024 * 1024

#: The honest run every case starts from: small files in one pack, one file large enough for a blob.
FILES: dict[tuple[str, str], bytes] = {
    ("config", "config.yaml"): b'project:\n  slug: "RMI25320"\n',
    ("logs", "process_log.txt"): b"2025-10-30 14:30:00 INFO frame 00001 ok\n" * 40,
    ("logs", "exiftool_log.txt"): b"exif ok\n" * 20,
    ("report", "report.html"): b"<html><body>RMI25320</body></html>\n",
    ("gis_data", "orthomosaic.gpkg"): bytes(range(256)) * 300,  # 76,800 bytes: a blob
}
LISTED = "logs/process_log.txt"


@dataclass
class Staged:
    """What a case puts in staging: pieces first, then the object at ``manifest_key``."""

    objects: dict[str, bytes]
    manifest_key: str


Builder = Callable[[str, str, str], Staged]


@dataclass(frozen=True)
class Case:
    name: str
    code: str | None
    build: Builder
    #: A project key of the case's own instead of the one the suite makes up (``{suffix}`` filled in).
    project: str | None = None


# -- building blocks -------------------------------------------------------------------------------


def _honest(project: str, run_id: str, archive: str, *, tamper: Any = None,
            timestamp: str | None = TIMESTAMP) -> tuple[dict[str, Any], dict[str, bytes]]:
    run = StagedRun(project, dict(FILES), timestamp=timestamp, run_id=run_id, archive_bucket=archive,
                    tamper=tamper)
    manifest = run.build()
    return manifest.to_dict(), dict(run.pieces)


def _stage(project: str, run_id: str, manifest: dict[str, Any] | bytes, pieces: dict[str, bytes],
           *, key: str | None = None, skip: tuple[str, ...] = ()) -> Staged:
    objects = {piece_key(project, run_id, pid): body for pid, body in pieces.items() if pid not in skip}
    body = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    mkey = key or manifest_key(project, run_id)
    objects[mkey] = body
    return Staged(objects, mkey)


def _pack_id(manifest: dict[str, Any]) -> str:
    return next(p["id"] for p in manifest["pieces"] if p["kind"] == "pack")


def _blob_id(manifest: dict[str, Any]) -> str:
    return next(p["id"] for p in manifest["pieces"] if p["kind"] == "blob")


def _replace_pack(manifest: dict[str, Any], pieces: dict[str, bytes], body: bytes) -> None:
    """Swap the pack for ``body`` and declare it honestly: the pack's own checksum is right."""
    old = _pack_id(manifest)
    new = pack_piece_id(sha(body))
    del pieces[old]
    pieces[new] = body
    for p in manifest["pieces"]:
        if p["id"] == old:
            p.update(id=new, size=len(body), sha256=sha(body))
    for f in manifest["files"]:
        if f["piece"] == old:
            f["piece"] = new


def _gzip(raw: bytes, trailer: int = 0) -> bytes:
    """gzip ``raw``, then ``trailer`` zero bytes streamed in after it (a bomb costs little to make)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(raw)
        block = bytes(MiB)
        for _ in range(trailer // MiB):
            gz.write(block)
    return out.getvalue()


def _tar_of(files: dict[tuple[str, str], bytes]) -> list[Member]:
    return [regular(f"{t}/{p}", d) for (t, p), d in sorted(files.items()) if len(d) < 64 * 1024]


def add_member(name: str, data: bytes = b"payload\n") -> Callable[[list[Member]], list[Member]]:
    return lambda members: [*members, regular(name, data)]


def special(kind: bytes, name: str = LISTED, **attrs: Any) -> Callable[[list[Member]], list[Member]]:
    """Replace the listed member by one of another tar type (link, device, ...)."""

    def tamper(members: list[Member]) -> list[Member]:
        out: list[Member] = []
        for info, data in members:
            if info.name == name:
                info = copy.copy(info)
                info.type = kind
                info.size = 0
                for key, value in attrs.items():
                    setattr(info, key, value)
                data = None
            out.append((info, data))
        return out

    return tamper


def member_tamper(tamper: Callable[[list[Member]], list[Member]]) -> Builder:
    def build(project: str, run_id: str, archive: str) -> Staged:
        manifest, pieces = _honest(project, run_id, archive, tamper=tamper)
        return _stage(project, run_id, manifest, pieces)

    return build


def manifest_edit(edit: Callable[[dict[str, Any]], Any]) -> Builder:
    def build(project: str, run_id: str, archive: str) -> Staged:
        manifest, pieces = _honest(project, run_id, archive)
        edit(manifest)
        return _stage(project, run_id, manifest, pieces)

    return build


def manifest_bytes(make: Callable[[dict[str, Any]], bytes]) -> Builder:
    def build(project: str, run_id: str, archive: str) -> Staged:
        manifest, pieces = _honest(project, run_id, archive)
        return _stage(project, run_id, make(manifest), pieces)

    return build


def pack_body(make: Callable[[], bytes]) -> Builder:
    """The pack replaced by other bytes, declared with their true size and checksum."""

    def build(project: str, run_id: str, archive: str) -> Staged:
        manifest, pieces = _honest(project, run_id, archive)
        _replace_pack(manifest, pieces, make())
        return _stage(project, run_id, manifest, pieces)

    return build


def piece_swap(which: str, change: Callable[[bytes], bytes]) -> Builder:
    """The piece in staging is not what the manifest declares."""

    def build(project: str, run_id: str, archive: str) -> Staged:
        manifest, pieces = _honest(project, run_id, archive)
        pid = _pack_id(manifest) if which == "pack" else _blob_id(manifest)
        pieces[pid] = change(pieces[pid])
        return _stage(project, run_id, manifest, pieces)

    return build


def piece_absent(which: str) -> Builder:
    def build(project: str, run_id: str, archive: str) -> Staged:
        manifest, pieces = _honest(project, run_id, archive)
        pid = _pack_id(manifest) if which == "pack" else _blob_id(manifest)
        return _stage(project, run_id, manifest, pieces, skip=(pid,))

    return build


def bad_key(make_key: Callable[[str, str], str]) -> Builder:
    """An honest run whose manifest key breaks the layout: no receipt can name it."""

    def build(project: str, run_id: str, archive: str) -> Staged:
        manifest, pieces = _honest(project, run_id, archive)
        key = make_key(project, run_id)
        prefix = key.rsplit("/", 1)[0] + "/"
        objects = {prefix + pid: body for pid, body in pieces.items()}
        objects[key] = json.dumps(manifest).encode()
        return Staged(objects, key)

    return build


def _set_path(manifest: dict[str, Any], path: str) -> None:
    entry = next(f for f in manifest["files"] if f["type"] == "logs")
    entry["path"] = path


def _first_file(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in manifest["files"] if f["type"] == "logs")


def _nul_member(members: list[Member]) -> list[Member]:
    # Long enough to travel in a PAX "path" record, where a NUL is not a terminator.
    return add_member("logs/" + "n" * 120 + "\x00.txt")(members)


def _pax_header_bomb(members: list[Member]) -> list[Member]:
    info, data = members[0]
    info = copy.copy(info)
    info.pax_headers = {"comment": "x" * (64 * MiB)}
    return [(info, data), *members[1:]]


def _size_bomb() -> bytes:
    """The listed log, declared as 1,600 bytes, is 64 MiB of zeros in the pack."""
    members = [m for m in _tar_of(FILES) if m[0].name != LISTED]
    members.append(regular(LISTED, bytes(64 * MiB)))
    return _gzip(tar_bytes(sorted(members, key=lambda m: m[0].name)))


def _trailing_bomb() -> bytes:
    """An honest tar, then 256 MiB of zeros inside the same gzip stream (about 256 KiB on the wire)."""
    return _gzip(tar_bytes(_tar_of(FILES)), trailer=256 * MiB)


def _hidden_tar() -> bytes:
    """An honest tar with a second tar after its end marker: a member no listing ever shows."""
    smuggled = tar_bytes([regular("logs/../../smuggled.sh", b"#!/bin/sh\nrm -rf /\n")])
    return _gzip(tar_bytes(_tar_of(FILES)) + smuggled)


def _deep(manifest: dict[str, Any]) -> bytes:
    return b'{"schema": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"


def _duplicate_key(manifest: dict[str, Any]) -> bytes:
    raw = json.dumps(manifest)
    return (raw[:-1] + ', "project_key": "SOMEONE-ELSE"}').encode()


def _huge(manifest: dict[str, Any]) -> bytes:
    manifest["uploader"]["padding"] = "x" * (33 * MiB)
    return json.dumps(manifest).encode()


def _too_long_key(project: str, run_id: str, archive: str) -> Staged:
    manifest, pieces = _honest(project, run_id, archive)
    _first_file(manifest)["path"] = "p" * 800 + ".log"
    return _stage(project, run_id, manifest, pieces)


# -- the corpus ------------------------------------------------------------------------------------

C = RefusalCode

CASES: tuple[Case, ...] = (
    # Pack member names that could leave their folder or mean different things on different systems.
    Case("member-dotdot", C.MEMBER_UNSAFE, member_tamper(add_member("logs/../../../etc/cron.d/evil"))),
    Case("member-absolute", C.MEMBER_UNSAFE, member_tamper(add_member("/etc/passwd"))),
    Case("member-drive-letter", C.MEMBER_UNSAFE, member_tamper(add_member("C:/Windows/System32/evil.log"))),
    Case("member-backslash", C.MEMBER_UNSAFE, member_tamper(add_member("logs\\..\\..\\evil.log"))),
    Case("member-nul", C.MEMBER_UNSAFE, member_tamper(_nul_member)),
    Case("member-control-chars", C.MEMBER_UNSAFE, member_tamper(add_member("logs/\x1b]0;owned\x07.txt"))),
    Case("member-not-utf8", C.MEMBER_UNSAFE, member_tamper(add_member("logs/\udcff\udcfe.txt"))),
    Case("member-dot-segment", C.MEMBER_UNSAFE, member_tamper(add_member("./logs/process_log.txt"))),
    # Pack members that are not regular files.
    Case("member-symlink", C.MEMBER_FORBIDDEN, member_tamper(special(tarfile.SYMTYPE, linkname="/etc/shadow"))),
    Case("member-hardlink", C.MEMBER_FORBIDDEN, member_tamper(special(tarfile.LNKTYPE, linkname="/etc/shadow"))),
    Case("member-char-device", C.MEMBER_FORBIDDEN,
         member_tamper(special(tarfile.CHRTYPE, devmajor=1, devminor=3))),
    Case("member-block-device", C.MEMBER_FORBIDDEN,
         member_tamper(special(tarfile.BLKTYPE, devmajor=8, devminor=0))),
    Case("member-fifo", C.MEMBER_FORBIDDEN, member_tamper(special(tarfile.FIFOTYPE))),
    Case("member-directory", C.MEMBER_FORBIDDEN, member_tamper(special(tarfile.DIRTYPE))),
    Case("member-contiguous", C.MEMBER_FORBIDDEN, member_tamper(special(tarfile.CONTTYPE))),
    # Decompression bombs.
    Case("bomb-member-size", C.PACK_BOMB, pack_body(_size_bomb)),
    Case("bomb-after-tar-end", C.PACK_BOMB, pack_body(_trailing_bomb)),
    Case("bomb-pax-header", C.PACK_BOMB, member_tamper(_pax_header_bomb)),
    # Packs that are not what they claim.
    Case("pack-hidden-second-tar", C.PIECE_CORRUPT, pack_body(_hidden_tar)),
    Case("pack-not-gzip", C.PIECE_CORRUPT, pack_body(lambda: b"PK\x03\x04 not a gzip at all" * 50)),
    Case("pack-gzip-not-tar", C.PIECE_CORRUPT, pack_body(lambda: _gzip(b"hello, not a tar\n" * 100))),
    Case("pack-truncated", C.PIECE_CORRUPT, pack_body(lambda: _gzip(tar_bytes(_tar_of(FILES)))[:200])),
    Case("pack-checksum-mismatch", C.PIECE_CORRUPT, piece_swap("pack", lambda b: b[:-9] + bytes([b[-9] ^ 1]) + b[-8:])),
    Case("pack-size-mismatch", C.PIECE_CORRUPT, piece_swap("pack", lambda b: b + b"\0")),
    Case("blob-checksum-mismatch", C.PIECE_CORRUPT, piece_swap("blob", lambda b: b"\xff" + b[1:])),
    Case("blob-size-mismatch", C.PIECE_CORRUPT, piece_swap("blob", lambda b: b[:-1])),
    Case("pack-missing", C.PIECE_MISSING, piece_absent("pack")),
    Case("blob-missing", C.PIECE_MISSING, piece_absent("blob")),
    # Pack contents that disagree with the manifest.
    Case("member-unlisted", C.MEMBER_UNLISTED, member_tamper(add_member("logs/unlisted.txt"))),
    Case("member-twice", C.MEMBER_DUPLICATE,
         member_tamper(lambda ms: [*ms, next(m for m in ms if m[0].name == LISTED)])),
    Case("member-missing", C.MEMBER_MISSING, member_tamper(lambda ms: [m for m in ms if m[0].name != LISTED])),
    Case("member-checksum-mismatch", C.MEMBER_MISMATCH, member_tamper(
        lambda ms: [regular(i.name, d.upper()) if i.name == LISTED else (i, d) for i, d in ms])),
    Case("member-size-mismatch", C.MEMBER_MISMATCH, member_tamper(
        lambda ms: [regular(i.name, d[:-1]) if i.name == LISTED else (i, d) for i, d in ms])),
    # Manifests that are not a run description.
    Case("manifest-not-json", C.MANIFEST_INVALID, manifest_bytes(lambda m: b"<manifest>not json</manifest>")),
    Case("manifest-not-utf8", C.MANIFEST_INVALID, manifest_bytes(lambda m: b'{"schema": "\xff\xfe"}')),
    Case("manifest-json-array", C.MANIFEST_INVALID, manifest_bytes(lambda m: json.dumps([m]).encode())),
    Case("manifest-deeply-nested", C.MANIFEST_INVALID, manifest_bytes(_deep)),
    Case("manifest-duplicate-key", C.MANIFEST_INVALID, manifest_bytes(_duplicate_key)),
    Case("manifest-huge", C.MANIFEST_INVALID, manifest_bytes(_huge)),
    Case("manifest-wrong-schema", C.MANIFEST_INVALID, manifest_edit(lambda m: m.update(schema="tarball"))),
    Case("manifest-wrong-version", C.MANIFEST_INVALID, manifest_edit(lambda m: m.update(version=99))),
    Case("manifest-missing-files", C.MANIFEST_INVALID, manifest_edit(lambda m: m.pop("files"))),
    Case("manifest-missing-run-id", C.MANIFEST_INVALID, manifest_edit(lambda m: m.pop("run_id"))),
    Case("manifest-size-as-text", C.MANIFEST_INVALID, manifest_edit(lambda m: _first_file(m).update(size="1600"))),
    Case("manifest-size-as-bool", C.MANIFEST_INVALID, manifest_edit(lambda m: _first_file(m).update(size=True))),
    Case("manifest-negative-size", C.MANIFEST_INVALID, manifest_edit(lambda m: _first_file(m).update(size=-1))),
    Case("manifest-file-twice", C.MANIFEST_INVALID,
         manifest_edit(lambda m: m["files"].append(dict(_first_file(m))))),
    Case("manifest-unknown-type", C.MANIFEST_INVALID, manifest_edit(lambda m: _first_file(m).update(type="reels"))),
    Case("manifest-extension-not-kept", C.MANIFEST_INVALID, manifest_edit(lambda m: _set_path(m, "evil.exe"))),
    Case("manifest-path-dotdot", C.MANIFEST_INVALID, manifest_edit(lambda m: _set_path(m, "../../x.log"))),
    Case("manifest-path-absolute", C.MANIFEST_INVALID, manifest_edit(lambda m: _set_path(m, "/etc/x.log"))),
    Case("manifest-path-drive", C.MANIFEST_INVALID, manifest_edit(lambda m: _set_path(m, "D:/Process360_Data/x.log"))),
    Case("manifest-path-backslash", C.MANIFEST_INVALID, manifest_edit(lambda m: _set_path(m, "sub\\x.log"))),
    Case("manifest-path-huge", C.MANIFEST_INVALID, manifest_edit(lambda m: _set_path(m, "a\\" * 1_000_000 + ".log"))),
    Case("manifest-path-nul", C.MANIFEST_INVALID, manifest_edit(lambda m: _set_path(m, "x\x00.log"))),
    Case("manifest-path-not-utf8", C.MANIFEST_INVALID, manifest_edit(lambda m: _set_path(m, "\udcff.log"))),
    Case("manifest-created-at-surrogate", C.MANIFEST_INVALID,
         manifest_edit(lambda m: m.update(created_at="\ud800"))),
    Case("manifest-uploader-control", C.MANIFEST_INVALID,
         manifest_edit(lambda m: m["uploader"].update(host="ws\x1b[2J"))),
    Case("manifest-piece-id-forged", C.MANIFEST_INVALID,
         manifest_edit(lambda m: m["pieces"][0].update(id="packs/../../archive.tar.gz"))),
    Case("manifest-unlisted-piece", C.MANIFEST_INVALID,
         manifest_edit(lambda m: _first_file(m).update(piece=blob_piece_id("e" * 64)))),
    # 128 characters, 243 bytes: a valid key that leaves a valid 804-byte path no room in S3's 1,024.
    Case("manifest-archive-key-too-long", C.MANIFEST_INVALID, _too_long_key,
         project="Projet-" + "\u00e9" * 115 + "{suffix}"),
    Case("packed-file-too-large", C.PACKED_FILE_TOO_LARGE,
         manifest_edit(lambda m: _first_file(m).update(size=200 * MiB))),
    # Layout: timestamps and project keys.
    Case("timestamp-escapes", C.MANIFEST_INVALID,
         manifest_edit(lambda m: m.update(timestamp="20251030_1430/../../_runs"))),
    Case("timestamp-not-a-date", C.MANIFEST_INVALID, manifest_edit(lambda m: m.update(timestamp="20251399_2561"))),
    # Untimestamped keys are written unconditionally: none may land in a timestamped run's folder.
    Case("untimestamped-into-a-timestamp-folder", C.PATH_RESERVED, manifest_edit(
        lambda m: (m.update(timestamp=None), _set_path(m, "20251030_1430/process_log.txt")))),
    Case("project-key-dotdot-in-manifest", C.MANIFEST_INVALID,
         manifest_edit(lambda m: m.update(project_key="../RMI25320"))),
    Case("project-key-mismatch", C.MANIFEST_MISMATCH, manifest_edit(lambda m: m.update(project_key="OTHER"))),
    Case("run-id-mismatch", C.MANIFEST_MISMATCH, manifest_edit(lambda m: m.update(run_id="f" * 32))),
    Case("wrong-archive-bucket", C.MANIFEST_MISMATCH,
         manifest_edit(lambda m: m.update(archive_bucket="someone-elses-bucket"))),
    # Manifest keys that break the layout: no receipt can name the run.
    Case("key-reserved-project", None, bad_key(lambda p, r: f"incoming/_runs/{r}/manifest.json")),
    Case("key-extra-level", None, bad_key(lambda p, r: f"incoming/{p}/nested/{r}/manifest.json")),
    Case("key-run-id-not-hex", None, bad_key(lambda p, r: f"incoming/{p}/{r[:-4]}ZZZZ/manifest.json")),
    Case("key-project-dotdot", None, bad_key(lambda p, r: f"incoming/{p}..x/{r}/manifest.json")),
)


from .corpus_bounds import cases as _bound_cases  # noqa: E402 - its builders use the helpers above

CASES = (*CASES, *_bound_cases())
