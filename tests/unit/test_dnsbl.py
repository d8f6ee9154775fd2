"""RFC 5782's query names and what counts as a listing (no sockets)."""
from __future__ import annotations

import pytest

from shared.mail.dnsbl import is_listing, query_name


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("192.0.2.99", "99.2.0.192.bl.example"),  # RFC 5782 §2.1
        # §2.4: every nibble of the full address, reversed.
        ("2001:db8:1:2:3:4:567:89ab", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example"),
        # A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d; it is listed as IPv4.
        ("::ffff:192.0.2.99", "99.2.0.192.bl.example"),
    ],
)
def test_query_name(ip: str, expected: str) -> None:
    assert query_name(ip, "bl.example") == expected


def test_query_name_refuses_what_is_no_address() -> None:
    with pytest.raises(ValueError):
        query_name("unknown", "bl.example")


@pytest.mark.parametrize(
    ("answer", "listed"),
    [("127.0.0.2", True), ("127.255.255.254", True), ("10.0.0.2", False), ("128.0.0.1", False), ("::1", False)],
)
def test_only_answers_in_127_8_are_listings(answer: str, listed: bool) -> None:
    assert is_listing(answer) is listed
