"""A sample project shaped like the user guide's RMI25320, for the demo and the tests.

It holds every artifact type, a geodatabase folder, nested report assets, and files that the
extension filters must drop, so one upload shows the whole filtering and layout at work.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Files the filters drop: the demo and the tests check they never reach the archive.
DROPPED_FILES = (
    "logs/core_dump.bin",
    "logs/screenshot.png",
    "report/draft.docx",
    "gis_data/basemap.tif",
    "config/notes.ini",
)


def _log_text(name: str, lines: int) -> str:
    return "".join(
        f"2025-10-30 14:{i // 60 % 60:02d}:{i % 60:02d} INFO {name}: processed frame {i:05d} ok\n"
        for i in range(lines)
    )


def _binary(seed: str, size: int) -> bytes:
    """Deterministic, incompressible bytes: looks like real GIS or image data to gzip."""
    out = bytearray()
    block = seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def make_sample_project(root: Path, project_key: str = "RMI25320", config_text: str = "") -> Path:
    """Write the sample project under ``root/project_key`` and return its folder."""
    folder = root / project_key
    files: dict[str, bytes | str] = {
        "config.yaml": config_text
        or f'schema_version: 1.2.0\nproject:\n  slug: "{project_key}"\n',
        "config/settings.json": '{"enhance": {"sigma": 1.5}}\n',
        "logs/process_log.txt": _log_text("orchestrator", 400),
        "logs/exiftool_log.txt": _log_text("exiftool", 250),
        "logs/enhance_log.csv": "frame,sigma,ms\n" + "".join(f"{i},1.5,{i % 97}\n" for i in range(300)),
        "logs/mosaic_processor_output.log": _log_text("mosaic", 200),
        "logs/exiftool_cmd.args": "-overwrite_original\n-GPSLatitude=45.5\n",
        "report/report.html": f"<html><body><h1>{project_key}</h1></body></html>\n",
        f"report/report_data_{project_key}.json": '{"frames": 12000, "reels": 4}\n',
        "report/assets/chart_speed.png": _binary("chart", 30_000),
        "report/assets/map.jpg": _binary("map", 45_000),
        "gis_data/centerline.shp": _binary("shp", 60_000),
        "gis_data/centerline.shx": _binary("shx", 2_000),
        "gis_data/centerline.dbf": _binary("dbf", 8_000),
        "gis_data/centerline.prj": 'GEOGCS["GCS_WGS_1984"]\n',
        "gis_data/centerline.cpg": "UTF-8\n",
        "gis_data/roads.gdb/a00000001.gdbtable": _binary("gdbtable", 20_000),
        "gis_data/roads.gdb/a00000001.gdbtablx": _binary("gdbtablx", 5_000),
        "gis_data/roads.gdb/gdb": _binary("gdb", 100),
        "reels/reel_0001/frame_000001.jpg": _binary("reel", 10_000),
    }
    for relative in DROPPED_FILES:
        files[relative] = _binary(relative, 500)
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    return folder
