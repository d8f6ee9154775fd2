"""The Received: trace header we prepend (RFC 5321 §4.4, protocol names from RFC 3848/6531)."""

from __future__ import annotations

import functools
import ipaddress
import re
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

# A HELO argument goes into the header only if it looks like a domain or an address literal.
_HELO_SHAPE = re.compile(r"[A-Za-z0-9._-]+|\[[A-Za-z0-9.:]+\]")


@dataclass(frozen=True)
class TraceInfo:
    helo: str
    ip: str
    hostname: str
    extended: bool
    smtp_utf8: bool
    tls: ssl.SSLObject | None
    authenticated_as: str | None
    transaction_id: str


def with_protocol(info: TraceInfo) -> str:
    """SMTP/ESMTP plus S for TLS and A for AUTH; UTF8SMTP for SMTPUTF8 transactions."""
    if not info.extended:
        return "SMTP"
    base = "UTF8SMTP" if info.smtp_utf8 else "ESMTP"
    return base + ("S" if info.tls is not None else "") + ("A" if info.authenticated_as else "")


def tls_comment(tls: ssl.SSLObject) -> str:
    cipher, _protocol, bits = tls.cipher() or ("unknown", "", 0)
    return f"(using {tls.version()} with cipher {cipher} ({bits}/{bits} bits))"


# Both caches: the same client address and second recur across messages, and these two
# conversions were a noticeable share of the CPU of receiving a message.
@functools.lru_cache(maxsize=1024)
def address_literal(ip: str) -> str:
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return "[unknown]"
    return f"[IPv6:{parsed.compressed}]" if parsed.version == 6 else f"[{parsed}]"


@functools.lru_cache(maxsize=4)
def _date(second: datetime) -> str:
    return format_datetime(second)


def received_header(info: TraceInfo, now: datetime) -> bytes:
    helo = info.helo if _HELO_SHAPE.fullmatch(info.helo) else "unknown"
    lines = [f"Received: from {helo} ({address_literal(info.ip)})"]
    if info.tls is not None:
        lines.append(tls_comment(info.tls))
    if info.authenticated_as:
        lines.append(f"(authenticated sender: {info.authenticated_as})")
    lines.append(f"by {info.hostname} (Beacon Mail) with {with_protocol(info)} id {info.transaction_id};")
    lines.append(_date(now.replace(microsecond=0)))
    return "\r\n\t".join(lines).encode("utf-8") + b"\r\n"
