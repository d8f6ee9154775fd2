"""What each process of the suite is called in ps, top and /proc/PID/cmdline.

Every process used to show the command line that started it (`beaconmail up` for the whole
suite); now each names its role: `beaconmail: up`, `beaconmail: smtp`, `beaconmail: smtp worker 2`,
`beaconmail: admin worker`.
"""
from __future__ import annotations

from setproctitle import getproctitle, setproctitle

TITLE_PREFIX = "beaconmail: "


def name_process(role: str) -> None:
    setproctitle(TITLE_PREFIX + role)


def name_worker(number: int) -> None:
    """In a forked worker: its parent's name with its number (counted from 1)."""
    setproctitle(f"{getproctitle()} worker {number}")
