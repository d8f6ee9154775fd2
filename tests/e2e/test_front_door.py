"""Issue 21's contract with real components: `beaconmail up` obtaining its certificate from pebble
(Let's Encrypt's test CA) by real HTTP-01 challenges on its HTTP port, serving it on every TLS
port, following the hosted domains, renewing a short-lived one without dropping a session,
keeping the last good one when the CA fails (and saying so on /healthz, /metrics and the
dashboard, seen in Chromium over HTTPS), and loading a replaced BEACONMAIL_TLS_CERT file."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import poplib
import re
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect, sync_playwright

from tests.acme_server import SHORT_LIVED_SECONDS, Pebble, write_ca_and_pair

from .frontdoor import (
    FrontDoor,
    dns_names,
    is_from,
    start_front_door,
    trusting,
    wait_for_certificate,
)
from .processes import ProcessTracker, wait_for

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
METRICS_TOKEN = "front-door-scraper"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_variables(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"BEACONMAIL_DATABASE_URL": str(request.getfixturevalue("postgres_url"))}


def unique_host() -> str:
    return f"mx.{uuid.uuid4().hex[:10]}.test"


def curl(door: FrontDoor, root: Path, path: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """curl over HTTPS to the host name (resolved to the suite's address), trusting `root` only."""
    port = door.port("HTTPS")
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--include", "--cacert", str(root),
         "--resolve", f"{door.hostname}:{port}:{door.address}", *extra, f"https://{door.hostname}:{port}{path}"],
        capture_output=True, text=True, timeout=30,
    )


def body_of(answer: subprocess.CompletedProcess[str]) -> str:
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.split("\n\n", 1)[1]  # text mode: CRLF read as LF


def healthz(door: FrontDoor, root: Path) -> dict[str, object]:
    found: dict[str, object] = json.loads(body_of(curl(door, root, "/healthz")))
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_pebble_certificate_on_every_port_follows_the_hosted_domains(
    processes: ProcessTracker, tmp_path: Path, pebble: Pebble, database_variables: dict[str, str]
) -> None:
    hostname = unique_host()
    door = start_front_door(processes, tmp_path / "up", pebble, database_variables, hostname)
    root = pebble.root_file()

    first = wait_for_certificate(door, is_from(pebble), "the first certificate from pebble")
    assert dns_names(first) == sorted([hostname, f"autoconfig.{hostname}", f"autodiscover.{hostname}"])
    door.wait_until_every_port_serves(first.serial_number, root)
    assert {port.variable for port in door.tls_ports()} >= {"SMTP", "SUBMISSION", "SUBMISSIONS", "POP3", "POP3S", "HTTPS"}

    answer = curl(door, root, "/healthz")
    assert re.search(r"^strict-transport-security: max-age=\d+", answer.stdout, re.IGNORECASE | re.MULTILINE)
    certificate = json.loads(body_of(answer))["certificate"]
    assert certificate["last_error"] is None and "Pebble Intermediate" in certificate["issuer"]
    assert certificate["expires_at"].startswith(first.not_valid_after_utc.isoformat()[:16])

    private = [door.data / "tls" / "key.pem", door.data / "secret_key", door.data / "tls" / "acme" / "account.pem"]
    private += list((door.data / "dkim").rglob("*.pem")) if (door.data / "dkim").exists() else []
    if not database_variables:
        private.append(door.data / "beaconmail.db")
    assert {str(path): mode(path) for path in private} == {str(path): 0o600 for path in private}

    domain = f"shop-{uuid.uuid4().hex[:8]}.test"
    pebble.point([f"autoconfig.{domain}", f"autodiscover.{domain}"], door.address)
    door.beaconmail("domain", "add", domain)
    grown = wait_for_certificate(
        door, lambda c: is_from(pebble)(c) and f"autoconfig.{domain}" in dns_names(c), "the names of the added domain"  # type: ignore[operator]
    )
    assert dns_names(grown) == sorted([*dns_names(first), f"autoconfig.{domain}", f"autodiscover.{domain}"])
    door.wait_until_every_port_serves(grown.serial_number, root)
    # Thunderbird's autoconfig over HTTPS at the name it looks up; curl checks the name too.
    name, port = f"autoconfig.{domain}", door.port("HTTPS")
    autoconfig = subprocess.run(
        ["curl", "--silent", "--show-error", "--fail", "--cacert", str(root), "--resolve", f"{name}:{port}:{door.address}",
         f"https://{name}:{port}/mail/config-v1.1.xml"],
        capture_output=True, text=True, timeout=30,
    )
    assert autoconfig.returncode == 0 and f"<domain>{domain}</domain>" in autoconfig.stdout, autoconfig.stderr

    door.beaconmail("domain", "remove", domain)
    shrunk = wait_for_certificate(
        door, lambda c: is_from(pebble)(c) and f"autoconfig.{domain}" not in dns_names(c), "the removed domain's names gone"  # type: ignore[operator]
    )
    assert dns_names(shrunk) == dns_names(first) and shrunk.serial_number != first.serial_number
    door.wait_until_every_port_serves(shrunk.serial_number, root)


