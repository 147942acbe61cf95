"""The command's process fixes glibc's mmap threshold, so streamed buffers do not stay resident."""

from __future__ import annotations

import ctypes
import sys

import pytest

from artifact_backup import cli


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append((option, value))
        return 1


def test_on_linux_the_threshold_is_fixed_at_glibcs_default(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    cli._steady_heap()
    assert libc.calls == [(-3, 128 * 1024)]  # M_MMAP_THRESHOLD


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_elsewhere_the_allocator_is_left_alone(monkeypatch, platform):
    libc = FakeLibc()
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    cli._steady_heap()
    assert libc.calls == []


def test_a_c_library_without_mallopt_is_no_error(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: object())
    cli._steady_heap()

