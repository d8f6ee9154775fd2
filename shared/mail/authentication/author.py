"""The author domains of a message: the domains of its From: addresses (RFC 7489 §3.1.1).

RFC 5322 lets one From: name several authors (with a Sender:); RFC 7489 §6.6.1 lets a receiver
apply DMARC to each of their domains, which we do (the strictest outcome counts, see
checks.authenticate), so real multi-author mail is not refused for its form. A From: that
cannot be read the way a mail reader shows it (several From: fields, no address, an address
Python's parser reads differently from a reader, a domain that is not one) has no trustworthy
author: it is ambiguous and treated as failing. A message without any From: field has no author domain at
all (an MX must not refuse it for that, RFC 5321 §3.6 and RFC 6409 §8).

The field is parsed once per message, here: the sender lists (shared.mail.screening) match the
addresses read with the author domains.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address, HeaderRegistry

from shared.errors import InvalidAddress
from shared.mail.addresses import normalise_domain
from shared.mail.authentication.fields import header_fields, without_comments

_FROM_FIELD = re.compile(rb"from[ \t]*:", re.IGNORECASE)
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_PARSE = HeaderRegistry()
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
# What an undecodable byte of the field reads as: an address holding it is no one's to list.
_UNDECODABLE = "\ufffd"


@dataclass(frozen=True)
class Author:
    domains: tuple[str, ...]  # each distinct author domain, in order; () when there is none
    ambiguous: bool = False  # several From: fields, or addresses that cannot be read unambiguously
    # The first From: field's addresses that have a domain, as Python's parser reads them (even
    # when ambiguous): the senders a listing can match besides the envelope sender.
    addresses: tuple[str, ...] = ()


def author_of(message: bytes) -> Author:
    values = [field[field.index(b":") + 1 :] for field in header_fields(message) if _FROM_FIELD.match(field)]
    if not values:
        return Author(())
    text = _FOLD.sub(b"", values[0]).strip().decode("utf-8", "replace")
    parsed = _parse_addresses(text)
    listable = tuple(a.addr_spec for a in parsed if a.domain and _UNDECODABLE not in a.addr_spec)
    if len(values) > 1 or not parsed or _at_signs(text) != len(parsed):
        # Python's parser reads `e@evil.example <alice@hosted.example>` as one address, the first;
        # a mail reader shows the second: an `@` the parser did not use makes the field ambiguous.
        return Author((), ambiguous=True, addresses=listable)
    try:
        return Author(tuple(dict.fromkeys(normalise_domain(address.domain) for address in parsed)), addresses=listable)
    except InvalidAddress:
        return Author((), ambiguous=True, addresses=listable)


def _parse_addresses(text: str) -> tuple[Address, ...]:
    """The field's addresses; none when the parser gives up on it."""
    try:
        addresses: tuple[Address, ...] = _PARSE("from", text).addresses  # type: ignore[attr-defined]
    except (HeaderParseError, ValueError, IndexError):
        return ()
    return addresses


def _at_signs(text: str) -> int:
    """How many `@` the field has outside quoted strings and comments (display names may hold any)."""
    return without_comments(_QUOTED.sub("", text)).count("@")
