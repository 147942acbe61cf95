"""Corpus cases aimed at the filer's memory and output rather than its judgement.

Each is small on the wire and large once read: one giant PAX record in a pack listed with 100,000
one-byte files (the cap on decompressed bytes grows with every listed file, so only the bound on
extended headers stops it), a GNU long name, sparse headers whose maps tarfile would read, 100,000
tiny members, a manifest listing more pieces than a run can have, and a value whose quotation would
make the error text megabytes long. The corpus asserts the filer refuses each while its peak memory,
over the whole corpus, stays under the bound in ``conftest``.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import tarfile
from typing import Any

from artifact_contract import RefusalCode
from tests.support.staged import regular, sha

MiB = 1024 * 1024
#: Files the big cases list: enough for the decompression cap to pass 800 MB.
MANY = 100_000
TINY = b"x"
#: The giant PAX record: more than the filer's whole memory bound, were it read.
GIANT_RECORD = 640 * MiB
#: One more piece than a manifest may list by default (``FilerConfig.max_manifest_pieces``).
TOO_MANY_PIECES = 200_001


def _base() -> Any:
    from . import corpus  # the corpus imports this module: resolve its helpers when building

    return corpus


def _tiny_entries(pack_id: str, count: int) -> list[dict[str, Any]]:
    digest = sha(TINY)
    return [{"type": "logs", "path": f"tiny/{i:06d}.txt", "size": 1, "sha256": digest, "piece": pack_id}
            for i in range(count)]


@functools.lru_cache(maxsize=1)
def _giant_pax_pack() -> bytes:
    """A pack whose first header is one PAX record of GIANT_RECORD bytes, gzipped as it is made."""
    prefix = b" comment="
    body_len = GIANT_RECORD - len(prefix) - 1
    length = len(prefix) + body_len + 1
    length += len(str(length + len(str(length))))
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = length
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0) as gz:
        gz.write(header.tobuf(tarfile.USTAR_FORMAT))
        gz.write(str(length).encode() + prefix)
        chunk = b"x" * MiB
        left = body_len
        while left:
            gz.write(chunk[: min(left, MiB)])
            left -= min(left, MiB)
        gz.write(b"\n" + bytes(-length % 512))
        gz.write(bytes(1024))
    return out.getvalue()


def _with_pack(project: str, run_id: str, archive: str, body: bytes, listed: int) -> Any:
    base = _base()
    manifest, pieces = base._honest(project, run_id, archive)
    base._replace_pack(manifest, pieces, body)
    manifest["files"].extend(_tiny_entries(base._pack_id(manifest), listed))
    return base._stage(project, run_id, manifest, pieces)


def giant_pax_listed(project: str, run_id: str, archive: str) -> Any:
    return _with_pack(project, run_id, archive, _giant_pax_pack(), MANY)


def _gnu_pack(members: list[Any]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip.compress(raw.getvalue(), mtime=0)


def gnu_long_name(project: str, run_id: str, archive: str) -> Any:
    members = _base()._tar_of(_base().FILES)
    members.append(regular("logs/" + "n" * (256 * 1024) + ".txt", b"long\n"))
    return _with_pack(project, run_id, archive, _gnu_pack(members), 0)


def sparse_old_gnu(project: str, run_id: str, archive: str) -> Any:
    members = []
    for info, data in _base()._tar_of(_base().FILES):
        if info.name == _base().LISTED:
            info.type = tarfile.GNUTYPE_SPARSE
        members.append((info, data))
    return _with_pack(project, run_id, archive, _gnu_pack(members), 0)


def sparse_pax_map(members: list[Any]) -> list[Any]:
    """PAX sparse 1.0: the map is read from the member's data, its length told by the header."""
    out = []
    for info, data in members:
        if info.name == _base().LISTED:
            info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                                "GNU.sparse.name": info.name, "GNU.sparse.realsize": str(10**12)}
        out.append((info, data))
    return out


@functools.lru_cache(maxsize=1)
def _tiny_members_pack() -> bytes:
    """MANY listed one-byte members, the last of them not the declared content."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in _base()._tar_of(_base().FILES):
            tar.addfile(info, io.BytesIO(data))
        for i in range(MANY):
            info, data = regular(f"logs/tiny/{i:06d}.txt", TINY if i < MANY - 1 else b"y")
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def tiny_members(project: str, run_id: str, archive: str) -> Any:
    return _with_pack(project, run_id, archive, _tiny_members_pack(), MANY)


def too_many_pieces(manifest: dict[str, Any]) -> bytes:
    blob = next(p for p in manifest["pieces"] if p["kind"] == "blob")
    extra = ",".join(
        json.dumps({"kind": "blob", "id": f"blobs/{i:064x}", "size": 1, "sha256": f"{i:064x}"})
        for i in range(TOO_MANY_PIECES))
    raw = json.dumps(manifest)
    marker = json.dumps(blob)
    return raw.replace(marker, marker + "," + extra, 1).encode()


def huge_project_key_text(manifest: dict[str, Any]) -> None:
    manifest["project_key"] = "K" * (900 * 1024)  # under the longest value a manifest may hold


def cases() -> tuple[Any, ...]:
    base = _base()
    case, c = base.Case, RefusalCode
    return (
        case("bomb-giant-pax-record-listed-100000", c.PACK_BOMB, giant_pax_listed),
        case("member-gnu-long-name-huge", c.PACK_BOMB, gnu_long_name),
        case("member-sparse-old-gnu", c.MEMBER_FORBIDDEN, sparse_old_gnu),
        case("member-sparse-pax-map", c.MEMBER_FORBIDDEN, base.member_tamper(sparse_pax_map)),
        case("pack-100000-tiny-members", c.MEMBER_MISMATCH, tiny_members),
        case("manifest-too-many-pieces", c.MANIFEST_INVALID, base.manifest_bytes(too_many_pieces)),
        case("manifest-error-text-huge", c.MANIFEST_INVALID, base.manifest_edit(huge_project_key_text)),
    )
