"""SRS and ARC for forwarded mail, end to end: a message for an alias or a mailbox that forwards
to another domain reaches the next hop (a capturing SMTP server on loopback) with an SRS
envelope sender of the forwarding domain and an ARC set that verifies against the domain's
published key; a bounce to that SRS address on our MX reaches the original sender's server."""

from __future__ import annotations

import dkim
import pytest

from shared.accounts import create_alias
from shared.accounts.forwarding import set_forwarding
from shared.accounts.views import CONSOLE
from shared.mail import dkimkeys, srs, verp
from shared.storage.db import Database

from .support import (
    ALIAS_DOMAIN,
    ALICE,
    BOB,
    DOMAIN,
    SECOND,
    RunningSmtp,
    StockSmtp,
    mint_srs0,
    mx_client,
    submit,
    work_queue,
)

pytestmark = pytest.mark.integration
HOSTNAME = "mx.hosted.example"  # the server's name in tests/integration/smtp/conftest.py
ORIGIN = "origin@example.org"
OUTSIDE = "outside@remote.example"
# The seal carries the Authentication-Results our MX writes above every message it accepts.
MESSAGE = b"From: Origin <origin@example.org>\r\nTo: team\r\nSubject: forwarded\r\n\r\nhello\r\n"


@pytest.fixture
def relaying(start_smtp, smarthost: StockSmtp) -> RunningSmtp:  # type: ignore[no-untyped-def]
    return start_smtp(relay_host=f"127.0.0.1:{smarthost.port}", queue_retry_base=60)


