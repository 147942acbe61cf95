"""Step 5 of docs/protocol.md's filer: every piece streamed and checked against the manifest, and
every reused file's archived copy checked, before anything is written to the archive.

Nothing a client sends is trusted: a piece is hashed as it streams past, never held whole, and a pack
is read through ``tarfile`` in stream mode behind a cap on the decompressed bytes, so a hostile pack
(a bomb, a giant header, a link, a ``..`` member) is refused after reading at most what its declared
files account for. Filing (step 7) reads each pack again through the same checks. Where the
manifest gives a file's CRC64NVME (the checksum S3 will keep for it), it is computed beside the
SHA-256 as the bytes stream past, so a manifest whose CRC64NVME lies is refused like a wrong SHA-256.
"""

from __future__ import annotations

import gzip
import hashlib
import tarfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

from artifact_contract import (
    Crc64Nvme,
    FileEntry,
    IndexedFile,
    Manifest,
    Piece,
    RefusalCode,
    member_finder,
    piece_key,
    validate_relative_path,
)
from artifact_contract.exceptions import ContractError
from artifact_contract.s3 import body_of, is_missing, is_precondition_failed, now_iso

from .config import FilerConfig
from .context import FilingContext
from .exceptions import (
    FilerRefusedError,
    MemberRefusedError,
    PackBombError,
    PieceChangedError,
    PieceCorruptError,
    PieceMissingError,
    StagingReadError,
)
from .plumbing import Futures, head, reread
from .progress import Progress
from .reuse import copy_problem, index_problem, read_index, unavailable, update_index
from .tar_headers import BoundedTarInfo, bounded_tarinfo

#: Only plain regular files may travel in a pack; GNU sparse and contiguous files are refused too.
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE)


class HashingReader:
    """Hash and count what is read from ``raw``, refusing to read past ``limit`` bytes."""

    def __init__(self, raw: Any, limit: int, piece_id: str, *, crc: bool = False) -> None:
        self._raw = raw
        self._limit = limit
        self._piece_id = piece_id
        self.sha256 = hashlib.sha256()
        self.crc64nvme = Crc64Nvme() if crc else None
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._limit - self.count + 1
        try:
            data = self._raw.read(min(size, self._limit - self.count + 1))
        except Exception as exc:  # a dropped connection is transient, never the piece's fault
            raise StagingReadError(f"reading piece {self._piece_id} failed: {exc}") from exc
        self.count += len(data)
        if self.count > self._limit:
            raise PieceCorruptError(
                f"piece {self._piece_id} is larger than its declared {self._limit} bytes"
            )
        self.sha256.update(data)
        if self.crc64nvme is not None:
            self.crc64nvme.update(data)
        return data

    def drain(self, chunk: int) -> None:
        while self.read(chunk):
            pass

    def check(self, piece: Piece) -> None:
        """Refuse the piece unless exactly its declared bytes went past."""
        if self.count != piece.size:
            raise PieceCorruptError(
                f"piece {piece.id} is {self.count} bytes, the manifest declares {piece.size}"
            )
        if self.sha256.hexdigest() != piece.sha256:
            raise PieceCorruptError(f"piece {piece.id} does not match its declared SHA-256")


class CappedReader:
    """Pass reads through, refusing the pack once it has decompressed past ``limit`` bytes."""

    def __init__(self, raw: Any, limit: int, piece_id: str) -> None:
        self._raw = raw
        self._limit = limit
        self._piece_id = piece_id
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._limit - self.count + 1
        data = self._raw.read(min(size, self._limit - self.count + 1))
        self.count += len(data)
        if self.count > self._limit:
            raise PackBombError(
                f"pack {self._piece_id} decompresses to more than the {self._limit} bytes "
                "its declared files account for"
            )
        return data


def pack_limit(entries: Sequence[FileEntry], per_member: int, overhead: int) -> int:
    """The most a pack of ``entries`` may decompress to: the files plus generous tar overhead."""
    return sum(e.size + per_member + 2 * len(e.member_name.encode()) for e in entries) + overhead


