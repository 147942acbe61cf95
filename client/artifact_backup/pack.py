"""Hashing files and writing deterministic packs (docs/protocol.md, steps 2 and 3).

A pack's id is the SHA-256 of its bytes, so a resumed upload can only skip a pack already in staging
if the same files always give the same bytes: members sorted, mtime 0, uid/gid 0, no user names,
a fixed mode, PAX format, and a gzip header without name or time.
"""

from __future__ import annotations

import gzip
import hashlib
import queue
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from artifact_contract import Crc64Nvme

from .collect import LocalFile
from .exceptions import FileChangedError, FileUnreadableError
from .local_files import LocalFiles
from .part_crc import PartCrcs
from .transfer import MB, UploadConfig

PACK_MEMBER_MODE = 0o644


class PlannedPack(Sequence[LocalFile]):
    """The files of one pack: a range of the run's spooled files in (type, path) order, read again
    when the pack is written, so a plan holds no file per file (packs hold up to 64 MiB of small
    files each)."""

    def __init__(self, files: LocalFiles, first: tuple[str, str], last: tuple[str, str], count: int,
                 size: int, below: int) -> None:
        self._files = files
        self.first, self.last = first, last
        self._count = count
        #: The bytes of the pack's files.
        self.bytes = size
        self._below = below

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[LocalFile]:
        return self._files.between(self.first, self.last, self._below)

    def __getitem__(self, index: Any) -> Any:
        return list(self)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PlannedPack({self._count} files, {self.bytes} bytes, {self.first}..{self.last})"


