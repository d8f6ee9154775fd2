"""Which senders a message's allow/block listing is matched on (no sockets, no database)."""
from __future__ import annotations

from shared.mail.addresses import Address
from shared.mail.screening import senders


def test_envelope_sender_and_every_from_address() -> None:
    message = b"From: A <a@one.example>, b@Two.Example\r\nSubject: x\r\n\r\nbody\r\n"
    assert senders("bounce@mailer.example", message) == [
        Address("bounce", "mailer.example"),
        Address("a", "one.example"),
        Address("b", "two.example"),
    ]


def test_null_sender_and_missing_from_give_nothing() -> None:
    assert senders("", b"Subject: no from\r\n\r\nbody\r\n") == []


def test_undecodable_or_malformed_from_is_skipped() -> None:
    message = b"From: \xff\xfe@bad.example\r\nFrom: <not an address>\r\n\r\nbody\r\n"
    assert senders("ok@fine.example", message) == [Address("ok", "fine.example")]
