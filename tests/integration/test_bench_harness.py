"""The benchmark harness still drives real Beacon services (a smoke check; no timing is asserted:
benchmarks are not tests, but a harness that broke silently would measure nothing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import beacon, clients, common, pop3_load, smtp_load


@pytest.fixture(autouse=True)
def bench_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))  # the harness caches its password hash there


def test_the_smtp_benchmark_gets_every_message_into_new(tmp_path: Path) -> None:
    with smtp_load.beacon_target(tmp_path, "sqlite") as target:
        smtp_load.run_once(target, "asyncio", 20, 4)
        assert smtp_load.count_new(target.maildirs) == 20


def test_the_pop3_benchmark_downloads_every_message(tmp_path: Path) -> None:
    with pop3_load.beacon_target(tmp_path, "sqlite", users=2, messages=5) as target:
        downloads = [asyncio.run(clients.pop3_download(target.port, beacon.address(n), beacon.PASSWORD)) for n in range(2)]
    assert [download.messages for download in downloads] == [5, 5]
    assert all(download.octets >= 5 * common.MESSAGE_SIZE for download in downloads)
