"""The author domain of a message: the domain of its one From: address (RFC 7489 §3.1.1).

A message with several From: fields, or a From: with several addresses or none, has no single
author: RFC 7489 §6.6.1 lets a receiver treat it as failing, and we do, since any one of the
addresses could be the one a reader sees. A message without any From: field has no author
domain at all (an MX must not refuse it for that, RFC 5321 §3.6 and RFC 6409 §8).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import HeaderRegistry

from shared.errors import InvalidAddress
from shared.mail.addresses import normalise_domain
from shared.mail.authentication.fields import header_fields, without_comments

_FROM_FIELD = re.compile(rb"from[ \t]*:", re.IGNORECASE)
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_PARSE = HeaderRegistry()
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class Author:
    domain: str  # "" when there is none
    ambiguous: bool = False  # several From: fields or addresses, or one that cannot be read


def author_of(message: bytes) -> Author:
    values = [field[field.index(b":") + 1 :] for field in header_fields(message) if _FROM_FIELD.match(field)]
    if not values:
        return Author("")
    if len(values) > 1:
        return Author("", ambiguous=True)
    text = _FOLD.sub(b"", values[0]).strip().decode("utf-8", "replace")
    if _at_signs(text) != 1:
        # Python's parser reads `e@evil.example <alice@hosted.example>` as the first address,
        # a mail reader shows the second: any second address, however odd, makes it ambiguous.
        return Author("", ambiguous=True)
    parsed = _PARSE("from", text)
    addresses = parsed.addresses  # type: ignore[attr-defined]
    if len(addresses) != 1:
        return Author("", ambiguous=True)
    try:
        return Author(normalise_domain(addresses[0].domain))
    except InvalidAddress:
        return Author("", ambiguous=True)


def _at_signs(text: str) -> int:
    """How many `@` the field has outside quoted strings and comments (display names may hold any)."""
    return without_comments(_QUOTED.sub("", text)).count("@")
