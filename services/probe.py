"""Is a service answering? Used by `beaconmail up` to know when everything is ready, and as
`python -m services.probe SERVICE`, the container healthcheck in docker-compose.yml.

Only sockets and HTTP: a probe never opens the database itself (the admin's /healthz does),
and imports nothing but the settings, so a healthcheck every few seconds costs little.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from shared.config import PREFIX, ConfigError, Settings, load_settings

SERVICES = ("smtp", "pop3", "imap", "admin", "web")
PROBE_TIMEOUT = 3.0


@dataclass(frozen=True)
class Listener:
    service: str
    label: str
    setting: str  # the Settings field holding its port
    passed_as: str | None = None  # its LISTEN_FDNAMES name, for a service that takes its socket passed

    @property
    def variable(self) -> str:
        return PREFIX + self.setting.upper()

    def port(self, settings: Settings) -> int:
        return int(getattr(settings, self.setting))


LISTENERS = (
    Listener("smtp", "SMTP (MX)", "smtp_port", "mx"),
    Listener("smtp", "Submission (STARTTLS)", "submission_port", "submission"),
    Listener("smtp", "Submissions (TLS)", "submissions_port", "submissions"),
    Listener("pop3", "POP3 (STLS)", "pop3_port", "pop3"),
    Listener("pop3", "POP3S (TLS)", "pop3s_port", "pop3s"),
    Listener("imap", "IMAP (STARTTLS)", "imap_port"),
    Listener("imap", "IMAPS (TLS)", "imaps_port"),
    Listener("admin", "Admin portal", "admin_port"),
    Listener("web", "Portal (HTTPS)", "https_port"),
    Listener("web", "HTTP (redirect, ACME)", "http_port"),
)


def probe_host(bind: str) -> str:
    """Where to connect to reach a listener bound to `bind` (a wildcard bind answers on loopback)."""
    address = ipaddress.ip_address(bind)
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return bind


def is_accepting(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _greeting(host: str, port: int, expected: bytes, farewell: bytes = b"QUIT\r\n") -> str | None:
    with socket.create_connection((host, port), timeout=PROBE_TIMEOUT) as connection:
        line = connection.makefile("rb").readline(512)
        if not line.startswith(expected):
            return f"port {port} greeted with {line[:60]!r}, expected {expected.decode()}"
        connection.sendall(farewell)
    return None


def _admin_health(host: str, port: int) -> str | None:
    client = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT)
    try:
        client.request("GET", "/healthz")
        status = client.getresponse().status
    finally:
        client.close()
    return None if status == 200 else f"GET /healthz on port {port} answered {status}"


def _web_health(host: str, port: int) -> str | None:
    """/healthz over HTTPS; the certificate is not checked here (its name is the public one, and
    its state is in the answer)."""
    client = http.client.HTTPSConnection(host, port, timeout=PROBE_TIMEOUT, context=ssl._create_unverified_context())
    try:
        client.request("GET", "/healthz")
        status = client.getresponse().status
    finally:
        client.close()
    return None if status == 200 else f"GET https /healthz on port {port} answered {status}"


def check_service(settings: Settings, service: str) -> str | None:
    """None when every listener of `service` answers as it should, else one line saying what is wrong."""
    host = probe_host(settings.bind)
    try:
        if service == "smtp":
            problem = _greeting(host, settings.smtp_port, b"220")
        elif service == "pop3":
            problem = _greeting(host, settings.pop3_port, b"+OK")
        elif service == "imap":
            problem = _greeting(host, settings.imap_port, b"* OK", b"probe LOGOUT\r\n")
        elif service == "web":
            problem = _web_health(host, settings.https_port)
        else:
            problem = _admin_health(host, settings.admin_port)
    except (OSError, http.client.HTTPException) as exc:
        return f"{service}: {exc}"
    if problem:
        return f"{service}: {problem}"
    silent = [
        f"{listener.label} port {listener.port(settings)}"
        for listener in LISTENERS
        if listener.service == service and not is_accepting(host, listener.port(settings))
    ]
    return f"{service}: not accepting connections: {', '.join(silent)}" if silent else None


def main(argv: Sequence[str]) -> int:
    """Exit 0 when the service is healthy, else 1 (2 for bad usage or configuration) with one line on stderr."""
    if len(argv) != 1 or argv[0] not in SERVICES:
        print(f"usage: python -m services.probe {{{'|'.join(SERVICES)}}}", file=sys.stderr)
        return 2
    try:
        problem = check_service(load_settings(), argv[0])
    except ConfigError as exc:
        print(f"{argv[0]}: {exc}", file=sys.stderr)
        return 2
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"{argv[0]}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