@dataclass(frozen=True)
class PiecePlan:
    """How a run travels, before any byte is read: which files share packs, which go alone."""

    packs: tuple[Sequence[LocalFile], ...]
    blobs: tuple[LocalFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(_bytes(p) for p in self.packs) + sum(f.size for f in self.blobs)

    @property
    def total_files(self) -> int:
        return sum(len(p) for p in self.packs) + len(self.blobs)

    def to_dict(self) -> dict[str, object]:
        return {
            "packs": [{"files": len(p), "bytes": _bytes(p)} for p in self.packs],
            "blobs": [{"path": f.member_name, "bytes": f.size} for f in self.blobs],
        }


def _bytes(pack: Sequence[LocalFile]) -> int:
    return pack.bytes if isinstance(pack, PlannedPack) else sum(f.size for f in pack)


def plan_pieces(files: Iterable[LocalFile], config: UploadConfig) -> PiecePlan:
    """Small files fill packs in (type, path) order up to ``pack_max_bytes``; large files go alone.

    The order and thresholds make the plan, and so the pack bytes, a function of the file set. A
    pack is kept as the range of names it covers (:class:`PlannedPack`), not as its files.
    """
    spool = files if isinstance(files, LocalFiles) else LocalFiles.of(files)
    packs: list[Sequence[LocalFile]] = []
    blobs: list[LocalFile] = []
    first: tuple[str, str] | None = None
    last: tuple[str, str] = ("", "")
    count = current_bytes = 0
    for f in spool:
        if f.size >= config.pack_threshold:
            blobs.append(f)
            continue
        if first is not None and current_bytes + f.size > config.pack_max_bytes:
            packs.append(PlannedPack(spool, first, last, count, current_bytes, config.pack_threshold))
            first, count, current_bytes = None, 0, 0
        if first is None:
            first = (f.type, f.path)
        last = (f.type, f.path)
        count += 1
        current_bytes += f.size
    if first is not None:
        packs.append(PlannedPack(spool, first, last, count, current_bytes, config.pack_threshold))
    return PiecePlan(tuple(packs), tuple(blobs))


def _open(f: LocalFile) -> BinaryIO:
    try:
        return open(f.location, "rb")  # noqa: SIM115 - closed by the caller's with-block
    except OSError as exc:
        raise FileUnreadableError(
            f"cannot read {f.source}: {exc.strerror or exc}",
            hint="fix the permissions, or close the program holding the file, then re-run",
        ) from None


def shrank(source: object) -> FileChangedError:
    """The error for a file that holds fewer bytes than when it was listed (packed, hashed or sent)."""
    return FileChangedError(
        f"{source} changed while it was being uploaded (it is shorter than when it was listed)",
        hint="re-run the upload once the program writing it has finished",
    )


@dataclass(frozen=True)
class FileDigest:
    """A file's two checksums, taken in one read: the SHA-256 that names and proves its content,
    and the CRC64NVME that S3 keeps for the archived object (``verify`` compares it by HEAD)."""

    sha256: str
    crc64nvme: str


def digest_file(f: LocalFile, chunksize: int = 1 * MB, parts: PartCrcs | None = None) -> FileDigest:
    """Both checksums of the file's first ``f.size`` bytes, the size it had when it was listed;
    ``parts`` takes its part CRC32Cs in the same read, for the send."""
    digest, crc = hashlib.sha256(), Crc64Nvme()
    for chunk in read_listed(f, chunksize):
        digest.update(chunk)
        crc.update(chunk)
        if parts is not None:
            parts.update(chunk)
    if parts is not None:
        parts.close()
    return FileDigest(digest.hexdigest(), crc.b64())


def hash_file(f: LocalFile, chunksize: int = 1 * MB) -> str:
    """SHA-256 of the file's first ``f.size`` bytes, the size it had when it was listed."""
    return digest_file(f, chunksize).sha256


def read_listed(f: LocalFile, chunksize: int = 1 * MB) -> Iterator[memoryview]:
    """The file's first ``f.size`` bytes in chunks: what was listed is what is sent, even while a
    live log grows; a file that shrank is an error rather than a short member.

    Every chunk is read into the same buffer, so a chunk is valid only until the next one is asked
    for: a fresh buffer per read costs the kernel a page fault per 4 KiB, which profiles of a
    multi-GB upload showed at a tenth of the client's CPU.
    """
    remaining = f.size
    view = memoryview(bytearray(min(chunksize, remaining)))
    with _open(f) as handle:
        while remaining:
            try:
                got = handle.readinto(view[: min(chunksize, remaining)])
            except OSError as exc:
                raise FileUnreadableError(f"cannot read {f.source}: {exc.strerror or exc}") from None
            if not got:
                raise shrank(f.source)
            remaining -= got
            yield view[:got]


class _HashingWriter:
    def __init__(self, out: BinaryIO, parts: PartCrcs | None = None) -> None:
        self._out = out
        self._parts = parts
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        if self._parts is not None:
            self._parts.update(data)
        self.size += len(data)
        self._out.write(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()


class _Deflater:
    """Hands the tar stream to a thread of its own, in blocks, for deflate and the pack's hash.

    zlib and hashlib release the GIL, so compression runs on a second core while the caller reads,
    hashes and frames the next files; packing 2,000 small logs otherwise spends half its time
    waiting for deflate. The blocks are written in order, so the bytes are the same as writing
    directly (at compression level 0 they follow the block size, which is the read size).
    """

    def __init__(self, out: BinaryIO, *, block: int, depth: int = 4) -> None:
        self._out = out
        self._block = block
        self._buffer = bytearray()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="artifact-pack-deflate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._out.write(block)
                except BaseException as exc:  # raised in the caller's thread
                    self._error = exc

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self._block:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._error is not None:
            raise self._error
        if self._buffer:
            self._queue.put(bytes(self._buffer))
            self._buffer.clear()

    def __enter__(self) -> _Deflater:
        return self

    def __exit__(self, exc_type: object, *args: object) -> None:
        try:
            if exc_type is None:
                self._hand_over()
        finally:
            self._queue.put(None)
            self._thread.join()
        if exc_type is None and self._error is not None:
            raise self._error


@dataclass(frozen=True)
class PackResult:
    sha256: str
    size: int
    #: The SHA-256 of each member, in the order of ``files``.
    file_sha256: tuple[str, ...]
    #: The CRC64NVME of each member (as S3 writes it), in the same order.
    file_crc64nvme: tuple[str, ...] = ()


def _member_info(name: str, size: int) -> tarfile.TarInfo:
    """The member's tar header fields: nothing that varies between machines or runs."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = PACK_MEMBER_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _template_header() -> tuple[bytes, bytes]:
    """The two parts of a member header around the name and size fields, from tarfile itself."""
    raw = _member_info("", 0).tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
    # 0-99 name, 100-123 mode/uid/gid, 124-135 size, 136-147 mtime, 148-155 checksum, rest.
    return raw[100:124], raw[136:148] + b"        " + raw[156:]


_HEADER_MIDDLE, _HEADER_TAIL = _template_header()
_MAX_USTAR_SIZE = 8**11 - 1


def member_header(f: LocalFile) -> bytes:
    """The member's tar header, byte for byte what tarfile writes in PAX format.

    A plain ASCII name of up to 100 bytes needs no PAX record, and then only the name, the size and
    the checksum differ between members: filling them in directly costs a tenth of tarfile's
    general path, which packing 2,000 small log files otherwise spends a tenth of a second in.
    Anything else (long or non-ASCII names, huge sizes) goes through tarfile.
    """
    name = f.member_name
    if len(name) <= tarfile.LENGTH_NAME and name.isascii() and f.size <= _MAX_USTAR_SIZE:
        raw_name = name.encode("ascii")
        header = bytearray(
            raw_name + bytes(tarfile.LENGTH_NAME - len(raw_name)) + _HEADER_MIDDLE
            + b"%011o\0" % f.size + _HEADER_TAIL
        )
        header[148:155] = b"%06o\0" % sum(header)
        return bytes(header)
    return _member_info(name, f.size).tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")


def write_pack(
    files: Sequence[LocalFile],
    out: BinaryIO,
    *,
    compress_level: int = 1,
    chunksize: int = 1 * MB,
    on_file: Callable[[LocalFile], None] | None = None,
    parts: PartCrcs | None = None,
) -> PackResult:
    """Stream ``files`` into ``out`` as a deterministic tar.gz, hashing members and pack on the way.

    Each file is read once: its SHA-256 is taken from the very bytes that go into the pack, so the
    manifest always describes what was sent, even if the file is growing (a live log).

    The bytes are tarfile's stream (PAX format) with deflate over it. At ``compress_level`` 0,
    deflate's stored blocks follow the sizes written, so there the bytes also depend on
    ``chunksize``; at levels 1-9 they depend on the files alone. ``parts`` takes the pack's part
    CRC32Cs from the bytes written, for the send.
    """
    writer = _HashingWriter(out, parts)
    shas: list[str] = []
    crcs: list[str] = []
    # A planned pack reads its files from the run's spool already in (type, path) order, which is
    # member name order (type names sort after "/"): streamed, not held, as the pack is written.
    presorted = isinstance(files, PlannedPack)
    ordered = files if presorted else sorted(files, key=lambda f: f.member_name)
    previous = ""
    offset = 0
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=writer, compresslevel=compress_level, mtime=0)  # type: ignore[arg-type]
    with gz, _Deflater(gz, block=chunksize) as deflate:
        for f in ordered:
            # tarfile builds each header (PAX records where a name needs them); the data is streamed
            # here, a member's header and first chunk in one write: tarfile's own copy loop and
            # record buffer cost more than the compression of a small file.
            if presorted:
                if f.member_name <= previous:
                    raise RuntimeError(f"pack members out of order at {f.member_name!r}")
                previous = f.member_name
            header = member_header(f)
            digest, crc = hashlib.sha256(), Crc64Nvme()
            pending = header
            for chunk in read_listed(f, chunksize):
                digest.update(chunk)
                crc.update(chunk)
                deflate.write(pending + chunk if pending else chunk)
                pending = b""
            padding = -f.size % tarfile.BLOCKSIZE
            deflate.write(pending + tarfile.NUL * padding)
            offset += len(header) + f.size + padding
            shas.append(digest.hexdigest())
            crcs.append(crc.b64())
            if on_file is not None:
                on_file(f)
        # The end of archive as tarfile writes it: two zero blocks, then zeros to a whole record.
        offset += 2 * tarfile.BLOCKSIZE
        deflate.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE + -offset % tarfile.RECORDSIZE))
    if parts is not None:
        parts.close()
    if presorted:
        return PackResult(writer.digest.hexdigest(), writer.size, tuple(shas), tuple(crcs))
    by_name = dict(zip((f.member_name for f in ordered), zip(shas, crcs, strict=True), strict=True))
    listed = [by_name[f.member_name] for f in files]
    return PackResult(writer.digest.hexdigest(), writer.size, tuple(s for s, _ in listed),
                      tuple(c for _, c in listed))
