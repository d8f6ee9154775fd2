"""A real DNS server for tests: Debian's dnsmasq on 127.0.0.1 and an ephemeral port, serving only
the records a test gives it (no upstream, no /etc/hosts). Every name under a zone of those records
that has no record is NXDOMAIN, as an authoritative server answers.

    with DnsServer([Record("example.org", "TXT", "v=spf1 ip4:127.0.0.2 -all")], tmp_path) as dns:
        settings = replace(settings, dns_resolvers=(dns.address,))
"""
from __future__ import annotations

import getpass
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import dns.exception
import dns.message
import dns.query

from tests.conftest import require_programs
from tests.ports import reserve_port

TXT_CHUNK = 255  # one character-string of a TXT record (RFC 1035 §3.3)


@dataclass(frozen=True)
class Record:
    name: str
    type: str  # A, AAAA, TXT, MX ("10 mx.example.org"), CNAME, SRV ("prio weight port target")
    value: str


def _txt(value: str) -> str:
    if '"' in value or "\n" in value:
        raise ValueError(f"TXT value not servable by dnsmasq: {value!r}")
    chunks = [value[i : i + TXT_CHUNK] for i in range(0, len(value), TXT_CHUNK)] or [""]
    return ",".join(f'"{chunk}"' for chunk in chunks)


def _config_lines(records: list[Record]) -> tuple[list[str], list[str]]:
    """dnsmasq options, and lines of a hosts file (the only way to give one name several A records)."""
    options: list[str] = []
    hosts: list[str] = []
    for record in records:
        name = record.name.rstrip(".").lower()
        kind = record.type.upper()
        if kind in ("A", "AAAA"):
            hosts.append(f"{record.value} {name}")
        elif kind == "TXT":
            options.append(f"txt-record={name},{_txt(record.value)}")
        elif kind == "MX":
            preference, target = record.value.split()
            options.append(f"mx-host={name},{target.rstrip('.')},{preference}")
        elif kind == "CNAME":
            options.append(f"cname={name},{record.value.rstrip('.')}")
        elif kind == "SRV":
            priority, weight, port, target = record.value.split()
            options.append(f"srv-host={name},{target.rstrip('.')},{port},{priority},{weight}")
        else:
            raise ValueError(f"record type not served by this test server: {kind}")
    return options, hosts


def _zones(records: list[Record]) -> set[str]:
    """The last two labels of each name: dnsmasq answers NXDOMAIN under them (`local=`)."""
    return {".".join(record.name.rstrip(".").lower().split(".")[-2:]) for record in records}


class DnsServer:
    def __init__(self, records: list[Record], folder: Path, *, ttl: int = 1, zones: tuple[str, ...] = ()) -> None:
        require_programs("dnsmasq", install_hint="apt-get install dnsmasq-base")
        self.records = records
        self.folder = folder
        self.ttl = ttl
        self.zones = {*_zones(records), *zones}
        self.address = ("127.0.0.1", 0)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def setting(self) -> str:
        """The BEACONMAIL_DNS_RESOLVER value that points at this server."""
        return f"{self.address[0]}:{self.address[1]}"

    def __enter__(self) -> DnsServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        options, hosts = _config_lines(self.records)
        hosts_file = self.folder / "dns-hosts"
        hosts_file.write_text("".join(line + "\n" for line in hosts))
        config = self.folder / "dnsmasq.conf"
        config.write_text(
            "".join(line + "\n" for line in [*options, *(f"local=/{zone}/" for zone in sorted(self.zones))])
        )
        for _attempt in range(5):
            port = reserve_port()
            self._process = subprocess.Popen(
                [
                    "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
                    "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={port}",
                    f"--conf-file={config}", f"--addn-hosts={hosts_file}", f"--local-ttl={self.ttl}",
                    "--pid-file=", f"--user={getpass.getuser()}", "--log-facility=-",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self.address = ("127.0.0.1", port)
            if self._answers():
                return self
            self._stop()
        raise RuntimeError("dnsmasq did not start")

    def _answers(self) -> bool:
        probe = dns.message.make_query("probe.invalid", "A")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                dns.query.udp(probe, self.address[0], port=self.address[1], timeout=0.2)
                return True
            except (OSError, dns.exception.Timeout):
                time.sleep(0.02)
        return False

    def _stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop()

