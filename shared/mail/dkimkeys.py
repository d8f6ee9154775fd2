"""DKIM keys per hosted domain (files in the data folder) and signing of outbound mail (dkimpy):
a DKIM signature for mail from a hosted domain, an ARC set (RFC 8617) for mail one forwards.

A domain's key is made the first time anything asks for it (adding the domain, printing
its DNS records, or signing its first message), as an RSA-2048 pair; creation is safe
when several processes ask at once.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.config import Settings
from shared.errors import InvalidAddress
from shared.mail import srs
from shared.mail.addresses import normalise_domain
from shared.mail.routing import is_hosted_domain
from shared.storage.db import Database

log = logging.getLogger(__name__)

SELECTOR = "beacon"
KEY_BITS = 2048


def key_path(settings: Settings, domain: str) -> Path:
    return settings.data_dir / "dkim" / f"{normalise_domain(domain)}.pem"


def ensure_domain_key(settings: Settings, domain: str) -> bytes:
    """The domain's private key (PEM), made now if it does not exist yet."""
    path = key_path(settings, domain)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    # Per thread, not only per process: the worker signs the first messages of a domain in parallel.
    candidate = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(candidate, path)  # the first process to get here wins; the others use its key
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return path.read_bytes()


def dns_record(settings: Settings, domain: str) -> tuple[str, str]:
    """(selector, TXT value) to publish at `<selector>._domainkey.<domain>`."""
    key = serialization.load_pem_private_key(ensure_domain_key(settings, domain), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return SELECTOR, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode('ascii')}"


def author_domain(message: bytes) -> str | None:
    """The domain of the From: header (what DMARC aligns with), normalised, if there is one."""
    headers = BytesHeaderParser().parsebytes(message)
    addresses = getaddresses(headers.get_all("From", []))
    if len(addresses) != 1:
        return None
    try:
        return normalise_domain(addresses[0][1].rpartition("@")[2])
    except InvalidAddress:
        return None


def sign_outbound(db: Database, message: bytes) -> bytes:
    """The message with a DKIM-Signature for its From domain prepended, when we host that domain."""
    domain = author_domain(message)
    if domain is None or not is_hosted_domain(db, domain):
        return message
    private_key = ensure_domain_key(db.settings, domain)
    import dkim  # type: ignore[import-untyped]  # here: its import costs the CLI (DNS records) 50 ms

    try:
        signature = cast(bytes, dkim.sign(message, SELECTOR.encode(), domain.encode(), private_key))
    except dkim.DKIMException as exc:
        log.warning("DKIM signing for %s failed, sending unsigned: %s", domain, exc)
        return message
    return signature + message


def seal_forwarded(db: Database, sender: str, message: bytes) -> bytes:
    """The message with an ARC set prepended when it is a copy a hosted domain forwards (its
    envelope sender is that domain's SRS address), so the destination can see what our MX
    found (the `Authentication-Results` it wrote under our host name) before the hop that
    breaks SPF. dkimpy seals nothing when that header is missing."""
    domain = srs.forwarding_domain(sender)
    if domain is None or not is_hosted_domain(db, domain):
        return message
    private_key = ensure_domain_key(db.settings, domain)
    import dkim  # here, as in sign_outbound

    try:
        arc_set = cast(
            list[bytes],
            dkim.arc_sign(message, SELECTOR.encode(), domain.encode(), private_key, db.settings.hostname.encode()),
        )
    except dkim.DKIMException as exc:
        log.warning("ARC sealing for %s failed, sending unsealed: %s", domain, exc)
        return message
    return b"".join(arc_set) + message
