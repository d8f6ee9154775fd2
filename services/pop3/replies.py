"""POP3 reply constants and the table that turns `shared` errors into replies.

Replies are data: handlers pick a constant (filling in numbers with
`Reply.format`) and never build a status line themselves. Response codes in
brackets are the registered ones only: RFC 2449 (IN-USE, LOGIN-DELAY) and
RFC 3206 (AUTH, SYS/TEMP, SYS/PERM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from shared.errors import (
    AccountDisabled,
    AuthFailed,
    BeaconError,
    InvalidAddress,
    MaildropLocked,
    NotFound,
)


@dataclass(frozen=True)
class Reply:
    """One status line: `+OK`/`-ERR`, an optional response code, a text."""

    ok: bool
    text: str
    code: str | None = None

    def format(self, **values: object) -> Reply:
        """The same reply with `{placeholders}` in its text filled in."""
        return Reply(self.ok, self.text.format(**values), self.code)  # dataclasses.replace costs more

    def to_bytes(self) -> bytes:
        status = "+OK" if self.ok else "-ERR"
        code = f" [{self.code}]" if self.code else ""
        return f"{status}{code} {self.text}\r\n".encode()


SASL_CONTINUE: Final = b"+ \r\n"
END_OF_MULTILINE: Final = b".\r\n"

OK_GREETING: Final = Reply(True, "{hostname} Beacon Mail POP3 server ready")
OK_CAPA: Final = Reply(True, "capability list follows")
OK_MECHANISMS: Final = Reply(True, "SASL mechanisms follow")
OK_USER: Final = Reply(True, "send PASS")
OK_MAILDROP: Final = Reply(True, "maildrop has {count} messages ({size} octets)")
OK_STAT: Final = Reply(True, "{count} {size}")
OK_SCAN_LISTING: Final = Reply(True, "{count} messages ({size} octets)")
OK_SCAN_ONE: Final = Reply(True, "{number} {size}")
OK_UIDL_LISTING: Final = Reply(True, "unique-id listing follows")
OK_UIDL_ONE: Final = Reply(True, "{number} {uid}")
OK_RETR: Final = Reply(True, "{size} octets")
OK_TOP: Final = Reply(True, "top of message follows")
OK_DELE: Final = Reply(True, "message {number} marked for deletion")
OK_NOOP: Final = Reply(True, "still here")
OK_STLS: Final = Reply(True, "begin TLS negotiation")
OK_UTF8: Final = Reply(True, "UTF-8 mode on")
OK_QUIT: Final = Reply(True, "{hostname} signing off")
OK_QUIT_UPDATE: Final = Reply(True, "{hostname} signing off ({count} messages left)")

ERR_UNKNOWN_COMMAND: Final = Reply(False, "unknown command")
ERR_WRONG_STATE: Final = Reply(False, "command not valid in this state")
ERR_SYNTAX: Final = Reply(False, "syntax error in arguments")
ERR_LINE_TOO_LONG: Final = Reply(False, "line too long (limit is 255 octets)")
ERR_BAD_CHARACTERS: Final = Reply(False, "line contains characters that are not allowed")
ERR_UTF8_REQUIRED: Final = Reply(False, "send UTF8 before a non-ASCII user name or password")
ERR_NO_USER: Final = Reply(False, "send USER first")
ERR_TLS_REQUIRED: Final = Reply(False, "send STLS first: plaintext login is not allowed")
ERR_ALREADY_TLS: Final = Reply(False, "TLS is already active")
ERR_MECHANISM: Final = Reply(False, "unsupported SASL mechanism (PLAIN is offered)")
ERR_BASE64: Final = Reply(False, "invalid base64")
ERR_AUTH_CANCELLED: Final = Reply(False, "authentication cancelled")
ERR_NO_SUCH_MESSAGE: Final = Reply(False, "no such message")
ERR_DELETED: Final = Reply(False, "message {number} already deleted")
ERR_AUTH: Final = Reply(False, "authentication failed", "AUTH")
ERR_LOGIN_DELAY: Final = Reply(False, "minimum time between logins not reached", "LOGIN-DELAY")
ERR_IN_USE: Final = Reply(False, "maildrop already in use", "IN-USE")
ERR_SYS_TEMP: Final = Reply(False, "temporary server problem, try again later", "SYS/TEMP")
ERR_SYS_PERM: Final = Reply(False, "login not permitted, contact your administrator", "SYS/PERM")
ERR_GONE: Final = Reply(False, "no longer available", "SYS/PERM")

# First match wins, so subclasses come before their bases. InvalidAddress
# gets the same reply as a wrong password: a malformed name must not be
# distinguishable from an unknown one.
ERROR_REPLIES: Final[tuple[tuple[type[BeaconError], Reply], ...]] = (
    (AuthFailed, ERR_AUTH),
    (InvalidAddress, ERR_AUTH),
    (AccountDisabled, ERR_SYS_PERM),
    (MaildropLocked, ERR_IN_USE),
    (NotFound, ERR_GONE),
)


def reply_for_error(error: Exception) -> Reply:
    """The reply for a failed `shared` call; anything unlisted (a database or
    disk error among them) is a temporary failure."""
    for error_type, reply in ERROR_REPLIES:
        if isinstance(error, error_type):
            return reply
    return ERR_SYS_TEMP
