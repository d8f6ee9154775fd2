"""Which senders a message's allow/block listing is matched on (no sockets, no database)."""
from __future__ import annotations

from shared.mail.addresses import Address
from shared.mail.authentication.author import author_of
from shared.mail.screening import senders


def test_envelope_sender_and_every_from_address() -> None:
    message = b"From: A <a@one.example>, b@Two.Example\r\nSubject: x\r\n\r\nbody\r\n"
    assert senders("bounce@mailer.example", author_of(message).addresses) == [
        Address("bounce", "mailer.example"),
        Address("a", "one.example"),
        Address("b", "two.example"),
    ]


def test_null_sender_and_missing_from_give_nothing() -> None:
    assert senders("", author_of(b"Subject: no from\r\n\r\nbody\r\n").addresses) == []


def test_undecodable_or_malformed_from_is_skipped() -> None:
    message = b"From: \xff\xfe@bad.example\r\nFrom: <not an address>\r\n\r\nbody\r\n"
    assert senders("ok@fine.example", author_of(message).addresses) == [Address("ok", "fine.example")]


def test_an_ambiguous_from_still_gives_its_addresses_to_the_lists() -> None:
    """A block listing must match `From: x@blocked.example <a@fine.example>` too: the author
    check finds it ambiguous, and the lists see what the parser read."""
    message = b"From: x@blocked.example <a@fine.example>\r\n\r\nbody\r\n"
    author = author_of(message)
    assert author.ambiguous and senders("", author.addresses) == [Address("x", "blocked.example")]
