"""Every process of `beaconmail up` names its role in /proc/PID/cmdline (what ps and top show),
rather than all of them showing the `beaconmail up` that started them."""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from .processes import ProcessTracker
from .upmode import start_up

NAMES_TIMEOUT = 15.0
WORKERS = 2


def title(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def titles_below(pid: int) -> Counter[str]:
    """The titles of a process's children, as a multiset (workers of one kind share a title)."""
    return Counter(title(child) for child in children(pid))


def test_each_process_of_up_names_its_role(processes: ProcessTracker, tmp_path: Path) -> None:
    variables = {"BEACONMAIL_SMTP_PROCESSES": str(WORKERS), "BEACONMAIL_POP3_PROCESSES": str(WORKERS)}
    running = start_up(processes, tmp_path / "empty", variables=variables)
    up = running.started.process.pid
    services = running.child_pids()
    expected = {
        services["smtp"]: Counter(f"beaconmail: smtp worker {n}" for n in range(1, WORKERS + 1)),
        services["pop3"]: Counter(f"beaconmail: pop3 worker {n}" for n in range(1, WORKERS + 1)),
        services["admin"]: Counter(["beaconmail: admin worker"]),  # `up` runs one gunicorn worker
    }
    # The listeners accept before the workers have named themselves: give them time, then compare.
    deadline = time.monotonic() + NAMES_TIMEOUT
    while any(titles_below(pid) != names for pid, names in expected.items()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {pid: titles_below(pid) for pid in expected} == expected
    assert title(up) == "beaconmail: up"
    for service in ("smtp", "pop3", "admin"):
        assert title(services[service]) == f"beaconmail: {service}"
