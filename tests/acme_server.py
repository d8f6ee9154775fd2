"""Let's Encrypt's test CA (Debian's `pebble`) on loopback, with `pebble-challtestsrv` as its DNS.

Pebble checks each HTTP-01 challenge for real: it looks the name up in the mock DNS and asks
http://<that address>:<http_port>/.well-known/acme-challenge/<token>. One pebble serves the
whole test session, so every test gets loopback addresses of its own (127.x.y.z): it points
its names at one of them (`point`) and binds the suite there, its HTTP port being `http_port`.
"""
from __future__ import annotations

import datetime
import ipaddress
import itertools
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.ports import reserve_port, reserve_ports

START_TIMEOUT = 15.0
# Renewed when a third is left: after 20 s.
SHORT_LIVED_SECONDS = 30
# One loopback /24 per test worker process (xdist), so parallel workers never share an address.
_addresses = itertools.count(1)
_worker_net = 16 + random.Random(os.getpid()).randrange(200)


def loopback_address() -> str:
    """An address of 127/8 no other test of this session uses."""
    number = next(_addresses)
    return f"127.{_worker_net}.{number // 250}.{number % 250 + 2}"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{process.args[0]} not listening on {port}: {log.read_text()[-2000:]}")


def write_ca_and_pair(
    folder: Path, names: list[str], ca_name: str = "beaconmail test CA", ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
) -> tuple[Path, Path, Path, tuple[x509.Certificate, ec.EllipticCurvePrivateKey]]:
    """A CA (new, or `ca` again) and a certificate it signed for `names` and 127.0.0.1: the
    files ca.pem, cert.pem and key.pem in `folder`, and the CA to sign another pair with."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if ca is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
        ca_certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        ca = ca_certificate, ca_key
    ca_certificate, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_certificate.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([*alt_names, x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return *paths, ca


class Pebble:
    """pebble and pebble-challtestsrv, started together and stopped together."""

    def __init__(self, folder: Path, validity_seconds: int | None = None) -> None:
        self.folder = folder
        self.validity_seconds = validity_seconds
        self.http_port = reserve_port()
        self.processes: list[subprocess.Popen[bytes]] = []

    @staticmethod
    def installed() -> bool:
        return all(shutil.which(name) for name in ("pebble", "pebble-challtestsrv"))

    def __enter__(self) -> Pebble:
        try:
            return self._start_both()
        except RuntimeError:
            self.__exit__()
            raise

    def _start_both(self) -> Pebble:
        self.folder.mkdir(parents=True, exist_ok=True)
        # pebble's own HTTPS listener: BEACONMAIL_ACME_CA_BUNDLE is this CA.
        self.ca_bundle, cert, key, _ca = write_ca_and_pair(self.folder / "listener", ["localhost"])
        acme_port, management_port, dns_port, dns_management = reserve_ports(4)
        config: dict[str, object] = {
            "listenAddress": f"127.0.0.1:{acme_port}",
            "managementListenAddress": f"127.0.0.1:{management_port}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": self.http_port,
            "tlsPort": reserve_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
        if self.validity_seconds is not None:
            config["certificateValidityPeriod"] = self.validity_seconds
        (self.folder / "pebble.json").write_text(json.dumps({"pebble": config}))
        self._start(
            "challtestsrv", dns_management,
            ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{dns_management}", "-defaultIPv4", "", "-defaultIPv6", ""],
            {},
        )
        self._start(
            "pebble", acme_port,
            ["pebble", "-config", str(self.folder / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}", "-strict=false"],
            # Real challenges (never PEBBLE_VA_ALWAYS_VALID), but no random waits and no nonce chaos.
            {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"},
        )
        self.directory = f"https://127.0.0.1:{acme_port}/dir"
        self.management = f"https://127.0.0.1:{management_port}"
        self.dns_management = f"http://127.0.0.1:{dns_management}"
        return self

    def _start(self, name: str, port: int, argv: list[str], env: dict[str, str]) -> None:
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=os.environ | env, cwd=self.folder)
        self.processes.append(process)
        _wait_for_port(port, process, log)

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def point(self, names: list[str], address: str) -> None:
        """Answer A queries for `names` with `address`."""
        for name in names:
            body = json.dumps({"host": name.rstrip(".") + ".", "addresses": [address]}).encode()
            urllib.request.urlopen(urllib.request.Request(f"{self.dns_management}/add-a", data=body), timeout=5).close()

    def _management_pem(self, path: str) -> bytes:
        context = ssl.create_default_context(cafile=str(self.ca_bundle))
        with urllib.request.urlopen(f"{self.management}{path}", context=context, timeout=5) as answer:
            return bytes(answer.read())

    def root(self) -> x509.Certificate:
        """The root the certificates pebble issues chain up to (new at each pebble start)."""
        return x509.load_pem_x509_certificate(self._management_pem("/roots/0"))

    def intermediate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self._management_pem("/intermediates/0"))

    def root_file(self) -> Path:
        path = self.folder / "root.pem"
        if not path.exists():
            path.write_bytes(self.root().public_bytes(serialization.Encoding.PEM))
        return path
