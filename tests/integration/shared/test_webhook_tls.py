"""A webhook over HTTPS: the delivery connects to the address it checked, yet TLS (SNI and the
certificate check) and the Host header use the URL's name, so pinning the address does not
weaken or break HTTPS."""
from __future__ import annotations

import dataclasses
import functools
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.config import Settings
from shared.mail import webhook_delivery
from shared.mail.webhooks import new_secret
from tests.conftest import base_settings
from tests.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return dataclasses.replace(base_settings(tmp_path), webhook_allow_private=True)


def certificate_for_localhost(folder: Path) -> tuple[Path, Path]:
    """Self-signed, naming only the DNS name localhost (no IP address)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "localhost.pem", folder / "localhost.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def ssl_server(certificate: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    return context


def deliver(settings: Settings, receiver: Receiver) -> str | None:
    receiver.secret = new_secret()
    pending = webhook_delivery.Pending(1, 1, "msg_tls", '{"type":"message.failed"}', receiver.url, receiver.secret)
    return webhook_delivery.post(settings, pending, datetime.now(UTC))


def test_https_is_checked_against_the_urls_name(
    tls_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate, key = certificate_for_localhost(tmp_path)
    with webhook_receiver(tls=ssl_server(certificate, key), host="localhost") as untrusted:
        failure = deliver(tls_settings, untrusted)  # no trust in a self-signed certificate by default
        assert failure is not None and "certificate" in failure.lower() and untrusted.received == []
    server = ssl_server(certificate, key)
    # The test's own certificate authority: the certificate itself.
    monkeypatch.setattr(httpx, "Client", functools.partial(httpx.Client, verify=ssl.create_default_context(cafile=str(certificate))))
    with webhook_receiver(tls=server, host="localhost") as receiver:
        assert deliver(tls_settings, receiver) is None
        (received,) = receiver.received
        assert received.verified and received.headers["host"] == receiver.url.split("/")[2]
    with webhook_receiver(tls=server, host="127.0.0.1") as by_address:
        failure = deliver(tls_settings, by_address)  # the certificate names localhost, not 127.0.0.1
        assert failure is not None and "certificate" in failure.lower() and by_address.received == []
