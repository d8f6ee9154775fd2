"""POP3 replies: well-formed status lines, registered response codes, the error table."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from services.pop3 import replies as r
from shared.errors import (
    AccountDisabled,
    AuthFailed,
    InvalidAddress,
    MaildropLocked,
    NotFound,
    QuotaExceeded,
    TemporaryFailure,
)

REPLIES = [value for name, value in vars(r).items() if isinstance(value, r.Reply) and name.isupper()]
# RFC 2449 §8 and RFC 3206: the codes registered with IANA that apply to POP3 servers.
REGISTERED_CODES = {"IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "AUTH"}


@pytest.mark.parametrize("reply", REPLIES, ids=[reply.text for reply in REPLIES])
def test_every_reply_is_one_short_line_with_a_registered_code(reply: r.Reply) -> None:
    line = reply.format(hostname="h" * 253, count=10**9, size=10**15, number=10**9, uid="u" * 70).to_bytes()
    assert line.startswith(b"+OK " if reply.ok else b"-ERR ") and line.endswith(b"\r\n")
    assert line.count(b"\r\n") == 1 and len(line) <= 512
    assert reply.code is None or (not reply.ok and reply.code in REGISTERED_CODES)


ERROR_CASES = [
    (AuthFailed("x"), r.ERR_AUTH),
    (InvalidAddress("x"), r.ERR_AUTH),
    (AccountDisabled("x"), r.ERR_SYS_PERM),
    (MaildropLocked("x"), r.ERR_IN_USE),
    (NotFound("x"), r.ERR_GONE),
    (TemporaryFailure("x"), r.ERR_SYS_TEMP),
    (QuotaExceeded("x"), r.ERR_SYS_TEMP),
    (OperationalError("SELECT 1", {}, Exception("database is down")), r.ERR_SYS_TEMP),
    (OSError("disk"), r.ERR_SYS_TEMP),
]


@pytest.mark.parametrize(("error", "reply"), ERROR_CASES, ids=[type(case[0]).__name__ for case in ERROR_CASES])
def test_error_table(error: Exception, reply: r.Reply) -> None:
    assert r.reply_for_error(error) == reply


def test_error_text_is_never_echoed() -> None:
    assert b"secret detail" not in r.reply_for_error(TemporaryFailure("secret detail")).to_bytes()
