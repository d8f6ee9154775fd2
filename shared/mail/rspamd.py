"""Content scanning by rspamd over its HTTP protocol (BEACONMAIL_RSPAMD_URL), as Mailu and
mailcow use it: the message is POSTed to `/checkv2` with the SMTP facts in request headers
(rspamd.com/doc/developers/protocol.html), and rspamd's JSON reply names an action.

rspamd is an aid, not a gate: when it cannot be reached, answers late or answers something that
is not a verdict, the message goes on unscanned (logged, and counted for /metrics), never lost.
Blocking (an HTTP round trip): callers on an event loop run `scan` in a thread.
"""
from __future__ import annotations

import enum
import functools
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import dns.reversename
import httpx

from shared.config import Settings
from shared.mail.resolver import DnsFailure, NoSuchDomain, resolver_for
from shared.storage import counters

log = logging.getLogger(__name__)

# The whole exchange, connection to last byte: an SMTP client waits for our answer to DATA.
SCAN_TIMEOUT = 5.0
# A verdict is a few kilobytes; more is not rspamd talking.
MAX_REPLY_BYTES = 1 << 20
# X-Spam-Reasons stays one readable header line.
MAX_REASONS_LENGTH = 200
UNSCANNED_COUNTER = "rspamd_unscanned"
UNKNOWN_HOST = "unknown"  # what rspamd (like Postfix) reads as "no verified reverse name"


class Action(enum.Enum):
    REJECT = "reject"
    SOFT_REJECT = "soft reject"
    GREYLIST = "greylist"
    ADD_HEADER = "add header"
    REWRITE_SUBJECT = "rewrite subject"
    NO_ACTION = "no action"


JUNK_ACTIONS = frozenset({Action.ADD_HEADER, Action.REWRITE_SUBJECT})
DEFER_ACTIONS = frozenset({Action.SOFT_REJECT, Action.GREYLIST})


@dataclass(frozen=True)
class Transaction:
    """The SMTP facts rspamd is told about a message."""

    ip: str
    helo: str
    sender: str  # the envelope sender, "" for <>
    recipients: Sequence[str]
    queue_id: str


@dataclass(frozen=True)
class Verdict:
    action: Action
    score: float
    reasons: tuple[str, ...]  # the symbols that added to the score, highest first

    @property
    def is_junk(self) -> bool:
        return self.action in JUNK_ACTIONS


class UnusableReply(Exception):
    """rspamd answered, but not with a verdict."""


def scan(settings: Settings, message: bytes, transaction: Transaction, *, timeout: float = SCAN_TIMEOUT) -> Verdict | None:
    """rspamd's verdict on `message`; None when rspamd is not configured or gave none in time."""
    if settings.rspamd_url is None:
        return None
    try:
        return _verdict(_post(settings, message, transaction, timeout))
    except (httpx.HTTPError, UnusableReply, TimeoutError) as error:
        log.warning("message %s accepted unscanned: rspamd: %s", transaction.queue_id, error or type(error).__name__)
    counters.increment(settings.mail_root, UNSCANNED_COUNTER)
    return None


def unscanned_count(settings: Settings) -> int:
    """Messages accepted unscanned since the mail store was made, by every SMTP process."""
    return counters.read(settings.mail_root, UNSCANNED_COUNTER)


@functools.cache
def _client(url: str) -> httpx.Client:
    """One connection pool per process (httpx's client is thread-safe); no proxy from the environment."""
    return httpx.Client(base_url=url, trust_env=False)


def _post(settings: Settings, message: bytes, transaction: Transaction, timeout: float) -> bytes:
    assert settings.rspamd_url is not None
    deadline = time.monotonic() + timeout
    headers = request_headers(transaction, client_hostname(settings, transaction.ip))
    request = _client(settings.rspamd_url).build_request(
        "POST", "/checkv2", content=message, headers=headers, timeout=httpx.Timeout(timeout)
    )
    response = _client(settings.rspamd_url).send(request, stream=True)
    try:
        if response.status_code != 200:
            raise UnusableReply(f"HTTP status {response.status_code}")
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_REPLY_BYTES:
                raise UnusableReply("reply too long")
            if time.monotonic() > deadline:
                raise TimeoutError("reply too slow")
    finally:
        response.close()
    return body


def header_value(text: str) -> bytes | None:
    """`text` as a request header value, or None when it cannot be one: a CR, LF or other control
    character would end the header early and let the text add headers of its own (a forged
    `Rcpt`, `Pass: all`, `Settings`...)."""
    if not text or any(ord(character) < 0x20 or ord(character) == 0x7F for character in text):
        return None
    return text.encode("utf-8")


def request_headers(transaction: Transaction, hostname: str) -> list[tuple[bytes, bytes]]:
    """rspamd's request headers; one `Rcpt` per recipient. A value that cannot be a header is left out."""
    fields = [
        ("IP", transaction.ip),
        ("Helo", transaction.helo),
        ("Hostname", hostname),
        ("From", transaction.sender),
        ("Queue-Id", transaction.queue_id),
        *(("Rcpt", recipient) for recipient in transaction.recipients),
    ]
    headers = []
    for name, text in fields:
        value = header_value(text)
        if value is None:
            if text:
                log.warning("rspamd request: %s left out, it holds control characters", name)
            continue
        headers.append((name.encode("ascii"), value))
    return headers


def client_hostname(settings: Settings, ip: str) -> str:
    """The client's reverse name when it is forward-confirmed (its addresses include `ip`), as an
    MTA tells rspamd; "unknown" otherwise. Through the suite's resolver, so cached within TTLs."""
    resolver = resolver_for(settings)
    try:
        names = resolver.query(dns.reversename.from_address(ip).to_text(), "PTR", lifetime=2.0)
        for record in names:
            name = record.to_text().rstrip(".")
            if ip in resolver.addresses(name, lifetime=2.0):
                return name
    except (NoSuchDomain, DnsFailure, ValueError):
        pass
    return UNKNOWN_HOST


def _verdict(body: bytes) -> Verdict:
    try:
        reply = json.loads(body)
        action = Action(reply["action"])
        score = float(reply["score"])
        symbols = reply.get("symbols", {})
        weights = sorted(
            ((float(symbol.get("score", 0)), name) for name, symbol in symbols.items() if isinstance(symbol, dict)),
            reverse=True,
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise UnusableReply(f"not a verdict ({type(error).__name__})") from None
    if score != score or abs(score) == float("inf"):
        raise UnusableReply("score is not a number")
    reasons = tuple(f"{_symbol_name(name)}({weight:g})" for weight, name in weights if weight > 0)
    return Verdict(action, score, reasons)


def _symbol_name(name: str) -> str:
    """rspamd's symbol names are upper-case words; anything else in one is dropped."""
    return "".join(character for character in name if character.isascii() and (character.isalnum() or character == "_"))


def spam_headers(verdict: Verdict, *, junk: bool) -> bytes:
    """The header fields a scanned message carries: its score; a junked one also `X-Spam: Yes` and
    the reasons (what the quarantine page shows), kept to one line."""
    lines = [f"X-Spam-Score: {verdict.score:.2f}"]
    if junk:
        lines.append("X-Spam: Yes")
        reasons = ", ".join(verdict.reasons) or f"rspamd {verdict.action.value}"
        if len(reasons) > MAX_REASONS_LENGTH:
            reasons = reasons[:MAX_REASONS_LENGTH].rsplit(", ", 1)[0] + ", ..."
        lines.append(f"X-Spam-Reasons: {reasons}")
    return "".join(line + "\r\n" for line in lines).encode("ascii")
