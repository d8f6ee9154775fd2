"""SRS addresses from outside: the MX routes mail to one of our SRS addresses on to the address
it names, so a forged one would make us an open relay. Only an address we wrote, for that
domain, in the last 21 days, is accepted; every other gets `550 5.1.1` and nothing is queued."""

from __future__ import annotations

import pytest
from integration.smtp.support import RawSmtp, RunningSmtp, mint_srs0
from sqlalchemy import select

from shared.accounts import create_domain, update_domain
from shared.accounts.views import CONSOLE
from shared.storage.models import OutboundMessage, OutboundRecipient

from .conftest import Hosted, StartSmtp

DOMAIN, SECOND = "hosted.example", "second.example"
VICTIM = "victim@remote.example"


@pytest.fixture
def mx(start_smtp: StartSmtp, hosted: Hosted) -> RunningSmtp:
    server = start_smtp()
    create_domain(server.db, SECOND, actor=CONSOLE)
    return server


def rcpt_replies(server: RunningSmtp, addresses: list[str]) -> list[bytes]:
    """The reply to `RCPT TO:<address>` for each address, in one bounce transaction each."""
    client = RawSmtp(server.mx)
    assert client.command(b"EHLO attacker.example").startswith(b"250")
    answers = []
    for address in addresses:
        assert client.command(b"MAIL FROM:<>").startswith(b"250")
        answers.append(client.command(f"RCPT TO:<{address}>".encode()))
        assert client.command(b"RSET").startswith(b"250")
    client.close()
    return answers


def send_bounce(server: RunningSmtp, address: str) -> bytes:
    client = RawSmtp(server.mx)
    client.send(f"EHLO attacker.example\r\nMAIL FROM:<>\r\nRCPT TO:<{address}>\r\nDATA\r\n".encode())
    replies = [client.reply() for _ in range(4)]
    if replies[-1].startswith(b"354"):
        replies.append(client.command(b"Subject: bounce\r\n\r\nundeliverable\r\n."))
    client.close()
    return replies[2]


def queued(server: RunningSmtp) -> list[tuple[str, str]]:
    with server.db.session.begin() as s:
        rows = s.execute(
            select(OutboundMessage.sender, OutboundRecipient.address).join(
                OutboundRecipient, OutboundRecipient.message_id == OutboundMessage.id
            )
        )
        return [(sender, address) for sender, address in rows]


def assert_refused_as_unknown(server: RunningSmtp, addresses: list[str]) -> None:
    for address, reply in zip(addresses, rcpt_replies(server, addresses), strict=True):
        assert reply.startswith(b"550 5.1.1 "), (address, reply)
    for address in addresses:
        assert send_bounce(server, address).startswith(b"550 5.1.1 ")
    assert queued(server) == []


def test_a_valid_address_is_routed_back_with_the_null_sender(mx: RunningSmtp) -> None:
    assert send_bounce(mx, mint_srs0(mx.settings, DOMAIN, VICTIM)).startswith(b"250 ")
    assert queued(mx) == [("", VICTIM)]


def test_a_forged_hash_is_refused_in_every_case_spelling(mx: RunningSmtp) -> None:
    valid = mint_srs0(mx.settings, DOMAIN, VICTIM)
    real_hash = valid.split("=")[1]
    forged = "abcd" if real_hash.lower() != "abcd" else "wxyz"
    spellings = {"".join(c.upper() if bit & (1 << i) else c for i, c in enumerate(forged)) for bit in range(16)}
    assert_refused_as_unknown(mx, [valid.replace(f"={real_hash}=", f"={h}=") for h in sorted(spellings)])


def test_a_shortened_hash_is_refused(mx: RunningSmtp) -> None:
    """srslib alone checks only as many characters as the address carries."""
    assert_refused_as_unknown(mx, [mint_srs0(mx.settings, DOMAIN, VICTIM, hash_length=n) for n in (1, 2, 3)])


def test_an_expired_timestamp_is_refused(mx: RunningSmtp) -> None:
    assert_refused_as_unknown(mx, [mint_srs0(mx.settings, DOMAIN, VICTIM, days_ago=days) for days in (21, 400, 1023)])


def test_a_valid_hash_for_another_domain_is_refused(mx: RunningSmtp) -> None:
    for_second = mint_srs0(mx.settings, SECOND, VICTIM)
    assert rcpt_replies(mx, [for_second])[0].startswith(b"250 ")
    assert_refused_as_unknown(mx, [for_second.replace(f"@{SECOND}", f"@{DOMAIN}")])


def test_a_valid_hash_with_another_original_is_refused(mx: RunningSmtp) -> None:
    valid = mint_srs0(mx.settings, DOMAIN, VICTIM)
    assert_refused_as_unknown(
        mx,
        [
            valid.replace("=remote.example=victim@", "=elsewhere.example=victim@"),
            valid.replace("=victim@", "=postmaster@"),
            valid.replace("SRS0=", "SRS1="),
        ],
    )


def test_case_games_on_a_valid_address_reach_only_its_sender(mx: RunningSmtp) -> None:
    valid = mint_srs0(mx.settings, DOMAIN, VICTIM)
    for spelling in (valid.upper(), valid.lower(), "srs0" + valid[4:]):
        assert send_bounce(mx, spelling).startswith(b"250 ")
    assert sorted(address.lower() for _sender, address in queued(mx)) == [VICTIM] * 3


def test_overlong_parts_are_refused(mx: RunningSmtp) -> None:
    valid = mint_srs0(mx.settings, DOMAIN, VICTIM)
    _tag, real_hash, stamp, _rest = valid.split("=", 3)
    overlong = [
        valid.replace(f"={real_hash}=", f"={real_hash}{real_hash}="),
        valid.replace(f"={stamp}=", f"={stamp}{stamp}="),
        valid.replace("=victim@", f"=victim{'x' * 200}@"),
        valid.replace("=remote.example=", f"={'a' * 63}.{'b' * 63}.{'c' * 63}.example="),
    ]
    for address, reply in zip(overlong, rcpt_replies(mx, overlong), strict=True):
        assert reply.startswith((b"550 5.1.1 ", b"553 5.1.3 ")), (address, reply)
    client = RawSmtp(mx.mx)
    client.command(b"EHLO attacker.example")
    client.command(b"MAIL FROM:<>")
    assert client.command(f"RCPT TO:<{valid.replace('=victim@', '=' + 'v' * 3000 + '@')}>".encode()).startswith(b"500")
    assert client.command(f"RCPT TO:<{valid}>".encode()).startswith(b"250 ")  # the session goes on
    client.close()
    assert queued(mx) == []


def test_our_srs_address_at_a_domain_we_do_not_host_is_not_relayed(mx: RunningSmtp) -> None:
    valid = mint_srs0(mx.settings, DOMAIN, VICTIM)
    [reply] = rcpt_replies(mx, [valid.replace(f"@{DOMAIN}", "@remote.example")])
    assert reply.startswith(b"554 5.7.1 ")
    assert queued(mx) == []


def test_a_disabled_domain_routes_nothing_back(mx: RunningSmtp) -> None:
    update_domain(mx.db, DOMAIN, active=False, actor=CONSOLE)
    [reply] = rcpt_replies(mx, [mint_srs0(mx.settings, DOMAIN, VICTIM)])
    assert reply.startswith(b"550 ")
    assert queued(mx) == []