def test_plain_http_answers_only_challenges_and_redirects_to_our_names(
    processes: ProcessTracker, tmp_path: Path, pebble: Pebble, database_variables: dict[str, str]
) -> None:
    hostname = unique_host()
    door = start_front_door(processes, tmp_path / "up", pebble, database_variables, hostname)
    http = f"http://{door.address}:{door.port('HTTP')}"

    def head(path: str, host: str) -> tuple[str, str]:
        answer = subprocess.run(
            ["curl", "--silent", "--include", "--path-as-is", "--header", f"Host: {host}", f"{http}{path}"],
            capture_output=True, text=True, timeout=30, check=True,
        )
        status = answer.stdout.split("\n", 1)[0]
        location = re.search(r"^location: (\S+)", answer.stdout, re.IGNORECASE | re.MULTILINE)
        return status, location.group(1) if location else ""

    https = door.port("HTTPS")
    assert head("/domains?page=2", hostname) == ("HTTP/1.1 308 Permanent Redirect", f"https://{hostname}:{https}/domains?page=2")
    assert head("/", f"autoconfig.{hostname}")[1] == f"https://autoconfig.{hostname}:{https}/"
    assert head("/login", "evil.example")[1] == f"https://{hostname}:{https}/login"
    assert head("/.well-known/acme-challenge/" + "A" * 43, hostname)[0] == "HTTP/1.1 404 Not Found"
    assert head("/.well-known/acme-challenge/../../secret_key", hostname)[0] == "HTTP/1.1 404 Not Found"


def test_a_short_lived_certificate_is_renewed_without_dropping_a_session(
    processes: ProcessTracker, tmp_path: Path, short_lived_pebble: Pebble, database_variables: dict[str, str]
) -> None:
    pebble = short_lived_pebble
    door = start_front_door(processes, tmp_path / "up", pebble, database_variables, unique_host())
    root = pebble.root_file()
    first = wait_for_certificate(door, is_from(pebble), "the first certificate from pebble")
    door.wait_until_every_port_serves(first.serial_number, root)

    session = poplib.POP3_SSL(door.address, door.port("POP3S"), context=trusting(root), timeout=10)
    session.user(door.running.banner_value("Admin address"))
    session.pass_(door.running.banner_value("Admin password").split()[0])
    assert session.stat()[0] == 0

    renewed = wait_for_certificate(
        door, lambda c: is_from(pebble)(c) and c.serial_number != first.serial_number,  # type: ignore[operator]
        "the renewal", timeout=SHORT_LIVED_SECONDS * 2,
    )
    lifetime = first.not_valid_after_utc - first.not_valid_before_utc
    assert renewed.not_valid_before_utc >= first.not_valid_before_utc
    assert lifetime.total_seconds() <= SHORT_LIVED_SECONDS + 1
    door.wait_until_every_port_serves(renewed.serial_number, root)

    # The session opened on the old certificate goes on.
    assert session.stat()[0] == 0
    assert session.noop().startswith(b"+OK")
    assert session.quit().startswith(b"+OK")


