"""The message log through the SMTP service: the 250 names the log id; every message accepted on
the MX or by submission is logged with its recipients' states; the outbound worker's outcomes
(relayed, deferred, bounced) reach the log through a real smarthost that answers per
recipient; refusals at RCPT and DATA are logged with our reply; old entries are purged; the
service writes one greppable line per recipient outcome. Both databases."""

from __future__ import annotations

import logging
import re
import smtplib
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from shared.accounts import idempotency, tokens
from shared.accounts.message_tracking import LogFilters, get_message, search_messages
from shared.accounts.views import CONSOLE
from shared.mail import message_log
from shared.storage.db import Database
from shared.storage.models import IdempotentSend, LoggedMessage

from .support import ALICE, BOB, REMOTE, RawSmtp, RunningSmtp, StockSmtp, mx_client, submit, work_queue

pytestmark = pytest.mark.integration
QUEUED_AS = re.compile(r"2\.0\.0 Ok: queued as ([0-9a-f]{20})")
INBOUND = b"From: <someone@remote.example>\r\nSubject: in\r\nMessage-ID: <tracked-1@hosted.example>\r\n\r\nhi\r\n"
MESSAGE = b"From: <alice@hosted.example>\r\nSubject: tracked\r\nMessage-ID: <tracked-1@hosted.example>\r\n\r\nhello\r\n"


def send(client: smtplib.SMTP, sender: str, recipients: list[str], message: bytes) -> str:
    """The log id from the 250 that ends DATA."""
    client.ehlo_or_helo_if_needed()
    client.mail(sender)
    for recipient in recipients:
        client.rcpt(recipient)
    code, reply = client.data(message)
    assert code == 250, reply
    match = QUEUED_AS.fullmatch(reply.decode())
    assert match, reply
    return match.group(1)


def statuses(db: Database, log_id: str) -> dict[str, str]:
    return {r.address: r.status for r in get_message(db, log_id, actor=CONSOLE).recipients}


@pytest.fixture
def relaying(start_smtp, smarthost: StockSmtp) -> RunningSmtp:  # type: ignore[no-untyped-def]
    return start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=0.05, queue_lifetime=3600)


