"""How hard a pack is compressed: deflate level 1, or stored (level 0) when its files do not shrink.

GIS data (file geodatabase tables, GeoPackages, imagery, LAZ) is often compressed already, and a
run of such files packs hundreds of megabytes. zlib at level 1 gets about 60 MB/s through data it
cannot shrink, against about 330 MB/s stored, so compressing them would make packing, not the
network, the limit of the upload, for nothing (measured: 20 of 30 seconds of a GIS upload were
spent deflating its packs). A sample of the pack decides: the head of a few of its files, spread
over the pack, compressed at the pack's level. Stored blocks are plain gzip, so every filer reads
the pack as before, and the choice depends on the files' bytes alone, so a resumed upload builds
the same pack, with the same name, again.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from .collect import LocalFile

#: Bytes read from the head of each sampled file, and how many files are sampled at most.
SAMPLE_PER_FILE = 32 * 1024
SAMPLED_FILES = 8
#: A sample that compresses to more than this share of its size is not worth deflating.
WORTH_IT = 0.9


def pack_level(files: Sequence[LocalFile], level: int) -> int:
    """``level``, or 0 when a sample of ``files`` does not shrink by a tenth at that level."""
    if level == 0 or not files:
        return level
    step = max(1, len(files) // SAMPLED_FILES)
    deflate = zlib.compressobj(level)
    read = written = 0
    for index, f in enumerate(files):  # one pass: a planned pack is read from the run's spool
        if index % step or index // step >= SAMPLED_FILES:
            continue
        head = _head(f)
        read += len(head)
        written += len(deflate.compress(head))
    written += len(deflate.flush())
    return level if read == 0 or written < read * WORTH_IT else 0


def _head(f: LocalFile) -> bytes:
    """The file's first bytes; none when it cannot be read now (packing it says why, with the fix)."""
    try:
        with open(f.location, "rb") as handle:
            return handle.read(min(SAMPLE_PER_FILE, f.size))
    except OSError:
        return b""
