"""Packs built to harm the filer (links, folders, bombs, lying members) are refused before the archive."""

from __future__ import annotations

import tarfile

import pytest

from artifact_contract import (
    RefusalCode,
)
from tests.support.filing import (
    refused_with_tampered_packs,
)
from tests.support.staged import regular


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda ms: [regular("logs/../../escape.txt", b"x"), *ms], RefusalCode.MEMBER_UNSAFE),
        (lambda ms: [_symlink("logs/link.txt", "/etc/passwd"), *ms], RefusalCode.MEMBER_FORBIDDEN),
        (lambda ms: [_dir("logs/folder"), *ms], RefusalCode.MEMBER_FORBIDDEN),
        (lambda ms: [*ms, regular("logs/extra.txt", b"not listed")], RefusalCode.MEMBER_UNLISTED),
        (lambda ms: [*ms, ms[0]], RefusalCode.MEMBER_DUPLICATE),
        (lambda ms: ms[1:], RefusalCode.MEMBER_MISSING),
    ],
    ids=["dotdot", "symlink", "directory", "unlisted", "duplicate", "missing"],
)
def test_hostile_pack_members_are_refused(s3, filer, steps, tamper, code):
    refused_with_tampered_packs(s3, filer, steps, tamper, code)


def _symlink(name: str, target: str):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, None


def _dir(name: str):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info, None


def test_decompression_bomb_is_refused(s3, filer, steps):
    """A member whose header claims far more than the manifest declares, zeros compressing to little."""

    def bomb(members):
        info, data = members[0]
        return [regular(info.name, bytes(64 * 1024 * 1024)), *members[1:]]

    refused_with_tampered_packs(s3, filer, steps, bomb, RefusalCode.PACK_BOMB)


def test_pax_header_bomb_is_refused(s3, filer, steps):
    """A giant PAX header is caught by the cap on decompressed bytes, before tarfile holds it."""

    def bomb(members):
        info, data = members[0]
        info.pax_headers = {"comment": "z" * (8 * 1024 * 1024)}
        return [(info, data), *members[1:]]

    refused_with_tampered_packs(s3, filer, steps, bomb, RefusalCode.PACK_BOMB)
