"""`beaconmail up` from an empty folder: the whole flow, readiness, the first admin, crash
restarts, Ctrl-C and SIGTERM, and refusing a port that is taken."""
from __future__ import annotations

import os
import poplib
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .flow import run_end_to_end
from .mailclients import Account, curl_list
from .processes import (
    BEACONMAIL,
    ProcessTracker,
    environment_without_beaconmail,
    wait_for,
)
from .smarthost import Collector
from .upmode import start_up

READY_LIMIT = 3.0


def ready_limit() -> float:
    """The promise is 3 s on an otherwise idle machine. On a busy one (parallel test workers,
    other jobs) every wall-clock time stretches by about the run queue per CPU."""
    busy = os.getloadavg()[0] / (os.cpu_count() or 1)
    return READY_LIMIT * max(1.0, busy)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_end_to_end_through_beaconmail_up(
    mail_clients: None, smarthost: tuple[Collector, int], processes: ProcessTracker, tmp_path: Path
) -> None:
    collector, relay_port = smarthost
    running = start_up(processes, tmp_path / "empty", relay_port=relay_port)
    run_end_to_end(running.deployment(), collector, tmp_path)
    assert running.started.stop() == 0
    assert "beaconmail up: stopped" in running.started.errors()


def test_up_from_an_empty_folder_is_ready_quickly_and_shows_the_admin_once(
    mail_clients: None, processes: ProcessTracker, tmp_path: Path
) -> None:
    folder = tmp_path / "empty"
    first = start_up(processes, folder)
    limit = ready_limit()
    assert first.ready_after < limit, f"ready after {first.ready_after:.2f} s (limit {limit:.1f} s)"
    data = folder / "data"
    assert (data / "beaconmail.db").is_file() and (data / "mail").is_dir() and (data / "tls" / "key.pem").is_file()
    assert first.banner_value("Admin portal URL") == f"http://127.0.0.1:{first.ports['ADMIN']}/"
    assert first.banner_value("Submission (STARTTLS)") == f"127.0.0.1:{first.ports['SUBMISSION']}"
    assert first.banner_value("IMAPS (TLS)") == f"127.0.0.1:{first.ports['IMAPS']}"  # Dovecot is installed here
    password = first.banner_value("Admin password").split()[0]
    admin = Account(first.banner_value("Admin address"), password)
    assert curl_list(first.ports["POP3"], admin, data / "tls" / "cert.pem") == []  # the printed password works
    assert first.started.stop() == 0

    again = start_up(processes, folder, name="up-again")
    assert again.banner_value("Admin address") == admin.address
    assert password not in again.started.output() and "unchanged" in again.banner_value("Admin password")
    assert again.started.stop() == 0


def test_up_restarts_a_crashed_child_and_ctrl_c_stops_everything(
    mail_clients: None, processes: ProcessTracker, tmp_path: Path
) -> None:
    boss = Account("boss@corp.test", "Boss-given-on-stdin-9")
    running = start_up(processes, tmp_path / "empty", "--admin", boss.address, stdin=f"{boss.password}\n".encode())
    assert running.banner_value("Admin address") == boss.address
    assert boss.password not in running.started.output()
    ca_file = running.folder / "data" / "tls" / "cert.pem"
    assert curl_list(running.ports["POP3"], boss, ca_file) == []

    crashed = running.child_pids()["pop3"]
    os.kill(crashed, signal.SIGKILL)
    wait_for(lambda: "pop3 stopped unexpectedly (killed by SIGKILL); restarting in" in running.started.errors(), 15,
             "up to notice the crash")
    # No pop3 runs now, but `up` holds its port: a client connecting meanwhile is not refused,
    # it waits in the queue and the restarted pop3 greets it.
    waiting = poplib.POP3("127.0.0.1", running.ports["POP3"], timeout=15)
    try:
        assert waiting.getwelcome().startswith(b"+OK")
        assert running.child_pids()["pop3"] != crashed
    finally:
        waiting.close()
    probe_settings = environment_without_beaconmail(
        BEACONMAIL_POP3_PORT=str(running.ports["POP3"]), BEACONMAIL_POP3S_PORT=str(running.ports["POP3S"]),
        BEACONMAIL_DATA_DIR=str(running.folder / "data"),
    )
    probe = [sys.executable, "-m", "services.probe", "pop3"]

    def answers() -> bool:
        return subprocess.run(probe, check=False, capture_output=True, env=probe_settings).returncode == 0

    wait_for(answers, 15, "the restarted pop3 to answer")
    assert curl_list(running.ports["POP3"], boss, ca_file) == []

    children = list(running.child_pids().values())
    os.killpg(running.started.process.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
    assert running.started.process.wait(20) == 0
    assert not [pid for pid in children if is_running(pid)]
    for port in running.ports.values():
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))  # fails while anything still listens there


def test_up_refuses_a_port_that_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [BEACONMAIL, "up"], cwd=tmp_path, check=False, capture_output=True, timeout=60,
            env=environment_without_beaconmail(BEACONMAIL_SMTP_PORT=str(port)),
        )
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "BEACONMAIL_SMTP_PORT" in lines[0] and str(port) in lines[0], lines


@pytest.mark.parametrize("address", ["not-an-address", "admin@"])
def test_up_refuses_a_bad_admin_address(tmp_path: Path, address: str) -> None:
    result = subprocess.run(
        [BEACONMAIL, "up", "--admin", address], input=b"pw\n", env=environment_without_beaconmail(),
        cwd=tmp_path, check=False, capture_output=True, timeout=60,
    )
    assert result.returncode != 0 and len(result.stderr.decode().splitlines()) == 1
    assert not (tmp_path / "data").exists()
