"""Deterministic benchmark data: the same seed always gives byte-identical files.

Every tool uploads the same files, and two runs of the benchmark (on two machines, a month apart)
upload the same bytes, so their numbers compare. Log text comes from a seeded ``random.Random``
(its sequence is fixed for a given seed across CPython versions); large files are SHAKE-256 output,
which gzip cannot shrink, like real orthophotos or GeoPackages.

Datasets are cached under the data folder with a marker holding their parameters; a folder whose
marker matches is reused, anything else is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

MiB = 1024 * 1024
_MARKER = ".bench-dataset.json"
#: Bump when the generators change, so cached folders are rebuilt.
GENERATOR_VERSION = 2

_LEVELS = ("INFO",) * 14 + ("DEBUG",) * 4 + ("WARNING",) * 2 + ("ERROR",)
_MODULES = (
    "orchestrator",
    "exiftool",
    "enhance",
    "mosaic.stitch",
    "mosaic.blend",
    "geo.snap",
    "reel.reader",
    "upload.queue",
    "frame.filter",
    "gps.interp",
)
_MESSAGES = (
    "processed frame {frame:06d} in {ms:.1f} ms",
    "reel {reel:04d} frame {frame:06d} lat={lat:.6f} lon={lon:.6f} alt={alt:.1f}m",
    "exposure 1/{shutter} iso {iso} sigma={sigma:.2f} for frame {frame:06d}",
    "snapped frame {frame:06d} to centerline segment {seg} offset {off:.2f} m",
    "queue depth {depth} after {frame:06d}; {free} MiB free",
    "wrote tile z={z} x={x} y={y} ({kb} KiB)",
    "retrying read of frame {frame:06d}: short read ({kb} KiB of {kb2} KiB)",
    "gps gap of {gap:.2f} s before frame {frame:06d}, interpolated {n} points",
)


@dataclass(frozen=True)
class Dataset:
    """A generated project folder and what it holds."""

    name: str
    project: Path
    files: int
    bytes: int
    #: Files per artifact type, for the report.
    by_type: dict[str, int]


def log_text(rng: random.Random, target_size: int) -> bytes:
    """Plausible processing-log lines (timestamps, levels, modules, numbers) up to about ``target_size``."""
    lines: list[str] = []
    size = 0
    millis = rng.randrange(86_400_000)
    frame = rng.randrange(100_000)
    reel = rng.randrange(1, 40)
    while size < target_size:
        millis += rng.randrange(0, 900)
        second = millis // 1000
        frame += rng.randrange(1, 4)
        template = rng.choice(_MESSAGES)
        message = template.format(
            frame=frame,
            ms=rng.uniform(2, 80),
            reel=reel,
            lat=45.5 + rng.uniform(-0.2, 0.2),
            lon=-122.6 + rng.uniform(-0.2, 0.2),
            alt=rng.uniform(20, 300),
            shutter=rng.choice((250, 500, 1000)),
            iso=rng.choice((100, 200, 400)),
            sigma=rng.uniform(0.5, 2.5),
            seg=rng.randrange(9999),
            off=rng.uniform(0, 5),
            depth=rng.randrange(64),
            free=rng.randrange(200, 4000),
            z=rng.randrange(12, 20),
            x=rng.randrange(99999),
            y=rng.randrange(99999),
            kb=rng.randrange(4, 900),
            kb2=rng.randrange(900, 2000),
            gap=rng.uniform(0.1, 4),
            n=rng.randrange(1, 40),
        )
        line = (
            f"2025-10-30 {second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}."
            f"{millis % 1000:03d} {rng.choice(_LEVELS):<7} [{rng.choice(_MODULES)}] {message}\n"
        )
        lines.append(line)
        size += len(line)
    return "".join(lines).encode()


def incompressible(seed: str, size: int, path: Path) -> None:
    """Write ``size`` bytes of SHAKE-256 output, 1 MiB at a time (memory stays flat at any size)."""
    with path.open("wb") as out:
        written = 0
        index = 0
        while written < size:
            n = min(MiB, size - written)
            out.write(hashlib.shake_256(f"{seed}:{index}".encode()).digest(n))
            written += n
            index += 1


def _ready(folder: Path, params: dict[str, object]) -> bool:
    marker = folder / _MARKER
    try:
        return json.loads(marker.read_text()) == params
    except (OSError, ValueError):
        return False


def _finish(folder: Path, params: dict[str, object]) -> None:
    """Mark the folder complete: written last, so an interrupted generation is redone."""
    (folder / _MARKER).write_text(json.dumps(params))


def _config(project: Path, key: str) -> None:
    """The run's config.yaml, so the project looks like one the client is pointed at."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "config.yaml").write_text(
        f'schema_version: 1.2.0\nproject:\n  slug: "{key}"\norchestrator:\n'
        "  artifact_types: [config, logs, report, gis_data]\n"
    )


