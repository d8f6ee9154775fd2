"""The benchmark harness still drives real Beacon services (a smoke check; no timing is asserted:
benchmarks are not tests, but a harness that broke silently would measure nothing)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from bench import beacon, clients, common, imap_counters, imap_load, pop3_load, smtp_load
from services.imap.server import DovecotMissing, check_installed


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


def test_the_imap_benchmark_logs_in_and_fetches_on_both_sides() -> None:
    # Not under pytest's folder (0700): Dovecot's unprivileged users must reach the files.
    work_dir = Path(tempfile.mkdtemp(prefix="bm-imapbench-"))
    work_dir.chmod(0o755)
    try:
        _log_in_and_fetch_on_both_sides(work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _log_in_and_fetch_on_both_sides(work_dir: Path) -> None:
    with beacon.beacon_instance(work_dir, "sqlite") as instance:
        try:
            check_installed(instance.settings)
        except DovecotMissing as exc:
            pytest.skip(str(exc))
        imap_load.fill_beacon(instance, users=2, messages=5)
        with imap_load.reference_target(instance, users=2) as reference, imap_load.beacon_target(instance) as ours:
            for target in (reference, ours):
                assert imap_load.run_logins(target, logins=4, users=2).count == 4
                fetched = imap_load.run_fetch(target)
                assert fetched.count == 5
                assert fetched.octets >= 5 * common.MESSAGE_SIZE
        # imap_counters returns only once the counters showed the disk after each change.
        series = imap_counters.measure(instance, changes=2)
        assert [len(item.values) for item in series] == [2, 2]
