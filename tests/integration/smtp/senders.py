"""Remote senders for the MX authentication tests: a test DNS zone with SPF, DKIM and DMARC
records, DKIM signing with dkimpy, and SMTP clients on their own loopback source addresses
(127.0.0.2 is a domain's real outbound server, 127.0.0.3 a forger)."""
from __future__ import annotations

import base64
import functools
import smtplib
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.dnsserver import Record

from .support import DOMAIN, RunningSmtp

LEGIT_IP, FORGER_IP = "127.0.0.2", "127.0.0.3"
SELECTOR = "sel"
HELO = "client.sender.example"
PASS_DOMAIN = "pass.example"  # SPF for LEGIT_IP, DKIM key, DMARC p=reject
REJECT_DOMAIN = "reject.example"  # DMARC p=reject
QUARANTINE_DOMAIN = "quarantine.example"  # DMARC p=quarantine
NO_DMARC_DOMAIN = "nodmarc.example"  # SPF -all for LEGIT_IP only, no DMARC record
FORGER_DOMAIN = "forger.example"  # no records at all
EXTRA_ZONES = ("sender.example", "alias.example", "second.example")


@functools.cache
def private_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def public_key_record() -> str:
    key = serialization.load_pem_private_key(private_key(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def zone() -> list[Record]:
    spf = f"v=spf1 ip4:{LEGIT_IP} -all"
    records = [
        Record(HELO, "TXT", spf),
        Record(PASS_DOMAIN, "TXT", spf),
        Record(f"_dmarc.{PASS_DOMAIN}", "TXT", "v=DMARC1; p=reject"),
        Record(REJECT_DOMAIN, "TXT", spf),
        Record(f"_dmarc.{REJECT_DOMAIN}", "TXT", "v=DMARC1; p=reject; pct=100"),
        Record(QUARANTINE_DOMAIN, "TXT", spf),
        Record(f"_dmarc.{QUARANTINE_DOMAIN}", "TXT", "v=DMARC1; p=quarantine"),
        Record(NO_DMARC_DOMAIN, "TXT", spf),
        Record(FORGER_DOMAIN, "A", "192.0.2.1"),
        Record(DOMAIN, "TXT", spf),
    ]
    for domain in (PASS_DOMAIN, REJECT_DOMAIN, QUARANTINE_DOMAIN, DOMAIN):
        records.append(Record(f"{SELECTOR}._domainkey.{domain}", "TXT", public_key_record()))
    return records


def message(author: str, subject: str = "hello", extra: bytes = b"") -> bytes:
    return (
        f"From: <{author}>\r\nTo: <alice@{DOMAIN}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@sender.example>\r\n".encode()
        + extra
        + b"\r\nHello there.\r\n"
    )


def signed(content: bytes, domain: str, **options: object) -> bytes:
    """`content` with a DKIM-Signature of `domain` (relaxed/relaxed, From and Subject signed)."""
    signature = dkim.sign(
        content,
        SELECTOR.encode(),
        domain.encode(),
        private_key(),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[b"from", b"subject", b"to"],
        **options,
    )
    return bytes(signature) + content


def mx_from(server: RunningSmtp, source_ip: str) -> smtplib.SMTP:
    """An MX client connecting from `source_ip` (any 127/8 address is loopback on Linux)."""
    return smtplib.SMTP("127.0.0.1", server.mx, local_hostname=HELO, source_address=(source_ip, 0), timeout=30)


def junk_messages(root: Path, address: str) -> list[bytes]:
    local, _at, domain = address.partition("@")
    folder = root / domain / local / ".Junk" / "new"
    return [path.read_bytes() for path in sorted(folder.iterdir())] if folder.is_dir() else []
