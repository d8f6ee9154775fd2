"""Smuggling across services: a body carrying bare CR or LF around a dot, accepted by the MX
(or stored by any other path into the Maildir), never comes out of POP3 RETR in a form that
ends poplib's multi-line reply early. poplib reads lines up to LF, drops a CRLF (or a lone
LF, or a leading CR) and stops at a line that is then exactly "."; an early stop shows up as
missing lines and as the rest of the message being read as the next reply."""

from __future__ import annotations

import pytest
from integration.pop3.support import ALICE, RunningServer, login_when_free
from integration.smtp.support import RawSmtp, RunningSmtp
from integration.smtp.test_smtp_smuggling import BARE_VARIANTS, CONTENT_TWISTS

from shared.mail.delivery import deliver
from shared.storage.db import Database

from .conftest import Hosted, StartPop3, StartSmtp
from .support import visible_files

SMUGGLED = b"MAIL FROM:<evil@remote.example>\r\nRCPT TO:<bob@hosted.example>\r\nDATA\r\n"
LAST_LINE = b"the end of the one and only message"
# Stored by a path other than SMTP DATA (a bounce, a queued copy): the delivery layer decides.
STORE_VARIANTS = [*BARE_VARIANTS, b"\r.\n", b"\n.\r\n.\r\n", b"\r\r\n.\n\n", b"\r\n.\r"]


@pytest.fixture
def pop3(start_pop3: StartPop3) -> RunningServer:
    return start_pop3()


def carrier(variant: bytes) -> bytes:
    return b"Subject: carrier\r\n\r\nfirst part" + variant + SMUGGLED + b"\r\n" + LAST_LINE + b"\r\n"


def send_through_mx(smtp: RunningSmtp, body: bytes) -> bytes:
    client = RawSmtp(smtp.mx)
    client.send(b"EHLO c.example\r\nMAIL FROM:<someone@remote.example>\r\nRCPT TO:<alice@hosted.example>\r\nDATA\r\n")
    replies = [client.reply() for _ in range(4)]
    assert replies[-1].startswith(b"354"), replies
    client.send(body + b".\r\n")
    reply = client.reply()
    client.close()
    return reply


def retrieve_all(pop3: RunningServer) -> list[bytes]:
    """Every message through poplib, joined back with CRLF; then a command that would read
    leftovers of an early-ended reply as its own answer."""
    client = login_when_free(pop3)
    count, _size = client.stat()
    messages = [b"".join(line + b"\r\n" for line in client.retr(n)[1]) for n in range(1, count + 1)]
    assert client.noop().startswith(b"+OK")
    client.quit()
    return messages


def assert_whole(retrieved: bytes, stored: bytes) -> None:
    assert retrieved.endswith(LAST_LINE + b"\r\n"), retrieved[-200:]
    assert SMUGGLED.split(b"\r\n")[0] in retrieved  # the smuggled commands are message text
    assert len(retrieved) == len(stored)


def test_nothing_the_mx_accepts_ends_a_pop3_reply_early(
    db: Database, start_smtp: StartSmtp, pop3: RunningServer
) -> None:
    smtp = start_smtp()
    accepted = [v for v in BARE_VARIANTS + CONTENT_TWISTS if send_through_mx(smtp, carrier(v)).startswith(b"250")]
    assert accepted, "every variant was refused: nothing crossed to POP3"
    stored = [path.read_bytes() for path in visible_files(db.settings, ALICE)]
    assert len(stored) == len(accepted)
    for retrieved, original in zip(retrieve_all(pop3), stored, strict=True):
        assert_whole(retrieved, original)


def test_bare_line_ends_stored_by_other_paths_never_end_a_pop3_reply_early(
    db: Database, hosted: Hosted, pop3: RunningServer
) -> None:
    for variant in STORE_VARIANTS:
        deliver(db, carrier(variant), [hosted.ids[ALICE]], return_path="bounce@remote.example")
    stored = [path.read_bytes() for path in visible_files(db.settings, ALICE)]
    retrieved = retrieve_all(pop3)
    assert len(retrieved) == len(STORE_VARIANTS)
    for message, original in zip(retrieved, stored, strict=True):
        assert_whole(message, original)


def test_a_message_with_unix_line_ends_copied_into_the_maildir_is_served_safely(
    db: Database, pop3: RunningServer
) -> None:
    """A Maildir moved over from another server keeps LF line ends (Dovecot and Postfix store
    them so). POP3 must not pass a bare-LF "." line through unstuffed."""
    message = b"Subject: migrated\n\nbefore\n.\nSMUGGLED\n" + LAST_LINE + b"\n"
    (db.settings.mail_root / "hosted.example" / "alice" / "new" / "1700000000.M1P1.old-server").write_bytes(message)
    client = login_when_free(pop3)
    lines = client.retr(1)[1]
    assert lines[-1] == LAST_LINE and b"SMUGGLED" in lines, lines
    assert client.noop().startswith(b"+OK")
    client.quit()
