"""SASL PLAIN and LOGIN for SMTP AUTH (RFC 4954, RFC 4616), checked off the event loop.

aiosmtpd's built-in mechanisms call the authenticator synchronously on the event loop
(an argon2 verify there stalls every session), leave a failed login without a reply when
`handled` keeps its default, and leak a ValueError for over-long continuation lines.
The protocol's own `smtp_AUTH` uses these functions instead.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import os
from base64 import b64decode, b64encode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.smtp import replies
from services.smtp.replies import Reply
from shared import accounts
from shared.accounts.views import MailboxView
from shared.errors import AccountDisabled, AuthFailed, InvalidAddress, TemporaryFailure
from shared.mail.addresses import parse_address
from shared.storage.db import Database

log = logging.getLogger(__name__)

MECHANISMS = ("PLAIN", "LOGIN")
# draft-murchison-sasl-login: the prompts clients expect.
LOGIN_USERNAME_PROMPT = b64encode(b"Username:")
LOGIN_PASSWORD_PROMPT = b64encode(b"Password:")

# Sends a 334 challenge (already base64) and returns the client's raw answer line.
Challenge = Callable[[bytes], Awaitable[bytes]]


class SaslError(Exception):
    """The exchange cannot go on; `reply` says why."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


@dataclass(frozen=True)
class Credentials:
    authzid: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class AuthOutcome:
    reply: Reply
    mailbox: MailboxView | None = None
    close: bool = False


def decode_response(line: bytes) -> bytes:
    """A client's base64 answer: `*` cancels, `=` is an empty answer (RFC 4954 §4)."""
    text = line.strip()
    if text == b"*":
        raise SaslError(replies.S501_AUTH_ABORTED)
    if text == b"=":
        return b""
    try:
        return b64decode(text, validate=True)
    except binascii.Error:
        raise SaslError(replies.S501_BAD_BASE64) from None


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise SaslError(replies.S501_BAD_BASE64) from None


def parse_plain(message: bytes) -> Credentials:
    """`[authzid] NUL authcid NUL passwd` (RFC 4616 §2)."""
    parts = message.split(b"\x00")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise SaslError(replies.S501_BAD_SASL)
    authzid, username, password = (_text(part) for part in parts)
    return Credentials(authzid, username, password)


async def read_credentials(mechanism: str, initial: str | None, challenge: Challenge) -> Credentials:
    """Run the client side of the mechanism's exchange; raises SaslError."""
    if mechanism == "PLAIN":
        response = initial.encode("ascii", "replace") if initial is not None else await challenge(b"")
        return parse_plain(decode_response(response))
    username_line = (
        initial.encode("ascii", "replace") if initial is not None else await challenge(LOGIN_USERNAME_PROMPT)
    )
    username = _text(decode_response(username_line))
    password = _text(decode_response(await challenge(LOGIN_PASSWORD_PROMPT)))
    if not username or not password:
        raise SaslError(replies.S501_BAD_SASL)
    return Credentials("", username, password)


def password_check_slots() -> int:
    """A password hash takes a core for ~0.1 s: leave one core to the event loop, so a burst of
    logins slows down logins, not every session's replies."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


class Authenticator:
    """Checks credentials against the shared accounts; the lockout is shared's (one for every
    process and service), and a locked out client reads the same 535 as a wrong password."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._checks = asyncio.Semaphore(password_check_slots())

    async def verify(self, credentials: Credentials, ip: str) -> AuthOutcome:
        account = credentials.username
        try:
            async with self._checks:
                mailbox = await asyncio.to_thread(
                    accounts.authenticate, self.db, account, credentials.password, "smtp", ip
                )
        except AccountDisabled:
            return AuthOutcome(replies.S535_ACCOUNT_DISABLED)
        except (AuthFailed, InvalidAddress):
            log.info("AUTH from %s for %r failed", ip, account)
            return AuthOutcome(replies.S535_AUTH_FAILED)
        except TemporaryFailure:
            return AuthOutcome(replies.S454_AUTH_UNAVAILABLE)
        if credentials.authzid and not _is_same_address(credentials.authzid, mailbox.address):
            log.info("AUTH from %s as %s refused: authzid %r", ip, mailbox.address, credentials.authzid)
            return AuthOutcome(replies.S535_AUTH_FAILED)
        log.info("AUTH from %s as %s", ip, mailbox.address)
        return AuthOutcome(replies.S235_AUTH_OK, mailbox)


def _is_same_address(authzid: str, address: str) -> bool:
    """RFC 4616: an authzid is allowed only when it names the authenticated user themself."""
    try:
        return str(parse_address(authzid)) == address
    except InvalidAddress:
        return False
