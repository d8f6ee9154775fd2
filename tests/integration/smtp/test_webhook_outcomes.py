"""Every outcome event the outbound worker can reach for submitted mail, with a real smarthost
that accepts, defers and refuses per recipient, told to a real receiver that checks the Standard
Webhooks signature: `message.relayed`, `message.deferred`, `message.bounced` (a 5xx, the sender
told) and `message.failed` (a 5xx with NOTIFY=NEVER: no one is told). Both databases.
(`message.received` and `message.delivered` for SMTP mail are branch perf's.)"""

from __future__ import annotations

import pytest

from shared.accounts import webhooks
from shared.accounts.views import CONSOLE
from shared.mail.webhooks import EVENTS
from tests.webhook_receiver import webhook_receiver

from .support import ALICE, DOMAIN, REMOTE, RunningSmtp, StockSmtp, submit, work_queue
from .test_bounces import message
from .test_message_log import QUEUED_AS

pytestmark = pytest.mark.integration
LATER, GONE, UNTOLD = "later@remote.example", "gone@remote.example", "untold@remote.example"
OUTCOMES = {"message.relayed", "message.deferred", "message.bounced", "message.failed"}


@pytest.fixture
def relaying(start_smtp, smarthost: StockSmtp) -> RunningSmtp:  # type: ignore[no-untyped-def]
    return start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=60, webhook_allow_private=True)


def test_relayed_deferred_bounced_and_failed_reach_a_signed_webhook(relaying: RunningSmtp, smarthost: StockSmtp) -> None:
    smarthost.handler.rcpt_replies[LATER] = ["451 4.2.0 try later"]
    smarthost.handler.rcpt_replies[GONE] = ["550 5.1.1 no such user"]
    smarthost.handler.rcpt_replies[UNTOLD] = ["550 5.1.1 no such user"]
    with webhook_receiver() as receiver:
        issued = webhooks.create_webhook(relaying.db, DOMAIN, receiver.url, list(EVENTS), actor=CONSOLE)
        receiver.secret = issued.secret
        with submit(relaying) as client:
            client.mail(ALICE)
            for recipient in (REMOTE, LATER, GONE):
                assert client.rcpt(recipient)[0] == 250
            assert client.rcpt(UNTOLD, options=["NOTIFY=NEVER"])[0] == 250
            code, reply = client.data(message("outcomes@hosted.example"))
        assert code == 250
        match = QUEUED_AS.fullmatch(reply.decode())
        assert match
        log_id = match.group(1)
        work_queue(relaying.db)  # the delivery tries
        work_queue(relaying.db)  # the webhooks they queued
        told = [r for r in receiver.received if r.event["type"] in OUTCOMES]
    assert all(r.verified for r in told)
    assert sorted((r.event["type"], r.event["data"]["recipient"], r.event["data"]["id"]) for r in told) == [
        ("message.bounced", GONE, log_id),
        ("message.deferred", LATER, log_id),
        ("message.failed", UNTOLD, log_id),
        ("message.relayed", REMOTE, log_id),
    ]
    replies = {r.event["data"]["recipient"]: r.event["data"]["reply"] for r in told}
    assert (replies[LATER], replies[GONE]) == ("451 4.2.0 try later", "550 5.1.1 no such user")
