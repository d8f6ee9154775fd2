"""The malloc setting of the smtp and pop3 processes: one mallopt call on glibc, nothing elsewhere."""
from __future__ import annotations

import ctypes
import platform

import pytest

from services import launch


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append((option, value))
        return 1


@pytest.mark.parametrize(("libc", "expected"), [
    (("glibc", "2.36"), [(launch.M_MMAP_THRESHOLD, launch.MMAP_THRESHOLD)]),
    (("", ""), []),  # musl, macOS: no such option
])
def test_mallopt_is_called_on_glibc_only(monkeypatch: pytest.MonkeyPatch, libc: tuple[str, str],
                                         expected: list[tuple[int, int]]) -> None:
    fake = FakeLibc()
    monkeypatch.setattr(platform, "libc_ver", lambda: libc)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: fake)
    launch.return_big_blocks_to_the_system()
    assert fake.calls == expected


def test_the_real_call_succeeds_here() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    launch.return_big_blocks_to_the_system()
    assert ctypes.CDLL(None).mallopt(launch.M_MMAP_THRESHOLD, launch.MMAP_THRESHOLD) == 1