def _write_logs(project: Path, count: int, seed: str) -> int:
    """``count`` log files of about 8 KB (4-12 KB), spread over reels as a processing run writes them."""
    total = 0
    rng = random.Random(f"{seed}:sizes")
    for i in range(count):
        reel = i // 500 + 1
        extension = (".log", ".log", ".log", ".txt", ".csv")[i % 5]
        path = project / "logs" / f"reel_{reel:04d}" / f"frame_batch_{i:06d}{extension}"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = log_text(random.Random(f"{seed}:{i}"), rng.randrange(4_000, 12_000))
        path.write_bytes(data)
        total += len(data)
    return total


def _write_report(project: Path, key: str, seed: str) -> tuple[int, int]:
    """A report folder: the HTML, its JSON data and a few chart images."""
    report = project / "report"
    (report / "assets").mkdir(parents=True, exist_ok=True)
    files = {
        report / "report.html": (
            f"<html><body><h1>{key}</h1>" + "<p>frame ok</p>" * 2000 + "</body></html>\n"
        ).encode(),
        report / f"report_data_{key}.json": json.dumps(
            {"frames": [{"i": i, "ms": i % 97} for i in range(5000)]}
        ).encode(),
    }
    total = 0
    for path, data in files.items():
        path.write_bytes(data)
        total += len(data)
    for i, size in enumerate((180_000, 240_000, 320_000, 95_000)):
        path = report / "assets" / f"chart_{i:02d}.png"
        incompressible(f"{seed}:chart:{i}", size, path)
        total += size
    return len(files) + 4, total


def small_files(root: Path, count: int, seed: str = "bench") -> Dataset:
    """Run (a): ``count`` log files of about 8 KB, and nothing else, so every tool sends the same files."""
    name = f"small-{count}"
    key = f"BENCH{count}"
    folder = root / name
    project = folder / key
    params = {"v": GENERATOR_VERSION, "kind": "small", "count": count, "seed": seed}
    if not _ready(folder, params):
        shutil.rmtree(folder, ignore_errors=True)
        _write_logs(project, count, seed)
        _finish(folder, params)
    return _describe(name, project)


def large_file(root: Path, size: int, seed: str = "bench") -> Dataset:
    """Run (b): one GIS file of ``size`` incompressible bytes, and nothing else."""
    label = f"{size // MiB}M" if size % MiB == 0 else str(size)
    name = f"large-{label}"
    key = f"BENCHGIS{label}"
    folder = root / name
    project = folder / key
    params = {"v": GENERATOR_VERSION, "kind": "large", "size": size, "seed": seed}
    if not _ready(folder, params):
        shutil.rmtree(folder, ignore_errors=True)
        (project / "gis_data").mkdir(parents=True)
        incompressible(f"{seed}:gis:{size}", size, project / "gis_data" / "orthomosaic.gpkg")
        _finish(folder, params)
    return _describe(name, project)


#: A file geodatabase's members, smallest to largest: index and system tables are small, feature
#: tables (``.gdbtable``) the large ones.
_GDB_SUFFIXES = ("gdbtablx", "atx", "gdbindexes", "spx", "freelist", "gdbtable")
#: The share of a GIS data set that is the GeoPackage (1 GiB of the default 2.5 GiB).
GPKG_SHARE = 0.4


