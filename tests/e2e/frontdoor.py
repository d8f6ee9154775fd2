"""`beaconmail up` with its front door, and real clients reading the certificate each TLS port serves."""
from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from tests.acme_server import Pebble, loopback_address

from .processes import BEACONMAIL, ProcessTracker, environment_without_beaconmail, wait_for
from .upmode import RunningUp, start_up

TIMEOUT = 10.0
# The promise: a new certificate is served within a minute on every port.
RELOAD_DEADLINE = 60.0


@dataclass(frozen=True)
class TlsPort:
    label: str  # as `up` prints it
    variable: str  # its PORT_VARIABLES name
    kind: str  # how a client gets to TLS on it


TLS_PORTS = (
    TlsPort("SMTP (MX)", "SMTP", "smtp"),
    TlsPort("Submission (STARTTLS)", "SUBMISSION", "smtp"),
    TlsPort("Submissions (TLS)", "SUBMISSIONS", "implicit"),
    TlsPort("POP3 (STLS)", "POP3", "pop3"),
    TlsPort("POP3S (TLS)", "POP3S", "implicit"),
    TlsPort("IMAP (STARTTLS)", "IMAP", "imap"),
    TlsPort("IMAPS (TLS)", "IMAPS", "implicit"),
    TlsPort("Portal (HTTPS)", "HTTPS", "implicit"),
)


def served_certificate(address: str, port: int, kind: str, context: ssl.SSLContext, name: str) -> x509.Certificate:
    """The certificate a client of `kind` is shown on `port`, with `context` checking it for `name`."""
    if kind == "smtp":
        with smtplib.SMTP(address, port, timeout=TIMEOUT) as smtp:
            smtp.starttls(context=context)
            return _peer(smtp.sock)
    if kind == "pop3":
        pop = poplib.POP3(address, port, timeout=TIMEOUT)
        try:
            pop.stls(context=context)
            return _peer(pop.sock)
        finally:
            pop.close()
    if kind == "imap":
        imap = imaplib.IMAP4(address, port, timeout=TIMEOUT)
        try:
            imap.starttls(ssl_context=context)
            return _peer(imap.sock)
        finally:
            # Hang up without LOGOUT (which the `with` form sends): after a refused handshake,
            # while Dovecot still serves the previous certificate, the socket is gone and LOGOUT
            # raises IMAP4.abort, which is no OSError, so the caller took it for a failure.
            imap.file.close()
            imap.sock.close()
    with socket.create_connection((address, port), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            return _peer(tls)


def _peer(sock: object) -> x509.Certificate:
    assert isinstance(sock, ssl.SSLSocket), sock
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def trusting(root: Path) -> ssl.SSLContext:
    """A client context that trusts `root` only. smtplib, poplib and imaplib would check the
    certificate against the address they connected to (loopback): the names are compared by
    the tests themselves, the chain is verified here."""
    context = ssl.create_default_context(cafile=str(root))
    context.check_hostname = False
    return context


@dataclass
class FrontDoor:
    """A running `up` on loopback address `address`, its names pointed there in pebble's DNS."""

    running: RunningUp
    address: str
    hostname: str
    environment: dict[str, str]

    @property
    def data(self) -> Path:
        return self.running.folder / "data"

    def port(self, variable: str) -> int:
        return self.running.ports[variable]

    def tls_ports(self) -> list[TlsPort]:
        shown = self.running.started.output()
        return [port for port in TLS_PORTS if f"  {port.label}:" in shown]

    def file_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.data / "tls" / "cert.pem").read_bytes())

    def beaconmail(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """A provisioning command on the same data folder and database."""
        return subprocess.run(
            [BEACONMAIL, *arguments], env=self.environment, cwd=self.running.folder, capture_output=True, text=True,
            timeout=60, check=True,
        )

    def wait_until_every_port_serves(self, serial: int, root: Path) -> float:
        """Seconds until every TLS port shows the certificate with `serial`, trusted through `root`."""
        context = trusting(root)

        def serves(port: TlsPort) -> bool:
            try:
                shown = served_certificate(self.address, self.port(port.variable), port.kind, context, self.hostname)
            except (ssl.SSLError, OSError):
                return False  # still the previous (self-signed) one, which the root does not vouch for
            return shown.serial_number == serial

        return max(
            wait_for(lambda port=port: serves(port), RELOAD_DEADLINE, f"{port.label} to serve serial {serial:x}",
                     interval=0.5)  # type: ignore[misc]
            for port in self.tls_ports()
        )


def start_front_door(
    processes: ProcessTracker, folder: Path, pebble: Pebble | None, variables: dict[str, str], hostname: str
) -> FrontDoor:
    """`up` bound to an address of its own; with `pebble`, obtaining its certificate there."""
    address = loopback_address()
    variables = {"BEACONMAIL_BIND": address, "BEACONMAIL_HOSTNAME": hostname, **variables}
    if pebble is not None:
        pebble.point([hostname, f"autoconfig.{hostname}", f"autodiscover.{hostname}"], address)
        variables |= {
            "BEACONMAIL_HTTP_PORT": str(pebble.http_port),
            "BEACONMAIL_ACME_DIRECTORY": pebble.directory,
            "BEACONMAIL_ACME_CA_BUNDLE": str(pebble.ca_bundle),
            "BEACONMAIL_ACME_EMAIL": f"postmaster@{hostname}",
            "BEACONMAIL_ACME_CHECK_INTERVAL": "1",
        }
    running = start_up(processes, folder, variables=variables)
    if pebble is not None:
        running.ports["HTTP"] = pebble.http_port
    environment = environment_without_beaconmail(**variables, BEACONMAIL_DATA_DIR=str(folder / "data"))
    return FrontDoor(running, address, hostname, environment)


def wait_for_certificate(door: FrontDoor, issued: object, what: str, timeout: float = 60.0) -> x509.Certificate:
    """The certificate file once `issued(certificate)` holds."""
    found: list[x509.Certificate] = []

    def check() -> bool:
        try:
            certificate = door.file_certificate()
        except (OSError, ValueError):
            return False
        if issued(certificate):  # type: ignore[operator]
            found.append(certificate)
            return True
        return False

    wait_for(check, timeout, f"{what}\n{door.running.started.describe()}", interval=0.2)
    return found[-1]


def dns_names(certificate: x509.Certificate) -> list[str]:
    extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return sorted(extension.value.get_values_for_type(x509.DNSName))


def is_from(pebble: Pebble) -> object:
    intermediate = pebble.intermediate().subject

    def check(certificate: x509.Certificate) -> bool:
        return certificate.issuer == intermediate

    return check
