"""The filer's hard bounds, each a setting: extended tar headers, manifest pieces, error text."""

from __future__ import annotations

import copy
import gzip
import io
import json
import logging
import tarfile

import pytest

from artifact_contract import FileEntry, Manifest, ManifestInvalidError, Piece, RefusalCode, pack_piece_id
from artifact_filer import MemberRefusedError, PackBombError
from artifact_filer.config import FilerConfig, filer_environment
from artifact_filer.exceptions import DEFAULT_MAX_ERROR_CHARS, bounded_text
from artifact_filer.log_bounds import BoundedText, bound_log
from artifact_filer.verify import read_pack
from tests.support.staged import StagedRun, regular, sha

DATA = b"frame 00001 ok\n" * 10
LIMIT = 4096


def _pack(members: list, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _read(body: bytes, names: list[str]) -> list:
    piece = Piece(pack_piece_id(sha(body)), "pack", len(body), sha(body))
    entries = [FileEntry("logs", n.split("/", 1)[1], len(DATA), sha(DATA), piece.id) for n in names]
    return list(read_pack(io.BytesIO(body), piece, entries, limit=64 << 20, chunk=4096, keep=False,
                          header_limit=LIMIT))


def test_a_long_name_within_the_bound_is_read() -> None:
    name = "logs/" + "n" * 300 + ".log"
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        assert [e.path for e, _ in _read(_pack([regular(name, DATA)], fmt), [name])] == [name[5:]]


def test_a_pax_record_beyond_the_bound_is_refused_before_it_is_read() -> None:
    info, data = regular("logs/a.log", DATA)
    info.pax_headers = {"comment": "x" * (LIMIT * 4)}
    with pytest.raises(PackBombError, match=f"exceed {LIMIT} bytes"):
        _read(_pack([(info, data)]), ["logs/a.log"])


def test_a_gnu_long_name_beyond_the_bound_is_refused() -> None:
    name = "logs/" + "n" * (LIMIT * 2) + ".log"
    with pytest.raises(PackBombError, match="extended tar headers"):
        _read(_pack([regular(name, DATA)], tarfile.GNU_FORMAT), [name])


def test_many_small_extended_headers_for_one_member_count_together() -> None:
    """A chain of headers each within the bound is still bounded as a whole (and in recursion)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        pax = tarfile.TarInfo("././@PaxHeader")
        pax.type = tarfile.XHDTYPE
        record = b"20 comment=xxxxxxxx\n"
        pax.size = len(record)
        for _ in range(LIMIT // 1024 + 2):
            tar.fileobj.write(pax.tobuf(tarfile.USTAR_FORMAT))
            tar.fileobj.write(record + bytes(512 - len(record)))
            tar.offset += 1024
        info, data = regular("logs/a.log", DATA)
        tar.addfile(info, io.BytesIO(data))
    body = gzip.compress(raw.getvalue(), mtime=0)
    with pytest.raises(PackBombError):
        _read(body, ["logs/a.log"])


def test_each_member_has_its_own_bound() -> None:
    names = [f"logs/{i:03d}" + "n" * 700 + ".log" for i in range(8)]  # 8 x 700 bytes > LIMIT in all
    assert len(_read(_pack([regular(n, DATA) for n in names]), names)) == 8


def _sparse_old_gnu() -> bytes:
    info, data = regular("logs/a.log", DATA)
    info.type = tarfile.GNUTYPE_SPARSE
    return _pack([(info, data)], tarfile.GNU_FORMAT)


@pytest.mark.parametrize("headers", [
    {"GNU.sparse.map": "0,10", "GNU.sparse.size": "150"},
    {"GNU.sparse.size": "150", "GNU.sparse.offset": "0", "GNU.sparse.numbytes": "10"},
    {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": "150"},
], ids=["pax-0.1", "pax-0.0", "pax-1.0"])
def test_pax_sparse_files_are_refused_before_their_map_is_read(headers: dict[str, str]) -> None:
    info, data = regular("logs/a.log", DATA)
    info.pax_headers = headers
    with pytest.raises(MemberRefusedError, match="sparse") as raised:
        _read(_pack([(info, data)]), ["logs/a.log"])
    assert raised.value.code == RefusalCode.MEMBER_FORBIDDEN


def test_an_old_gnu_sparse_file_is_refused() -> None:
    with pytest.raises(MemberRefusedError, match="sparse"):
        _read(_sparse_old_gnu(), ["logs/a.log"])


# -- manifest pieces ----------------------------------------------------------------------------------


def test_a_manifest_with_more_pieces_than_the_bound_is_refused_while_read() -> None:
    run = StagedRun("RMI25320", {("logs", "a.log"): DATA, ("gis_data", "b.gpkg"): bytes(100_000)})
    manifest = run.build().to_dict()
    extra = copy.deepcopy(manifest["pieces"][0])
    manifest["pieces"] = manifest["pieces"] + [extra] * 50
    raw = json.dumps(manifest).encode()
    with pytest.raises(ManifestInvalidError, match="more than 10 pieces"):
        Manifest.from_json(raw, max_pieces=10)
    # Under the bound the same manifest gets as far as its real problem.
    with pytest.raises(ManifestInvalidError, match="listed twice"):
        Manifest.from_json(raw, max_pieces=100)


# -- settings and error text --------------------------------------------------------------------------


def test_the_bounds_are_settings_read_from_the_environment() -> None:
    config = FilerConfig.from_environ({
        "FILER_MAX_EXTENDED_HEADER_BYTES": "8192",
        "FILER_MAX_MANIFEST_PIECES": "500",
        "FILER_MAX_ERROR_CHARS": "200",
    })
    assert (config.max_extended_header_bytes, config.max_manifest_pieces, config.max_error_chars) == (
        8192, 500, 200)
    assert FilerConfig().max_error_chars == DEFAULT_MAX_ERROR_CHARS
    env = filer_environment(staging_bucket="s", archive_bucket="a", max_manifest_pieces=7)
    assert env["FILER_MAX_MANIFEST_PIECES"] == "7"


def test_error_text_is_cut_saying_how_long_it_was() -> None:
    assert bounded_text("short", 10) == "short"
    cut = bounded_text("x" * 5000, 100)
    assert len(cut) == 100
    assert cut.endswith("xx... (5000 characters, cut)")
    assert bounded_text(cut, 100) == cut


def test_every_log_line_is_bounded() -> None:
    logger = logging.getLogger("artifact_filer.test_bounds")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    bound_log(logger, 100)
    bound_log(logger, 100)
    try:
        assert sum(isinstance(f, BoundedText) for f in logger.filters) == 1
        logger.warning("refused %s", "p" * 10_000, extra={"reason": "r" * 10_000, "count": 3})
        try:
            raise ValueError("v" * 10_000)
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = records
    assert len(first.getMessage()) < 150
    assert len(first.reason) < 150
    assert first.count == 3
    formatted = logging.Formatter().format(second)
    assert len(formatted) < 300
    assert "characters, cut" in formatted


def test_a_refused_receipt_carries_at_most_the_configured_error_text(s3) -> None:
    from artifact_contract import Receipt, receipt_key
    from artifact_filer import Filer, FilerRefusedError
    from tests.support.staged import ARCHIVE, STAGING

    run = StagedRun("RMI25320", {("logs", "a.log"): DATA})
    run.build()
    huge = json.dumps({**run.manifest.to_dict(), "project_key": "K" * 500_000}).encode()
    filer = Filer(s3, staging_bucket=STAGING, archive_bucket=ARCHIVE, config=FilerConfig(max_error_chars=120))
    with pytest.raises(FilerRefusedError):
        filer.file(run.upload(s3, manifest=huge))
    raw = s3.get_object(Bucket=STAGING, Key=receipt_key(run.project_key, run.run_id))["Body"].read()
    reason = Receipt.from_json(raw).reason
    assert len(reason) == 120
    assert reason.endswith("characters, cut)")