def test_mx_delivery_is_logged_under_the_id_the_250_names(smtp: RunningSmtp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shared.mail.message_log")
    with mx_client(smtp) as client:
        log_id = send(client, "Someone@Remote.example", [BOB, "nobody@hosted.example"], INBOUND)
    view = get_message(smtp.db, log_id, actor=CONSOLE)
    assert (view.via, view.client_ip, view.user) == ("mx", "127.0.0.1", "")
    assert (view.sender, view.message_id, view.size) == ("someone@remote.example", "tracked-1@hosted.example", view.size)
    assert view.size > len(INBOUND)  # with our trace headers, as stored
    assert {r.address: r.status for r in view.recipients} == {BOB: "delivered", "nobody@hosted.example": "refused"}
    refused = next(r for r in view.recipients if r.status == "refused")
    assert refused.reply.startswith("550 5.1.1")
    lines = [r.getMessage() for r in caplog.records]
    assert f"{log_id}: from=<Someone@Remote.example> to=<{BOB}> status=delivered relay=local reply=-" in lines


def test_submission_outcomes_from_a_smarthost_that_accepts_defers_and_refuses(
    relaying: RunningSmtp, smarthost: StockSmtp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shared.mail.message_log")
    later, gone = "later@remote.example", "gone@remote.example"
    smarthost.handler.rcpt_replies[later] = ["451 4.2.0 try later", "451 4.2.0 try later"]
    smarthost.handler.rcpt_replies[gone] = ["550 5.1.1 no such user"]
    with submit(relaying) as client:
        log_id = send(client, ALICE, [REMOTE, later, gone, BOB], MESSAGE)
    view = get_message(relaying.db, log_id, actor=CONSOLE)
    assert (view.via, view.user) == ("submission", ALICE)
    assert statuses(relaying.db, log_id) == {REMOTE: "queued", later: "queued", gone: "queued", BOB: "delivered"}
    work_queue(relaying.db)
    assert statuses(relaying.db, log_id) == {REMOTE: "relayed", later: "deferred", gone: "bounced", BOB: "delivered"}
    view = get_message(relaying.db, log_id, actor=CONSOLE)
    by_address = {r.address: r for r in view.recipients}
    assert by_address[gone].reply == "550 5.1.1 no such user" and by_address[gone].attempts == 1
    assert by_address[later].reply == "451 4.2.0 try later" and by_address[later].attempts == 1
    relayed = [e for e in view.events if e.address == REMOTE]
    assert [e.status for e in relayed] == ["queued", "relayed"]
    assert relayed[1].relay == f"127.0.0.1:{smarthost.port}" and relayed[1].reply.startswith("250")
    time.sleep(0.1)  # the retry is due after queue_retry_base
    work_queue(relaying.db)
    assert statuses(relaying.db, log_id)[later] == "deferred"
    assert next(r for r in get_message(relaying.db, log_id, actor=CONSOLE).recipients if r.address == later).attempts == 2
    lines = [r.getMessage() for r in caplog.records]
    assert f"{log_id}: from=<{ALICE}> to=<{gone}> status=bounced relay=127.0.0.1:{smarthost.port} reply=550 5.1.1 no such user" in lines


def test_refusal_at_data_is_logged_with_our_reply(smtp: RunningSmtp) -> None:
    client = RawSmtp(smtp.mx)
    client.command(b"EHLO client.example")
    client.command(b"MAIL FROM:<someone@remote.example>")
    assert client.command(f"RCPT TO:<{BOB}>".encode()).startswith(b"250")
    assert client.command(b"DATA").startswith(b"354")
    reply = client.command(b"Subject: bare\nnewline\r\n.")
    assert reply.startswith(b"550")
    client.close()
    [entry] = search_messages(smtp.db, actor=CONSOLE, filters=LogFilters(recipient=BOB, status="refused")).items
    assert entry.recipients[0].reply == reply.decode().strip()


def test_recipients_refused_without_data_are_logged_when_the_session_ends(smtp: RunningSmtp) -> None:
    client = RawSmtp(smtp.mx)
    client.command(b"EHLO client.example")
    client.command(b"MAIL FROM:<prober@remote.example>")
    assert client.command(b"RCPT TO:<nobody@hosted.example>").startswith(b"550")
    assert client.command(b"QUIT").startswith(b"221")
    client.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = search_messages(smtp.db, actor=CONSOLE, filters=LogFilters(sender="prober@remote.example")).items
        if found:
            break
        time.sleep(0.05)
    [entry] = found
    assert [(r.address, r.status) for r in entry.recipients] == [("nobody@hosted.example", "refused")]
    assert entry.message_id == "" and entry.size == 0


def test_entries_older_than_the_retention_are_purged(smtp: RunningSmtp) -> None:
    with mx_client(smtp) as client:
        kept = send(client, "someone@remote.example", [BOB], INBOUND)
    old = message_log.Entry(
        log_id=message_log.new_log_id(time.time() - 31 * 86400),
        sender="old@remote.example",
        message_id="old@remote.example",
        size=10,
        origin=message_log.Origin("mx", "192.0.2.1"),
        outcomes=(message_log.Outcome(BOB, message_log.Status.DELIVERED),),
        at=datetime.now(timezone.utc) - timedelta(days=31),
    )
    message_log.record_refusal(smtp.db, old)  # any entry written on its own
    assert message_log.purge_expired(smtp.db, days=30) == 1
    with smtp.db.session.begin() as s:
        assert list(s.scalars(select(LoggedMessage.id))) == [kept]
        assert s.scalar(select(func.count()).select_from(LoggedMessage)) == 1


def test_the_smtp_worker_purges_entries_past_the_retention_itself(start_smtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp(log_retention_days=2)
    moment = time.time() - 3 * 86400
    old = message_log.Entry(
        log_id=message_log.new_log_id(moment),
        sender="old@remote.example",
        message_id="",
        size=1,
        origin=message_log.Origin("mx"),
        outcomes=(),
        at=datetime.fromtimestamp(moment, timezone.utc),
    )
    message_log.record_refusal(server.db, old)
    recent = message_log.Entry(**{**old.__dict__, "log_id": message_log.new_log_id(time.time() - 86400)})
    message_log.record_refusal(server.db, recent)
    work_queue(server.db)  # the worker's first round sweeps
    with server.db.session.begin() as s:
        assert list(s.scalars(select(LoggedMessage.id))) == [recent.log_id]


def test_the_smtp_worker_purges_idempotency_keys_past_24_hours(start_smtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp()
    token = tokens.create_token(server.db, ALICE, name="app", sends_mail=True, actor=CONSOLE).token
    for key in ("old", "recent"):
        assert idempotency.claim(server.db, token.id, key, request_hash="h") is None
    with server.db.session.begin() as s:  # a day and a minute ago: past what a key is kept
        s.execute(
            update(IdempotentSend)
            .where(IdempotentSend.key == "old")
            .values(created_at=datetime.now(timezone.utc) - idempotency.KEPT - timedelta(minutes=1))
        )
    work_queue(server.db)  # the worker's first round sweeps, with no send by that token
    with server.db.session.begin() as s:
        assert list(s.scalars(select(IdempotentSend.key))) == ["recent"]


def test_a_message_over_the_size_limit_is_logged_as_refused(start_smtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp(max_message_size=1000)
    client = RawSmtp(server.mx)
    client.command(b"EHLO client.example")
    client.command(b"MAIL FROM:<big@remote.example>")
    assert client.command(f"RCPT TO:<{BOB}>".encode()).startswith(b"250")
    assert client.command(b"DATA").startswith(b"354")
    reply = client.command(b"Subject: big\r\n\r\n" + b"x" * 2000 + b"\r\n.")
    assert reply.startswith(b"552")
    client.command(b"QUIT")
    client.close()
    deadline = time.monotonic() + 5
    while not (found := search_messages(server.db, actor=CONSOLE, filters=LogFilters(sender="big@remote.example")).items):
        assert time.monotonic() < deadline, "never logged"
        time.sleep(0.05)
    assert [(r.address, r.status, r.reply) for r in found[0].recipients] == [(BOB, "refused", reply.decode().strip())]