def read_blob(body: Any, piece: Piece, chunk: int, entries: Sequence[FileEntry] = ()) -> None:
    """Stream a blob through its hash and refuse it unless it is exactly the declared bytes, and
    unless it has the CRC64NVME of every entry (of those it carries) that declares one."""
    declared = {e.crc64nvme for e in entries if e.crc64nvme is not None}
    reader = HashingReader(body, piece.size, piece.id, crc=bool(declared))
    reader.drain(chunk)
    reader.check(piece)
    if reader.crc64nvme is not None:
        computed = reader.crc64nvme.b64()
        for wrong in sorted(declared - {computed}):
            raise PieceCorruptError(
                f"blob {piece.id} has the crc64nvme {computed}, the manifest declares {wrong}"
            )


def read_pack(
    body: BinaryIO | Any,
    piece: Piece,
    entries: Sequence[FileEntry],
    *,
    limit: int,
    chunk: int,
    keep: bool,
    header_limit: int = BoundedTarInfo.limit,
) -> Iterator[tuple[FileEntry, bytes | None]]:
    """Yield each member of a pack with its entry, checked against the manifest as it streams.

    With ``keep`` the member's bytes are yielded (for filing; packed files are small), otherwise
    ``None`` after hashing in chunks (for verification). The pack's own size and SHA-256 are checked
    once it is exhausted, so the generator must be run to its end for the pack to count as verified.
    ``header_limit`` bounds each member's extended headers (``artifact_filer.tar_headers``).
    """
    raw = HashingReader(body, piece.size, piece.id)
    # A listed name's entry and position, looked up in the manifest's spool (no name is held per
    # member); a flag per entry marks the names already read.
    expected = member_finder(entries)
    seen = bytearray(len(entries))
    try:
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:  # type: ignore[arg-type]
                capped = CappedReader(unzipped, limit, piece.id)
                with tarfile.open(fileobj=capped, mode="r|",  # type: ignore[call-overload]
                                  tarinfo=bounded_tarinfo(header_limit, piece.id)) as tar:
                    while (info := tar.next()) is not None:
                        # A stream-mode tar keeps every header it read (half a kilobyte each) for
                        # lookups this reader never makes: drop them as it goes.
                        tar.members.clear()
                        entry = _check_member(info, entries, expected, seen, piece)
                        stream = tar.extractfile(info)
                        if stream is None:  # pragma: no cover - regular files always have a stream
                            raise MemberRefusedError(f"pack {piece.id} member {info.name!r} is unreadable")
                        yield entry, _read_member(stream, entry, piece, chunk, keep)
                # Past the tar's end marker only the zero padding of its last record may follow,
                # within the cap: anything else (a second tar, a payload) is data no listing shows.
                while rest := capped.read(chunk):
                    if rest.count(0) != len(rest):
                        raise PieceCorruptError(
                            f"pack {piece.id} holds data after its tar end marker: packs hold one tar"
                        )
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise PieceCorruptError(f"pack {piece.id} is not a readable tar.gz: {exc}") from None
    except FilerRefusedError:
        # A pack damaged in transit garbles its members too: say so, rather than blame a member.
        raw.drain(chunk)
        raw.check(piece)
        raise
    raw.drain(chunk)
    raw.check(piece)
    missing = sorted(entries[i].member_name for i, read in enumerate(seen) if not read)
    if missing:
        raise MemberRefusedError(
            f"pack {piece.id} lacks {len(missing)} listed file(s), e.g. {missing[0]!r}",
            RefusalCode.MEMBER_MISSING,
        )


