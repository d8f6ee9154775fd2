"""A domain that forbids forwarding to other domains, end to end on the MX: a mailbox's forward
to another domain saved before the switch is left unused, so the message lands in the mailbox
and nothing reaches the next hop (a capturing SMTP server on loopback); switched back, the
forward is followed again."""

from __future__ import annotations

import pytest

from shared.accounts import update_domain
from shared.accounts.forwarding import set_forwarding
from shared.accounts.views import CONSOLE

from .support import BOB, DOMAIN, RunningSmtp, StockSmtp, message_count, mx_client, work_queue

pytestmark = pytest.mark.integration
OUTSIDE = "outside@remote.example"
MESSAGE = b"From: Origin <origin@example.org>\r\nTo: bob\r\nSubject: for bob\r\n\r\nhello\r\n"


@pytest.fixture
def relaying(start_smtp, smarthost: StockSmtp) -> RunningSmtp:  # type: ignore[no-untyped-def]
    return start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=60)


def test_a_saved_outside_forward_is_left_unused_and_the_mail_stays(relaying: RunningSmtp, smarthost: StockSmtp) -> None:
    set_forwarding(relaying.db, BOB, [OUTSIDE], keep_copy=False, actor=CONSOLE)
    update_domain(relaying.db, DOMAIN, forbid_external_forwarding=True, actor=CONSOLE)
    with mx_client(relaying) as client:
        assert client.sendmail("origin@example.org", [BOB], MESSAGE) == {}
    assert work_queue(relaying.db) == 0 and smarthost.received == []
    assert message_count(relaying.settings, BOB) == 1
    update_domain(relaying.db, DOMAIN, forbid_external_forwarding=False, actor=CONSOLE)
    with mx_client(relaying) as client:
        assert client.sendmail("origin@example.org", [BOB], MESSAGE) == {}
    assert work_queue(relaying.db) == 1 and [recipients for _s, recipients, _c in smarthost.received] == [[OUTSIDE]]
    assert message_count(relaying.settings, BOB) == 1  # keep_copy is off: this one left only
