"""Starting `beaconmail up` in a folder on free loopback ports, and reading what it prints."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ports import reserve_ports

from .flow import Deployment
from .processes import (
    BEACONMAIL,
    ProcessTracker,
    Started,
    environment_without_beaconmail,
    wait_for,
)

PORT_VARIABLES = ("SMTP", "SUBMISSION", "SUBMISSIONS", "POP3", "POP3S", "IMAP", "IMAPS", "ADMIN", "HTTP", "HTTPS")
READY_TIMEOUT = 30.0


@dataclass
class RunningUp:
    started: Started
    folder: Path
    ports: dict[str, int]  # by the PORT_VARIABLES names
    ready_after: float  # seconds from starting the command to the printed endpoints

    def banner_value(self, label: str) -> str:
        found = re.search(rf"^  {re.escape(label)}:\s+(.*)$", self.started.output(), re.MULTILINE)
        assert found, f"no {label!r} in the banner:\n{self.started.describe()}"
        return found.group(1).strip()

    def child_pids(self) -> dict[str, int]:
        """The latest pid of each service, from the supervisor's started/restarted lines."""
        pattern = r"^beaconmail up: (\w+) (?:started|restarted) \(pid (\d+)\)$"
        found = re.findall(pattern, self.started.errors(), re.MULTILINE)
        return {service: int(pid) for service, pid in found}

    def deployment(self) -> Deployment:
        data = self.folder / "data"
        return Deployment(
            admin_url=f"http://127.0.0.1:{self.ports['ADMIN']}",
            database_url=f"sqlite:///{data / 'beaconmail.db'}",
            admin_address=self.banner_value("Admin address"),
            submission_port=self.ports["SUBMISSION"],
            mx_port=self.ports["SMTP"],
            pop3_port=self.ports["POP3"],
            mail_root=data / "mail",
            data_dir=data,
            ca_file=data / "tls" / "cert.pem",
        )


def start_up(
    processes: ProcessTracker,
    folder: Path,
    *arguments: str,
    stdin: bytes | None = None,
    relay_port: int | None = None,
    name: str = "up",
    variables: dict[str, str] | None = None,
) -> RunningUp:
    """Run `beaconmail up` in `folder` (with the BEACONMAIL_* `variables` set) and wait for its endpoints banner."""
    folder.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(PORT_VARIABLES, reserve_ports(len(PORT_VARIABLES)), strict=True))
    # HOME too: gunicorn puts a control socket there, which parallel tests must not share.
    settings = {f"BEACONMAIL_{variable}_PORT": str(port) for variable, port in ports.items()} | {"HOME": str(folder)}
    if relay_port is not None:
        settings["BEACONMAIL_RELAY_HOST"] = f"127.0.0.1:{relay_port}"
    settings |= variables or {}
    began = time.monotonic()
    started = processes.start(
        name, [BEACONMAIL, "up", *arguments], env=environment_without_beaconmail(**settings), cwd=folder, stdin=stdin
    )

    def is_ready() -> bool:
        assert started.process.poll() is None, f"beaconmail up exited early:\n{started.describe()}"
        return "Press Ctrl-C to stop." in started.output()

    wait_for(is_ready, READY_TIMEOUT, "the endpoints of beaconmail up", interval=0.01)
    return RunningUp(started, folder, ports, time.monotonic() - began)