def _check_member(
    info: tarfile.TarInfo,
    entries: Sequence[FileEntry],
    expected: Callable[[str], tuple[int, FileEntry] | None],
    seen: bytearray,
    piece: Piece,
) -> FileEntry:
    """The member's entry, once the member is found to be that file; marks it read."""
    name = info.name
    if info.type not in _REGULAR:
        raise MemberRefusedError(
            f"pack {piece.id} member {name!r} is not a regular file (tar type {info.type!r}): "
            "links, devices and directories are never filed",
            RefusalCode.MEMBER_FORBIDDEN,
        )
    try:
        validate_relative_path(name)
    except ContractError as exc:
        raise MemberRefusedError(
            f"pack {piece.id} member {name!r} has an unsafe name: {exc}", RefusalCode.MEMBER_UNSAFE
        ) from None
    found = expected(name)
    index = None if found is None else found[0]
    if index is not None and seen[index]:
        raise MemberRefusedError(
            f"pack {piece.id} holds {name!r} twice", RefusalCode.MEMBER_DUPLICATE
        )
    if index is None:
        raise MemberRefusedError(
            f"pack {piece.id} holds {name!r}, which the manifest does not list for it",
            RefusalCode.MEMBER_UNLISTED,
        )
    assert found is not None
    entry = found[1]
    if info.size > entry.size:
        raise PackBombError(
            f"pack {piece.id} member {name!r} claims {info.size} bytes, the manifest declares {entry.size}"
        )
    if info.size != entry.size:
        raise MemberRefusedError(
            f"pack {piece.id} member {name!r} is {info.size} bytes, the manifest declares {entry.size}",
            RefusalCode.MEMBER_MISMATCH,
        )
    seen[index] = 1
    return entry


def _read_member(stream: Any, entry: FileEntry, piece: Piece, chunk: int, keep: bool) -> bytes | None:
    digest = hashlib.sha256()
    crc = Crc64Nvme() if entry.crc64nvme is not None else None
    parts: list[bytes] = []
    count = 0
    while True:
        data = stream.read(min(chunk, entry.size - count + 1))
        if not data:
            break
        count += len(data)
        digest.update(data)
        if crc is not None:
            crc.update(data)
        if keep:
            parts.append(data)
    if count != entry.size or digest.hexdigest() != entry.sha256:
        raise MemberRefusedError(
            f"pack {piece.id} member {entry.member_name!r} does not match its declared size and SHA-256",
            RefusalCode.MEMBER_MISMATCH,
        )
    if crc is not None and crc.b64() != entry.crc64nvme:
        raise MemberRefusedError(
            f"pack {piece.id} member {entry.member_name!r} has the crc64nvme {crc.b64()}, the manifest "
            f"declares {entry.crc64nvme}",
            RefusalCode.MEMBER_MISMATCH,
        )
    return b"".join(parts) if keep else None


# -- the verify pass ------------------------------------------------------------------------------


def verify_pieces(ctx: FilingContext, manifest: Manifest, progress: Progress) -> dict[str, str] | None:
    """Stream every piece against the manifest; return each piece's ETag for the second read.

    Pieces an earlier invocation verified are taken at the ETag it saw. None when the invocation's
    time ran out first: what was verified is in ``progress``, the rest waits for the next one.
    """
    todo = [p for p in manifest.pieces if progress.verified(p.id) is None]
    if todo:
        with ThreadPoolExecutor(ctx.workers(len(todo)), "verify") as pool:
            futures = Futures(keep_results=False)
            for piece in todo:
                futures.add(pool.submit(_verify_unless_late, ctx, manifest, piece,
                                        manifest.files_of(piece.id), progress))
            futures.wait()
    etags = {p.id: progress.verified(p.id) for p in manifest.pieces}
    if any(etag is None for etag in etags.values()):
        return None
    return etags  # type: ignore[return-value]


def _verify_unless_late(
    ctx: FilingContext, manifest: Manifest, piece: Piece, entries: Sequence[FileEntry], progress: Progress
) -> None:
    if progress.out_of_time():
        return
    progress.mark_verified(piece.id, _verify_piece(ctx, manifest, piece, entries))


def _verify_piece(ctx: FilingContext, manifest: Manifest, piece: Piece, entries: Sequence[FileEntry]) -> str:
    return reread(ctx, lambda: _verify_piece_once(ctx, manifest, piece, entries))


