"""The ACME issuer without a CA to talk to: failures keep the served pair, are recorded for
/healthz and /metrics and retried after doubling pauses; one issuer works at a time."""
from __future__ import annotations

import dataclasses
import fcntl
import json
from pathlib import Path

from conftest import base_settings

from shared.config import Settings
from shared.runtime.acme import MAX_RETRY_DELAY, AcmeIssuer, acme_folder, certificate_status
from shared.runtime.tls import managed_pair

NAMES = ["mx.test.example", "autoconfig.corp.example", "autodiscover.corp.example"]


def unreachable_ca(tmp_path: Path) -> Settings:
    # Port 9 (discard) on loopback: nothing answers, the connection is refused at once.
    return dataclasses.replace(
        base_settings(tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'unused.db'}"),
        acme_directory="https://127.0.0.1:9/directory",
        acme_check_interval=10.0,
    )


def test_a_failure_keeps_the_pair_and_retries_later_each_time(tmp_path: Path) -> None:
    settings = unreachable_ca(tmp_path)
    issuer = AcmeIssuer(settings)
    cert, key = managed_pair(settings)
    served = (cert.read_bytes(), key.read_bytes())  # the self-signed pair, until one is obtained
    delays = [issuer.check(NAMES) for _ in range(4)]
    assert delays == [10.0, 20.0, 40.0, 80.0]
    assert (cert.read_bytes(), key.read_bytes()) == served
    status = certificate_status(settings)
    assert status.last_error and "127.0.0.1" in status.last_error
    assert (status.consecutive_failures, status.failures_total) == (4, 4)
    assert status.issuer == f"CN={settings.hostname}" and status.expires_at is not None
    assert (acme_folder(settings) / "status.json").stat().st_mode & 0o077 == 0


def test_the_retry_pause_stops_growing_at_an_hour(tmp_path: Path) -> None:
    settings = unreachable_ca(tmp_path)
    issuer = AcmeIssuer(settings)
    record = {"last_error": "earlier", "consecutive_failures": 20, "failures_total": 20}
    (acme_folder(settings) / "status.json").write_text(json.dumps(record))
    assert issuer.check(NAMES) == MAX_RETRY_DELAY
    assert certificate_status(settings).failures_total == 21


def test_while_another_process_issues_this_one_waits(tmp_path: Path) -> None:
    settings = unreachable_ca(tmp_path)
    issuer = AcmeIssuer(settings)
    with open(acme_folder(settings) / "lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a replica at work would
        assert issuer.check(NAMES) == settings.acme_check_interval
    assert certificate_status(settings).failures_total == 0  # it never asked the CA
    assert issuer.check(NAMES) == settings.acme_check_interval  # its own turn: it tried, and failed
    assert certificate_status(settings).failures_total == 1
