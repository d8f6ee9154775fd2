"""Who the MX accepts mail for: hosted domains and their alias domains only, never a relay;
each refusal with its RFC 3463 code; postmaster always deliverable (RFC 5321 §4.5.1)."""

from __future__ import annotations

import pytest

from .support import RawSmtp, RunningSmtp

pytestmark = pytest.mark.integration


def transaction(server: RunningSmtp, sender: bytes = b"someone@remote.example") -> RawSmtp:
    client = RawSmtp(server.mx)
    assert client.command(b"EHLO client.example").startswith(b"250")
    assert client.command(b"MAIL FROM:<" + sender + b">").startswith(b"250")
    return client


def rcpt(client: RawSmtp, address: bytes) -> bytes:
    return client.command(b"RCPT TO:<" + address + b">")[:9]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (b"alice@hosted.example", b"250 2.1.5"),
        (b"ALICE@Hosted.Example", b"250 2.1.5"),
        (b"alice+tag@hosted.example", b"250 2.1.5"),
        (b"alice@alias.example", b"250 2.1.5"),
        (b"nobody@hosted.example", b"550 5.1.1"),
        (b"nobody@second.example", b"550 5.1.1"),
        (b"carol@hosted.example", b"550 5.2.1"),
        (b"dave@hosted.example", b"452 4.2.2"),
        (b"someone@remote.example", b"554 5.7.1"),
        (b"alice@hosted.example.", b"553 5.1.3"),
        (b"alice@hosted.example\x00.evil", b"553 5.1.3"),
        (b"a\x01b@hosted.example", b"553 5.1.3"),
    ],
)
def test_recipient_rules(shared_smtp: RunningSmtp, address: bytes, expected: bytes) -> None:
    client = transaction(shared_smtp)
    assert rcpt(client, address) == expected
    client.close()


@pytest.mark.parametrize(
    "address",
    [
        b"user%remote.example@hosted.example",  # percent hack
        b"remote.example!user@hosted.example",  # bang path
        b'"user@remote.example"@hosted.example',  # quoted local part holding @
        b"@hosted.example:user@remote.example",  # source route: the route is dropped, the target is remote
        b"@hosted.example,@alias.example:user@remote.example",
        b"user@[127.0.0.1]",  # address literal
        b"user@remote.example@hosted.example",
        b"USER@REMOTE.EXAMPLE",
        b"user@remote.example.",
    ],
)
def test_relay_tricks_are_refused_without_auth(shared_smtp: RunningSmtp, address: bytes) -> None:
    client = transaction(shared_smtp, sender=b"alice@hosted.example")  # a hosted sender grants nothing
    assert rcpt(client, address)[:1] == b"5"
    assert client.command(b"DATA").startswith(b"503 5.5.1")
    client.close()


@pytest.mark.parametrize(
    "address",
    [
        b"postmaster",
        b"Postmaster",
        b"POSTMASTER@hosted.example",
        b"postmaster@second.example",
        b"postmaster@alias.example",
    ],
)
def test_postmaster_of_every_hosted_domain_is_deliverable(shared_smtp: RunningSmtp, address: bytes) -> None:
    client = transaction(shared_smtp, sender=b"")
    assert rcpt(client, address) == b"250 2.1.5"
    client.close()


def test_declared_size_beyond_the_remaining_quota_is_refused_at_rcpt(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.mx)
    client.command(b"EHLO client.example")
    assert client.command(b"MAIL FROM:<someone@remote.example> SIZE=90000").startswith(b"250")
    assert rcpt(client, b"alice@hosted.example") == b"250 2.1.5"  # no quota
    assert rcpt(client, b"dave@hosted.example") == b"452 4.2.2"
    client.close()