def spki_hash(certificate: x509.Certificate) -> str:
    der = certificate.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def test_a_failed_renewal_keeps_the_certificate_and_shows_everywhere(
    processes: ProcessTracker, tmp_path: Path, pebble: Pebble, database_variables: dict[str, str]
) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    variables = {"BEACONMAIL_METRICS_TOKEN": METRICS_TOKEN, **database_variables}
    door = start_front_door(processes, tmp_path / "up", pebble, variables, unique_host())
    root = pebble.root_file()
    good = wait_for_certificate(door, is_from(pebble), "the first certificate from pebble")
    assert healthz(door, root)["certificate"]["last_error"] is None  # type: ignore[index]

    # A domain whose names are not in DNS: its challenges cannot succeed.
    door.beaconmail("domain", "add", f"nowhere-{uuid.uuid4().hex[:8]}.test")
    wait_for(lambda: healthz(door, root)["certificate"]["last_error"] is not None, 60, "the failure on /healthz",  # type: ignore[index]
             interval=0.5)
    certificate = healthz(door, root)["certificate"]
    assert ".nowhere-" in str(certificate["last_error"])  # type: ignore[index]
    assert door.file_certificate().serial_number == good.serial_number
    door.wait_until_every_port_serves(good.serial_number, root)

    metrics = body_of(curl(door, root, "/metrics", "--header", f"Authorization: Bearer {METRICS_TOKEN}"))
    failures = re.search(r"^beaconmail_certificate_failures_total (\d+)$", metrics, re.MULTILINE)
    assert failures and int(failures.group(1)) >= 1, metrics

    # The dashboard, in Chromium over HTTPS: pebble's CA is trusted by its keys' hashes, the
    # host name resolved to the suite's address; nothing else is waved through.
    url = f"https://{door.hostname}:{door.port('HTTPS')}"
    trusted = ",".join(spki_hash(c) for c in (pebble.root(), pebble.intermediate()))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", f"--ignore-certificate-errors-spki-list={trusted}",
                  f"--host-resolver-rules=MAP {door.hostname} {door.address}"],
        )
        try:
            page = browser.new_page()
            response = page.goto(f"{url}/login")
            assert response is not None and response.ok
            assert response.headers["strict-transport-security"].startswith("max-age=")
            assert page.evaluate("() => window.isSecureContext") is True
            page.get_by_label("Address").fill(door.running.banner_value("Admin address"))
            page.get_by_label("Password").fill(door.running.banner_value("Admin password").split()[0])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            expect(page.locator("#certificate-issuer")).to_contain_text("Pebble Intermediate")
            expect(page.locator("#certificate-error")).to_contain_text(".nowhere-")
            expect(page.locator("#certificate-names")).to_contain_text(door.hostname)
        finally:
            browser.close()


def test_a_replaced_certificate_file_is_served_on_every_port(
    processes: ProcessTracker, tmp_path: Path, database_variables: dict[str, str]
) -> None:
    given = tmp_path / "given"
    names = ["mail.example.com"]
    ca_file, cert, key, ca = write_ca_and_pair(given, names)
    variables = {"BEACONMAIL_TLS_CERT": str(cert), "BEACONMAIL_TLS_KEY": str(key), **database_variables}
    door = start_front_door(processes, tmp_path / "up", None, variables, "mail.example.com")
    before = x509.load_pem_x509_certificate(cert.read_bytes())
    door.wait_until_every_port_serves(before.serial_number, ca_file)

    _ca_file, new_cert, new_key, _ca = write_ca_and_pair(tmp_path / "renewed", names, ca=ca)
    shutil.copyfile(new_key, key)  # in place, as `cp` would
    shutil.copyfile(new_cert, cert)
    after = x509.load_pem_x509_certificate(cert.read_bytes())
    assert door.wait_until_every_port_serves(after.serial_number, ca_file) < 60

    warnings = door.running.started.errors().count("BEACONMAIL_HOSTNAME is mail.example.com")
    assert warnings == 1, door.running.started.errors()