def log_spread(count: int, total: int, smallest: int, largest: int) -> list[int]:
    """``count`` sizes from ``smallest`` to ``largest`` on a log scale, summing to about ``total``.

    Evenly spaced logarithms would put most bytes in the largest files and leave few small ones; the
    exponent bends the spacing (found by bisection) so the sizes add up to ``total`` while still
    running from kilobytes to the largest file, as a real geodatabase's tables do.
    """
    if count == 1:
        return [total]
    ratio = largest / smallest

    def sizes(power: float) -> list[int]:
        return [round(smallest * ratio ** ((i / (count - 1)) ** power)) for i in range(count)]

    low, high = 0.05, 50.0
    for _ in range(100):
        mid = (low + high) / 2
        if sum(sizes(mid)) > total:
            low = mid
        else:
            high = mid
    return sizes((low + high) / 2)


def gis_folder(root: Path, size: int, members: int = 300, seed: str = "bench") -> Dataset:
    """A GIS-shaped run: a ``.gdb`` folder of ``members`` files log-spread from 1 KiB to a few
    hundred MiB, and a GeoPackage of ``GPKG_SHARE`` of ``size`` (SHAKE-256 bytes throughout)."""
    label = f"{size // MiB}M"
    name = f"gis-{label}-{members}"
    key = f"BENCHGDB{size // MiB}"
    folder = root / name
    project = folder / key
    params = {"v": GENERATOR_VERSION, "kind": "gis", "size": size, "members": members, "seed": seed}
    if not _ready(folder, params):
        shutil.rmtree(folder, ignore_errors=True)
        gis = project / "gis_data"
        gdb = gis / "survey.gdb"
        gdb.mkdir(parents=True)
        gpkg = int(size * GPKG_SHARE)
        largest = min(256 * MiB, (size - gpkg) // 6)
        for i, n in enumerate(log_spread(members, size - gpkg, 1024, largest)):
            suffix = "gdbtable" if i >= members * 9 // 10 else _GDB_SUFFIXES[i % (len(_GDB_SUFFIXES) - 1)]
            incompressible(f"{seed}:gdb:{size}:{i}", n, gdb / f"a{i + 1:08x}.{suffix}")
        (gdb / "gdb").write_bytes(hashlib.shake_256(f"{seed}:gdb".encode()).digest(8))
        incompressible(f"{seed}:gpkg:{size}", gpkg, gis / "orthomosaic.gpkg")
        _finish(folder, params)
    return _describe(name, project)


def full_run(root: Path, small: Dataset, large: Dataset, seed: str = "bench") -> Dataset:
    """Run (c): the logs of (a), the GIS file of (b) and a report, as one processing run.

    The logs and the GIS file are hard links to (a) and (b) (copies where links are refused), so
    the full run costs no extra disk and reads from the same page cache.
    """
    name = "full"
    key = "BENCHFULL"
    folder = root / name
    project = folder / key
    params = {
        "v": GENERATOR_VERSION,
        "kind": "full",
        "small": small.name,
        "large": large.name,
        "seed": seed,
    }
    if not _ready(folder, params):
        shutil.rmtree(folder, ignore_errors=True)
        _config(project, key)
        for source in (small.project / "logs", large.project / "gis_data"):
            for path in sorted(source.rglob("*")):
                target = project / path.relative_to(source.parent)
                if path.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(path, target)
                except OSError:
                    shutil.copyfile(path, target)
        _write_report(project, key, seed)
        _finish(folder, params)
    return _describe(name, project)


def _describe(name: str, project: Path) -> Dataset:
    files = 0
    size = 0
    by_type: dict[str, int] = {}
    for path in project.rglob("*"):
        if path.is_file():
            files += 1
            size += path.stat().st_size
            top = path.relative_to(project).parts[0]
            kind = top if top != "config.yaml" else "config"
            by_type[kind] = by_type.get(kind, 0) + 1
    return Dataset(name, project, files, size, dict(sorted(by_type.items())))


def describe(dataset: Dataset) -> dict[str, object]:
    """The dataset as JSON for the results file."""
    out = asdict(dataset)
    out["project"] = str(dataset.project)
    return out


def read_through(folder: Path, chunk: int = MiB) -> int:
    """Read every file under ``folder`` once, so the next tool finds it in the page cache; returns
    the bytes read.

    Without it, the first tool of a repetition pays for reading the data from disk (the servers
    write gigabytes of their own between tools, which can push it out) and the others do not: on
    LocalStack our upload, first in the first repetition, took 31 s against 12-14 s in the others.
    """
    buffer = memoryview(bytearray(chunk))
    total = 0
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        with path.open("rb") as handle:
            while got := handle.readinto(buffer):
                total += got
    return total

