"""The mail store fills up (a 2 MB tmpfs as the mail root): SMTP answers 452 4.3.1 and keeps
nothing partial, for one mailbox, for several, and for the outbound queue; once there is
room again the same message goes through, once."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest
from integration.pop3.support import ALICE, ALICE_PW, BOB
from integration.smtp.support import RunningSmtp, client_context, mx_client
from sqlalchemy import func, select

from shared.accounts import get_mailbox
from shared.accounts.views import CONSOLE
from shared.storage.db import Database
from shared.storage.models import OutboundMessage

from .support import fill_filesystem, hidden_files, small_filesystem, visible_files

S452 = (452, b"4.3.1 Insufficient system storage, try again later")
FREE_AFTER_FILLING = 64 * 1024
MESSAGE = b"Subject: too big for what is left\r\n\r\n" + (b"y" * 78 + b"\r\n") * 1000  # 80 KB
HALF = b"Subject: one copy fits, two do not\r\n\r\n" + (b"z" * 78 + b"\r\n") * 500  # 40 KB


@pytest.fixture
def full_store(db: Database, request: pytest.FixtureRequest) -> Iterator[RunningSmtp]:
    """The mail root on a tiny filesystem, mounted before the accounts (and their Maildirs)
    are made; SMTP running on it."""
    with small_filesystem(db.settings.mail_root, "2m"):
        request.getfixturevalue("hosted")
        smtp = RunningSmtp(db)
        yield smtp
        smtp.stop()


def state(db: Database) -> dict[str, object]:
    """Everything a failed delivery must leave as it was."""
    with db.session.begin() as s:
        queued = s.scalar(select(func.count()).select_from(OutboundMessage))
    queue_files = sorted(p.name for p in (db.settings.mail_root / ".outbound").rglob("*") if p.is_file())
    mailboxes = {
        address: (visible_files(db.settings, address), hidden_files(db.settings, address), get_mailbox(db, address, actor=CONSOLE))
        for address in (ALICE, BOB)
    }
    return {"queued": queued, "queue files": queue_files, "mailboxes": mailboxes}


def test_a_full_store_answers_452_and_keeps_nothing(db: Database, full_store: RunningSmtp) -> None:
    smtp = full_store
    filler = fill_filesystem(db.settings.mail_root, FREE_AFTER_FILLING)
    before = state(db)
    with mx_client(smtp) as client:
        client.ehlo("full.test")
        client.mail("sender@remote.example")
        client.rcpt(ALICE)
        assert client.data(MESSAGE) == S452
        client.mail("sender@remote.example")
        client.rcpt(ALICE)
        client.rcpt(BOB)
        assert client.data(HALF) == S452  # the first copy fitted: all or nothing
        assert client.noop()[0] == 250  # the session goes on
    with smtplib.SMTP("127.0.0.1", smtp.submission, timeout=10) as client:
        client.starttls(context=client_context(smtp.settings))
        client.login(ALICE, ALICE_PW)
        client.mail(ALICE)
        client.rcpt("someone@remote.example")
        assert client.data(MESSAGE) == S452  # the queue is on the same store
    assert state(db) == before
    filler.unlink()
    with mx_client(smtp) as client:
        assert client.sendmail("sender@remote.example", [ALICE, BOB], HALF) == {}
    for address in (ALICE, BOB):
        assert [path.read_bytes().endswith(HALF) for path in visible_files(db.settings, address)] == [True]
        assert hidden_files(db.settings, address) == []
