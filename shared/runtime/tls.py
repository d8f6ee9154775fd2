"""The TLS pair for every listener: the configured one, or a self-signed one made once."""
from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import ssl
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.config import Settings


def ensure_tls_pair(settings: Settings) -> tuple[Path, Path]:
    if settings.tls_cert is not None and settings.tls_key is not None:
        return settings.tls_cert, settings.tls_key
    cert_path, key_path = settings.data_dir / "tls" / "cert.pem", settings.data_dir / "tls" / "key.pem"
    if not cert_path.exists():
        _make_self_signed(settings.hostname, cert_path, key_path)
    return cert_path, key_path


def _make_self_signed(hostname: str, cert_path: Path, key_path: Path) -> None:
    """Write the pair to private temporary names, then link the key and rename the cert into
    place: the cert appears last, so a process that sees it also sees the matching key."""
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt_names: list[x509.GeneralName] = [x509.DNSName(hostname), x509.DNSName("localhost")]
    alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    suffix = f".{os.getpid()}.{secrets.token_hex(4)}.tmp"  # unique per call: threads share a pid
    tmp_key, tmp_cert = key_path.with_name(key_path.name + suffix), cert_path.with_name(cert_path.name + suffix)
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    tmp_cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    try:
        os.link(tmp_key, key_path)
    except FileExistsError:
        pass  # another process won the race; its cert follows its key
    else:
        os.rename(tmp_cert, cert_path)
    finally:
        tmp_key.unlink(missing_ok=True)
        tmp_cert.unlink(missing_ok=True)
    _wait_for(cert_path)


def _wait_for(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"TLS certificate {path} did not appear")
        time.sleep(0.05)


def server_ssl_context(settings: Settings) -> ssl.SSLContext:
    cert, key = ensure_tls_pair(settings)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
