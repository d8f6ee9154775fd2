"""The rules of the certificate: which names it carries, when it is renewed, which challenge
tokens are ours, and where the HTTP port may redirect to."""
from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.admin.front import KnownNames, redirect_target
from shared.config import load_settings
from shared.runtime.acme import certificate_names, challenge_answer, challenge_folder, renewal_reason

NOW = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.timezone.utc)


def certificate(names: list[str], born: datetime.datetime, days: int, issuer: str = "Test CA") -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(born)
        .not_valid_after(born + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )


def test_names_are_the_host_then_each_domains_autoconfiguration_names() -> None:
    assert certificate_names("MX.Corp.Example.", ["corp.example", "shop.example"]) == [
        "mx.corp.example",
        "autoconfig.corp.example",
        "autoconfig.shop.example",
        "autodiscover.corp.example",
        "autodiscover.shop.example",
    ]
    assert certificate_names("mx.corp.example", []) == ["mx.corp.example"]


NAMES = ["mx.corp.example", "autoconfig.corp.example"]


@pytest.mark.parametrize(
    ("age_days", "names", "issuer", "reason"),
    [
        (1, NAMES, "Test CA", None),
        (59, NAMES, "Test CA", None),  # 31 of 90 days left
        (61, NAMES, "Test CA", "a third of its lifetime is left"),
        (100, NAMES, "Test CA", "a third of its lifetime is left"),  # expired
        (1, NAMES[:1], "Test CA", "the names changed"),
        (1, NAMES, "mx.corp.example", "the certificate is self-signed"),
    ],
)
def test_renewal_is_due_with_a_third_left_other_names_or_a_self_signed_one(
    age_days: int, names: list[str], issuer: str, reason: str | None
) -> None:
    current = certificate(names, NOW - datetime.timedelta(days=age_days), 90, issuer)
    assert renewal_reason(current, NAMES, NOW) == reason


def test_no_certificate_is_a_reason() -> None:
    assert renewal_reason(None, NAMES, NOW) == "no certificate yet"


@pytest.mark.parametrize("token", ["../../secret_key", "..", "a/b", "%2e%2e", "", "short", "x" * 200, "tok en" * 5])
def test_a_token_that_is_not_base64url_is_never_looked_up(tmp_path: Path, token: str) -> None:
    settings = load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_SECRET_KEY": "k"})
    (tmp_path / "secret_key").write_text("k")
    assert challenge_answer(settings, token) is None


def test_a_published_token_is_answered(tmp_path: Path) -> None:
    settings = load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_SECRET_KEY": "k"})
    folder = challenge_folder(settings)
    folder.mkdir(parents=True)
    token = "Ab_-" * 10 + "xyz"
    (folder / token).write_bytes(b"key-authorization")
    assert challenge_answer(settings, token) == b"key-authorization"
    assert challenge_answer(settings, token[:-1]) is None


@pytest.mark.parametrize(
    ("host", "path", "target"),
    [
        ("mx.corp.example", "/domains?page=2", "https://mx.corp.example:8443/domains?page=2"),
        ("autoconfig.corp.example:8081", "/mail/config-v1.1.xml", "https://autoconfig.corp.example:8443/mail/config-v1.1.xml"),
        ("evil.example", "/login", "https://mx.corp.example:8443/login"),
        ("mx.corp.example@evil.example", "/", "https://mx.corp.example:8443/"),
        (None, "/", "https://mx.corp.example:8443/"),
        ("mx.corp.example", "//evil.example/x", "https://mx.corp.example:8443/x"),
        ("mx.corp.example", "http://evil.example/steal?x=1", "https://mx.corp.example:8443/steal?x=1"),
        ("[::1]", "/", "https://mx.corp.example:8443/"),
    ],
)
def test_redirects_lead_only_to_our_names(host: str | None, path: str, target: str) -> None:
    names = KnownNames("mx.corp.example")
    names.replace(["autoconfig.corp.example"])
    assert redirect_target(names, 8443, host, path) == target


def test_the_standard_port_is_left_out() -> None:
    assert redirect_target(KnownNames("mx.corp.example"), 443, "mx.corp.example", "/") == "https://mx.corp.example/"


def test_the_known_names_keep_the_host_name_first() -> None:
    names = KnownNames("mx.corp.example")
    names.replace(["autoconfig.corp.example", "autodiscover.corp.example"])
    assert names.current() == ["mx.corp.example", "autoconfig.corp.example", "autodiscover.corp.example"]
