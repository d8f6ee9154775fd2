"""Out-of-office replies through our MX: one per sender per 7 days, none to automatic mail,
RFC 3834 headers; remote senders get theirs through the queue, local ones in their mailbox.
Local senders write through submission: at the MX, our own domain must authenticate."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from shared.accounts.out_of_office import set_out_of_office
from shared.accounts.views import CONSOLE
from shared.errors import TemporaryFailure
from shared.mail import autoreply, outbound
from shared.mail.autoreply import Notice
from shared.storage.db import Database
from shared.storage.models import OutboundMessage, OutboundRecipient

from .support import ALICE, ALICE_PW, BOB, BOB_PW, REMOTE, RunningSmtp, maildir_messages, mx_client, submit

pytestmark = pytest.mark.integration
START = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
PASSWORDS = {ALICE: ALICE_PW, BOB: BOB_PW}
ORIGINAL = "From: <{author}>\r\nTo: <alice@hosted.example>\r\nSubject: Lunch?\r\nMessage-ID: <{n}@remote.example>\r\n{extra}\r\nHi\r\n"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moving = Clock()
    monkeypatch.setattr(autoreply, "now_utc", moving)
    return moving


def send(smtp: RunningSmtp, sender: str, n: int, extra: str = "") -> None:
    """From a hosted sender through submission, else through the MX (a bounce's From: is a daemon's)."""
    content = ORIGINAL.format(author=sender or "mailer-daemon@remote.example", n=n, extra=extra).encode()
    with submit(smtp, sender, PASSWORDS[sender]) if sender in PASSWORDS else mx_client(smtp) as client:
        client.sendmail(sender, [ALICE], content)


def queued_replies(db: Database) -> list[tuple[str, str, bytes]]:
    with db.session.begin() as s:
        rows = s.execute(
            select(OutboundMessage.sender, OutboundRecipient.address, OutboundMessage.body_path)
            .join(OutboundRecipient, OutboundRecipient.message_id == OutboundMessage.id)
        ).all()
    return [(sender, address, (outbound.queue_dir(db) / path).read_bytes()) for sender, address, path in rows]


def test_one_reply_per_sender_per_seven_days(smtp: RunningSmtp, db: Database, clock: Clock) -> None:
    set_out_of_office(db, ALICE, Notice(True, "Away", "Back on the 14th.", date(2026, 12, 1), date(2026, 12, 14)), actor=CONSOLE)
    send(smtp, REMOTE, 1)
    send(smtp, REMOTE, 2)
    replies = queued_replies(db)
    assert len(replies) == 1
    envelope_sender, recipient, body = replies[0]
    assert (envelope_sender, recipient) == ("", REMOTE)  # the null reverse-path (RFC 3834 §3.3)
    reply = message_from_bytes(body, policy=policy.default)
    assert (reply["From"], reply["To"], reply["Subject"]) == (ALICE, REMOTE, "Away")
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["In-Reply-To"] == reply["References"] == "<1@remote.example>"
    clock.now = START + timedelta(days=6, hours=23)
    send(smtp, REMOTE, 3)
    assert len(queued_replies(db)) == 1
    clock.now = START + timedelta(days=7)
    send(smtp, REMOTE, 4)
    assert len(queued_replies(db)) == 2
    clock.now = datetime(2026, 12, 15, 0, 0, tzinfo=timezone.utc)  # after the last day
    send(smtp, "other@remote.example", 5)
    assert len(queued_replies(db)) == 2


def test_local_sender_gets_the_reply_in_the_mailbox(smtp: RunningSmtp, db: Database, clock: Clock) -> None:
    set_out_of_office(db, ALICE, Notice(True, "", "Away."), actor=CONSOLE)
    set_out_of_office(db, BOB, Notice(True, "", "Bob is away too."), actor=CONSOLE)
    before = len(maildir_messages(db.settings, BOB))
    send(smtp, BOB, 1)
    replies = maildir_messages(db.settings, BOB)[before:]
    assert len(replies) == 1 and queued_replies(db) == []
    reply = message_from_bytes(replies[0], policy=policy.default)
    assert reply["Subject"] == "Auto: Lunch?" and reply["Return-Path"] == "<>"
    # Bob's own out-of-office never answers Alice's reply: it came from the null sender.
    assert len(maildir_messages(db.settings, ALICE)) == 1


@pytest.mark.parametrize(
    ("sender", "extra"),
    [
        ("", ""),
        (REMOTE, "Auto-Submitted: auto-generated\r\n"),
        (REMOTE, "Precedence: bulk\r\n"),
        (REMOTE, "Precedence: list\r\n"),
        (REMOTE, "Precedence: junk\r\n"),
        (REMOTE, "List-Id: <news.remote.example>\r\n"),
        ("MAILER-DAEMON@remote.example", ""),
        ("postmaster@remote.example", ""),
        (ALICE, ""),
    ],
)
def test_no_reply_to_automatic_mail(smtp: RunningSmtp, db: Database, clock: Clock, sender: str, extra: str) -> None:
    set_out_of_office(db, ALICE, Notice(True, "Away", "Away."), actor=CONSOLE)
    before = len(maildir_messages(db.settings, ALICE))
    send(smtp, sender, 1, extra)
    assert len(maildir_messages(db.settings, ALICE)) == before + 1  # delivered, and answered by nobody
    assert queued_replies(db) == []


def test_a_failing_reply_never_fails_the_delivery(
    smtp: RunningSmtp, db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_out_of_office(db, ALICE, Notice(True, "Away", "Away."), actor=CONSOLE)

    def broken(*_args: object, **_kwargs: object) -> int:
        raise TemporaryFailure("queue disk full")

    monkeypatch.setattr(outbound, "enqueue", broken)
    send(smtp, REMOTE, 1)  # smtplib raises unless the answer is 250
    assert len(maildir_messages(db.settings, ALICE)) == 1
