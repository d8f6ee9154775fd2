"""Refusals on the submission port are logged as on the MX: a recipient refused at RCPT beside
an accepted one (in the entry behind the 250), and a message refused at DATA, each `refused`
with our reply, under `submission` and the signed-in user. Both databases."""

from __future__ import annotations

import pytest

from shared.accounts.message_tracking import LogFilters, get_message, search_messages
from shared.accounts.views import CONSOLE

from .support import ALICE, BOB, RunningSmtp, submit
from .test_message_log import MESSAGE, QUEUED_AS
from .test_smtp_dsn import submission

pytestmark = pytest.mark.integration
NOBODY = "nobody@hosted.example"


def test_a_recipient_refused_at_rcpt_is_logged_beside_the_accepted_one(shared_smtp: RunningSmtp) -> None:
    with submit(shared_smtp) as client:
        client.mail(ALICE)
        code, reply = client.rcpt(NOBODY)
        assert code == 550
        assert client.rcpt(BOB)[0] == 250
        code, queued = client.data(MESSAGE)
    match = QUEUED_AS.fullmatch(queued.decode())
    assert code == 250 and match
    view = get_message(shared_smtp.db, match.group(1), actor=CONSOLE)
    assert (view.via, view.user, view.sender) == ("submission", ALICE, ALICE)
    recipients = {r.address: (r.status, r.reply) for r in view.recipients}
    assert recipients == {BOB: ("delivered", ""), NOBODY: ("refused", f"550 {reply.decode()}")}


def test_a_message_refused_at_data_is_logged_with_our_reply(shared_smtp: RunningSmtp) -> None:
    client = submission(shared_smtp)
    assert client.command(f"MAIL FROM:<{ALICE}>".encode()).startswith(b"250")
    assert client.command(f"RCPT TO:<{BOB}>".encode()).startswith(b"250")
    assert client.command(b"DATA").startswith(b"354")
    reply = client.command(b"Subject: refused on submission\nbare newline\r\n.")
    client.close()
    assert reply.startswith(b"550")
    entry = search_messages(  # the newest: the server is shared with other tests
        shared_smtp.db, actor=CONSOLE, filters=LogFilters(sender=ALICE, recipient=BOB, status="refused")
    ).items[0]
    assert (entry.via, entry.user) == ("submission", ALICE)
    assert [(r.address, r.reply) for r in entry.recipients] == [(BOB, reply.decode().strip())]
