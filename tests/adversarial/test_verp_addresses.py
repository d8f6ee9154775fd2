"""VERP return paths from outside: the MX takes mail to one of our VERP addresses for the sender
of the message it names, and a delivery report there changes that message's log and the
suppression list. So only an address we wrote is accepted: a forged or altered mac, a log id
swapped for another (the mac is over the id), a tag moved to another hosted domain, or a tag
whose log entry was purged all get `550 5.1.1`, and nothing is delivered, logged as bounced
or suppressed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from integration.smtp.support import RawSmtp, RunningSmtp, message_count
from integration.smtp.test_bounces import remote_dsn

from shared.accounts import create_domain, create_mailbox, suppressions
from shared.accounts.message_tracking import get_message
from shared.accounts.views import CONSOLE
from shared.mail import message_log, outbound, verp
from shared.storage.db import Database
from tests.messagelog import accept

from .conftest import Hosted, StartSmtp

DOMAIN, SECOND = "hosted.example", "second.example"
ALICE, ZOE = f"alice@{DOMAIN}", f"zoe@{SECOND}"
REMOTE = "friend@remote.example"


@pytest.fixture
def mx(start_smtp: StartSmtp, hosted: Hosted) -> RunningSmtp:
    server = start_smtp()
    create_domain(server.db, SECOND, actor=CONSOLE)
    create_mailbox(server.db, ZOE, "zoe-password-1", actor=CONSOLE)
    return server


def relayed_entry(db: Database, sender: str, message_id: str) -> str:
    """A logged message of `sender` whose copy to REMOTE left (status relayed); its log id."""
    log_id = accept(db, sender, remote=[REMOTE], via="submission", message_id=message_id)
    for delivery in outbound.claim(db, limit=10, lease=timedelta(minutes=1)):
        sent = [outbound.Attempt(r.id, sent=True, permanent=False, reply="250 ok", relay="smarthost.example")
                for r in delivery.recipients]
        outbound.record(db, delivery, sent)
    return log_id


def bounce_to(server: RunningSmtp, address: str, message_id: str) -> bytes:
    """A delivery report for REMOTE sent to `address`: the reply to RCPT, and to DATA if it got that far."""
    client = RawSmtp(server.mx)
    client.send(f"EHLO mx.remote.example\r\nMAIL FROM:<>\r\nRCPT TO:<{address}>\r\nDATA\r\n".encode())
    replies = [client.reply() for _ in range(4)]
    if replies[-1].startswith(b"354"):
        body = remote_dsn(REMOTE, f"550 5.1.1 <{REMOTE}>: no such user", message_id).replace(b"\r\n.", b"\r\n..")
        replies.append(client.command(body + b"."))
    client.close()
    return replies[2]


def state(server: RunningSmtp, log_id: str) -> tuple[str, int, list[str]]:
    """REMOTE's status in the entry, alice's message count, the suppressed addresses."""
    status = {r.address: r.status for r in get_message(server.db, log_id, actor=CONSOLE).recipients}[REMOTE]
    listed = [entry.address for entry in suppressions.list_suppressions(server.db, actor=CONSOLE).items]
    return status, message_count(server.settings, ALICE), listed


def assert_refused(server: RunningSmtp, log_id: str, addresses: list[str], reply: bytes = b"550 5.1.1 ") -> None:
    before = state(server, log_id)
    for address in addresses:
        assert bounce_to(server, address, "verp-1@hosted.example").startswith(reply), address
    assert state(server, log_id) == before == ("relayed", before[1], [])


def test_the_address_we_wrote_is_accepted_in_any_case(mx: RunningSmtp) -> None:
    log_id = relayed_entry(mx.db, ALICE, "verp-1@hosted.example")
    address = verp.return_path(mx.db, ALICE, log_id)
    count = message_count(mx.settings, ALICE)
    assert bounce_to(mx, address.upper(), "verp-1@hosted.example").startswith(b"250 ")
    assert state(mx, log_id) == ("bounced", count + 1, [REMOTE])


def test_a_forged_or_altered_mac_is_refused(mx: RunningSmtp) -> None:
    log_id = relayed_entry(mx.db, ALICE, "verp-1@hosted.example")
    tag, _at, domain = verp.return_path(mx.db, ALICE, log_id).partition("@")
    mac = tag.rsplit("=", 1)[1]
    flipped = [mac[:i] + ("0" if mac[i] != "0" else "1") + mac[i + 1:] for i in (0, 7, 15)]
    forged = [f"verp={log_id}={m}@{domain}" for m in (*flipped, "0" * 16, mac[:15], mac + "0", "g" * 16, "")]
    assert_refused(mx, log_id, forged)


def test_a_log_id_swapped_for_another_is_refused(mx: RunningSmtp) -> None:
    log_id = relayed_entry(mx.db, ALICE, "verp-1@hosted.example")
    other = relayed_entry(mx.db, ALICE, "verp-2@hosted.example")
    mac = verp.return_path(mx.db, ALICE, log_id).partition("@")[0].rsplit("=", 1)[1]
    assert_refused(mx, log_id, [f"verp={other}={mac}@{DOMAIN}", f"verp={'0' * 20}={mac}@{DOMAIN}"])
    assert state(mx, other)[0] == "relayed"


def test_a_tag_moved_to_another_hosted_domain_is_refused(mx: RunningSmtp) -> None:
    log_id = relayed_entry(mx.db, ALICE, "verp-1@hosted.example")
    zoes = relayed_entry(mx.db, ZOE, "verp-3@second.example")
    moved = verp.return_path(mx.db, ALICE, log_id).replace(f"@{DOMAIN}", f"@{SECOND}")
    # zoe's own address carries a mac of second.example: moved to hosted.example it fails, and
    # even a valid mac cannot name an entry of another domain's sender
    zoe_moved = verp.return_path(mx.db, ZOE, zoes).replace(f"@{SECOND}", f"@{DOMAIN}")
    assert_refused(mx, log_id, [moved, zoe_moved])
    assert state(mx, zoes)[0] == "relayed"


def test_a_replay_after_the_entry_was_purged_is_refused(mx: RunningSmtp) -> None:
    log_id = relayed_entry(mx.db, ALICE, "verp-1@hosted.example")
    address = verp.return_path(mx.db, ALICE, log_id)
    kept = relayed_entry(mx.db, ALICE, "verp-2@hosted.example")
    message_log.forget(mx.db, log_id)  # as retention removes it
    count = message_count(mx.settings, ALICE)
    assert bounce_to(mx, address, "verp-1@hosted.example").startswith(b"550 5.1.1 ")
    assert state(mx, kept) == ("relayed", count, [])


def test_malformed_tags_are_refused(mx: RunningSmtp) -> None:
    """Unknown (550 5.1.1) or not an address at all (553)."""
    log_id = relayed_entry(mx.db, ALICE, "verp-1@hosted.example")
    valid = verp.return_path(mx.db, ALICE, log_id)
    local = valid.partition("@")[0]
    assert_refused(mx, log_id, [
        f"{local}@{DOMAIN}.", f"verp=={local[5:]}@{DOMAIN}", f"verp={log_id}@{DOMAIN}", f"verp={log_id}={log_id}@{DOMAIN}",
        f"{local}=x@{DOMAIN}", f"verp={log_id[:19]}={local[-16:]}@{DOMAIN}", f"{local}\u00e9@{DOMAIN}",
    ], reply=b"55")


def test_a_sender_who_wrote_an_idn_domain_in_unicode_gets_its_bounce_correlated(mx: RunningSmtp) -> None:
    """An SMTPUTF8 client may write its domain in Unicode, and the log keeps it so: the return
    path names the A-label, and the entry is still found (this was a 550 before)."""
    anna = "anna@bücher.example"
    create_domain(mx.db, "bücher.example", actor=CONSOLE)
    create_mailbox(mx.db, anna, "anna-password-1", actor=CONSOLE)
    log_id = relayed_entry(mx.db, anna, "verp-idn@xn--bcher-kva.example")
    address = verp.return_path(mx.db, anna, log_id)
    assert address.endswith("@xn--bcher-kva.example")
    assert bounce_to(mx, address, "verp-idn@xn--bcher-kva.example").startswith(b"250 ")
    assert {r.address: r.status for r in get_message(mx.db, log_id, actor=CONSOLE).recipients}[REMOTE] == "bounced"