def published_keys(db: Database):  # type: ignore[no-untyped-def]
    """A DNS TXT lookup that answers with the DKIM records we would publish for hosted domains."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        selector, _label, domain = name.decode().rstrip(".").partition("._domainkey.")
        if selector != dkimkeys.SELECTOR:
            return None
        return dkimkeys.dns_record(db.settings, domain)[1].encode()

    return lookup


def arc_result(db: Database, content: bytes) -> bytes:
    result, _sets, reason = dkim.arc_verify(content, dnsfunc=published_keys(db))
    assert result == dkim.CV_Pass, reason
    return result  # type: ignore[no-any-return]


def forward_through_alias(server: RunningSmtp, smarthost: StockSmtp, sender: str) -> tuple[str, bytes]:
    """Send MESSAGE from `sender` to an alias that forwards to OUTSIDE; what the next hop got:
    the envelope sender and the content."""
    create_alias(server.db, f"team@{DOMAIN}", [OUTSIDE], actor=CONSOLE)
    with mx_client(server) as client:
        assert client.sendmail(sender, [f"team@{DOMAIN}"], MESSAGE) == {}
    assert work_queue(server.db) == 1
    [(relayed_sender, recipients, content)] = smarthost.received
    assert recipients == [OUTSIDE]
    return relayed_sender, content


def test_an_alias_forward_leaves_with_an_srs_sender_and_a_valid_arc_seal(
    relaying: RunningSmtp, smarthost: StockSmtp
) -> None:
    sender, content = forward_through_alias(relaying, smarthost, ORIGIN)
    assert sender == mint_srs0(relaying.settings, DOMAIN, ORIGIN)
    assert content.startswith(b"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=hosted.example; s=beacon;")
    assert f"ARC-Authentication-Results: i=1; {HOSTNAME};".encode() in content
    assert content.endswith(MESSAGE)
    arc_result(relaying.db, content)


def test_a_bounce_to_the_srs_address_reaches_the_original_sender(relaying: RunningSmtp, smarthost: StockSmtp) -> None:
    # A sender whose SRS local part is longer than 64 octets, as SRS local parts often are.
    origin = "bounces-0123456789abcdef@notifications.long-company-name.example.org"
    srs_sender, _content = forward_through_alias(relaying, smarthost, origin)
    assert len(srs_sender.rpartition("@")[0]) > 64
    bounce = b"From: MAILER-DAEMON@remote.example\r\nSubject: Undelivered Mail\r\n\r\nno such user\r\n"
    with mx_client(relaying) as client:
        assert client.sendmail("", [srs_sender], bounce) == {}
    assert work_queue(relaying.db) == 1
    (returned_sender, returned_to, returned) = smarthost.received[1]
    assert (returned_sender, returned_to) == ("<>", [origin])  # the null sender is kept
    assert returned.endswith(bounce) and b"ARC-Seal" not in returned


def test_a_staff_forward_through_an_alias_domain_uses_the_mailbox_domain(
    relaying: RunningSmtp, smarthost: StockSmtp
) -> None:
    set_forwarding(relaying.db, BOB, [OUTSIDE], keep_copy=False, actor=CONSOLE)
    with mx_client(relaying) as client:
        client.sendmail(ORIGIN, [f"bob@{ALIAS_DOMAIN}"], MESSAGE)
    work_queue(relaying.db)
    [(sender, recipients, content)] = smarthost.received
    assert sender == mint_srs0(relaying.settings, DOMAIN, ORIGIN) and recipients == [OUTSIDE]
    arc_result(relaying.db, content)


def test_forwards_from_two_domains_leave_with_each_domains_srs_sender(
    relaying: RunningSmtp, smarthost: StockSmtp
) -> None:
    create_alias(relaying.db, f"team@{DOMAIN}", [OUTSIDE], actor=CONSOLE)
    create_alias(relaying.db, f"team@{SECOND}", ["other@remote.example"], actor=CONSOLE)
    with mx_client(relaying) as client:
        client.sendmail(ORIGIN, [f"team@{DOMAIN}", f"team@{SECOND}"], MESSAGE)
    work_queue(relaying.db)
    sent = sorted((recipients, sender) for sender, recipients, _content in smarthost.received)
    assert sent == [
        (["other@remote.example"], mint_srs0(relaying.settings, SECOND, ORIGIN)),
        ([OUTSIDE], mint_srs0(relaying.settings, DOMAIN, ORIGIN)),
    ]
    for _sender, _recipients, content in smarthost.received:
        arc_result(relaying.db, content)


def test_hosted_and_null_senders_are_not_rewritten_nor_sealed(relaying: RunningSmtp, smarthost: StockSmtp) -> None:
    create_alias(relaying.db, f"team@{DOMAIN}", [OUTSIDE], actor=CONSOLE)
    with submit(relaying) as client:
        client.sendmail(ALICE, [f"team@{DOMAIN}"], b"From: alice@hosted.example\r\nSubject: ours\r\n\r\nx\r\n")
    with mx_client(relaying) as client:
        client.sendmail("", [f"team@{DOMAIN}"], MESSAGE)
    work_queue(relaying.db)
    null, hosted = sorted(sender for sender, _recipients, _content in smarthost.received)
    assert null == "<>" and verp.log_id_of(relaying.settings, hosted) is not None  # alice's own VERP, no SRS
    assert not any(b"ARC-Seal" in content for _sender, _recipients, content in smarthost.received)


def test_an_srs_sender_is_rewritten_again_as_srs1_and_bounces_go_to_the_first_hop(
    relaying: RunningSmtp, smarthost: StockSmtp
) -> None:
    first_hop = "SRS0=AbCd=AB=example.org=origin@first-hop.example"
    sender, _content = forward_through_alias(relaying, smarthost, first_hop)
    assert sender.startswith("SRS1=") and sender.endswith("=first-hop.example==AbCd=AB=example.org=origin@hosted.example")
    assert srs.original_address(relaying.settings, sender, DOMAIN) == first_hop
    with mx_client(relaying) as client:
        client.sendmail("", [sender], b"Subject: bounce\r\n\r\nx\r\n")
    work_queue(relaying.db)
    assert smarthost.received[1][:2] == ("<>", [first_hop])