def _verify_piece_once(
    ctx: FilingContext, manifest: Manifest, piece: Piece, entries: Sequence[FileEntry]
) -> str:
    response = get_piece(ctx, manifest, piece, None)
    # Read through body_of: an answer cut off half-way must raise, not read as a short body, or a
    # good piece would be refused as corrupt.
    with body_of(response) as body:
        if response["ContentLength"] != piece.size:
            raise PieceCorruptError(
                f"piece {piece.id} is {response['ContentLength']} bytes, the manifest declares "
                f"{piece.size}"
            )
        chunk = ctx.config.read_chunk_bytes
        if piece.kind == "blob":
            read_blob(body, piece, chunk, entries)
        else:
            for _ in read_pack(body, piece, entries, limit=pack_limit_for(ctx.config, entries),
                               chunk=chunk, keep=False,
                               header_limit=ctx.config.max_extended_header_bytes):
                pass
    return response["ETag"]


def get_piece(ctx: FilingContext, manifest: Manifest, piece: Piece, etag: str | None) -> dict[str, Any]:
    """GetObject of a piece in staging; with ``etag``, only the very object that was verified."""
    key = piece_key(manifest.project_key, manifest.run_id, piece.id)
    kwargs = {"IfMatch": etag} if etag else {}
    try:
        return ctx.client.get_object(Bucket=ctx.staging_bucket, Key=key, **kwargs)
    except Exception as exc:
        if is_missing(exc):
            raise PieceMissingError(f"piece {piece.id} is not in staging at {key}") from None
        if etag and is_precondition_failed(exc):
            raise PieceChangedError(f"piece {piece.id} was replaced after it was verified") from None
        raise


def pack_limit_for(config: FilerConfig, entries: Sequence[FileEntry]) -> int:
    """The decompressed bytes a pack of ``entries`` may reach under the filer's tuning."""
    return pack_limit(entries, config.pack_overhead_per_member_bytes, config.pack_overhead_bytes)


def verify_reused(ctx: FilingContext, manifest: Manifest) -> dict[str, tuple[str, str]]:
    """Check every reused file's archived copy; return its key and ETag by SHA-256.

    Part of the verify pass: a missing, changed or Glacier copy refuses the run before anything
    is claimed or written, so the client's re-send can take the same timestamp. Copies that
    failed are dropped from the reuse index, so no later run offers them again.
    """
    wanted = {f.sha256: f for f in manifest.reused}
    if not wanted:
        return {}
    index, _ = read_index(ctx.client, ctx.staging_bucket, manifest.project_key)
    with ThreadPoolExecutor(ctx.workers(len(wanted)), "reuse") as pool:
        futures = Futures()
        for entry in wanted.values():
            futures.add(pool.submit(_check_reused, ctx, manifest, entry, index.entries.get(entry.sha256)))
        checked = futures.wait()
    sources = {sha: found for sha, found in zip(wanted, checked, strict=True) if isinstance(found, tuple)}
    problems = {sha: found for sha, found in zip(wanted, checked, strict=True) if isinstance(found, str)}
    if problems:
        _forget_reused(ctx, manifest.project_key, problems)
        raise unavailable(manifest, problems)
    return sources


def _check_reused(
    ctx: FilingContext, manifest: Manifest, entry: FileEntry, indexed: IndexedFile | None
) -> tuple[str, str] | str:
    """The copy's key and ETag, or why there is none."""
    problem = index_problem(manifest.project_key, entry, indexed)
    if problem is not None or indexed is None:
        return problem or "no earlier copy is known"
    found = head(ctx, ctx.archive_bucket, indexed.key, checksums=True)
    problem = copy_problem(manifest.project_key, entry, indexed.key, found)
    if problem is not None or found is None:
        return problem or "no copy"
    return indexed.key, found["ETag"]


def _forget_reused(ctx: FilingContext, project_key: str, problems: dict[str, str]) -> None:
    try:
        update_index(ctx.client, ctx.staging_bucket, project_key,
                     lambda index: index.without(problems, updated_at=now_iso()))
    except Exception as exc:  # the refusal matters, the index is only a hint
        ctx.log.warning("could not drop unusable copies from the reuse index",
                        extra={"project_key": project_key, "error": str(exc)})
