"""Mail addresses as values: parsed once at the edge, normalised the same way everywhere.

Domains are stored as lower-case IDNA A-labels (UTS #46 mapping, IDNA 2008).
Local parts are NFC-normalised and lower-cased; internationalised ones stay UTF-8
(RFC 6531), so `Ålice@Bücher.example` and `ålice@xn--bcher-kva.example` are one address.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import idna

from shared.errors import N_, InvalidAddress

MAX_LOCAL_OCTETS = 64
# RFC 1035 §2.3.4 as written in text: 253 characters without the root's dot, 63 per label.
MAX_DOMAIN_CHARS = 253
MAX_LABEL_CHARS = 63
# RFC 5322 atext, plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010FFFF]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# A domain with an A-label, whole (nothing of a name before it, possessive after it) and not a
# local part (no "@" after it).
_A_LABEL_DOMAIN = re.compile(r"(?<![A-Za-z0-9.-])[A-Za-z0-9.-]*[Xx][Nn]--[A-Za-z0-9.-]*+(?!@)")
# The full stop and the ideographic and fullwidth ones UTS #46 maps to it.
_DOTS = re.compile("[.\u3002\uff0e\uff61]")


@dataclass(frozen=True, order=True)
class Address:
    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"

    @property
    def domain_unicode(self) -> str:
        return domain_to_unicode(self.domain)


# Every MAIL and RCPT normalises a domain, and UTS #46 mapping is costly; few names recur.
@functools.lru_cache(maxsize=4096)
def normalise_domain(text: str) -> str:
    """Lower-case IDNA A-label form of a domain name, or InvalidAddress saying what is wrong."""
    name = text.strip().removesuffix(".")
    _check_domain_shape(text, name)
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidAddress(N_("invalid domain: %(domain)r: not a valid international domain name"), domain=text) from exc
    # UTS #46 maps some non-ASCII characters to ASCII ones a host name may not hold (fullwidth _ -> _).
    if not all(_LABEL.fullmatch(label) for label in ascii_name.split(".")):
        raise InvalidAddress(N_("invalid domain: %(domain)r: not a valid international domain name"), domain=text)
    return ascii_name


def _check_domain_shape(text: str, name: str) -> None:
    """Refuse, naming the reason, what a person typing a domain gets wrong (RFC 1035 and RFC 5890
    shapes), before IDNA's own checks, whose refusals say less."""
    if not name:
        raise InvalidAddress(N_("invalid domain: %(domain)r: it is empty"), domain=text)
    if name.startswith("["):
        raise InvalidAddress(N_("invalid domain: %(domain)r: address literals such as [192.0.2.1] are not accepted"), domain=text)
    if " " in name:
        raise InvalidAddress(N_("invalid domain: %(domain)r: it contains a space"), domain=text)
    if len(name) > MAX_DOMAIN_CHARS:
        raise InvalidAddress(
            N_("invalid domain: the name is %(length)s characters long; at most %(limit)s are allowed"),
            length=len(name),
            limit=MAX_DOMAIN_CHARS,
        )
    labels = _DOTS.split(name)
    if len(labels) < 2:
        raise InvalidAddress(N_("invalid domain: %(domain)r: it needs at least one dot, as in example.com"), domain=text)
    for label in labels:
        _check_label(text, label)
    if labels[-1].isdigit():
        raise InvalidAddress(
            N_("invalid domain: %(domain)r: the last label %(label)r is all digits; a top-level domain is never a number"),
            domain=text,
            label=labels[-1],
        )


def _check_label(text: str, label: str) -> None:
    if not label:
        raise InvalidAddress(N_("invalid domain: %(domain)r: it has an empty label (two dots in a row, or a dot first)"), domain=text)
    if label.startswith("-"):
        raise InvalidAddress(N_("invalid domain: %(domain)r: a label may not start with a hyphen (%(label)r)"), domain=text, label=label)
    if label.endswith("-"):
        raise InvalidAddress(N_("invalid domain: %(domain)r: a label may not end with a hyphen (%(label)r)"), domain=text, label=label)
    if label[2:4] == "--" and not label.lower().startswith("xn--"):
        raise InvalidAddress(
            N_("invalid domain: %(domain)r: hyphens in a label's third and fourth places are kept for xn-- names (%(label)r)"),
            domain=text,
            label=label,
        )
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidAddress(
            N_("invalid domain: %(domain)r: the label %(label)r has %(length)s characters; at most %(limit)s are allowed"),
            domain=text,
            label=label,
            length=len(label),
            limit=MAX_LABEL_CHARS,
        )
    # Non-ASCII letters are IDNA's to judge; among ASCII, only letters, digits and hyphens.
    invalid = next((char for char in label if char.isascii() and not (char.isalnum() or char == "-")), None)
    if invalid is not None:
        raise InvalidAddress(N_("invalid domain: %(domain)r: it contains the invalid character %(char)r"), domain=text, char=invalid)


# Lists of records convert the same few domains over and over.
@functools.lru_cache(maxsize=4096)
def domain_to_unicode(ascii_name: str) -> str:
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        return ascii_name


def domain_forms(domain: str) -> set[str]:
    """The forms a stored path may hold `domain` in: as its client wrote it, an A-label or (with
    SMTPUTF8) Unicode; so a lookup takes either and finds both."""
    forms = {domain.lower()}
    try:
        ascii_name = normalise_domain(domain)
    except InvalidAddress:
        return forms
    return forms | {ascii_name, domain_to_unicode(ascii_name)}


def for_people(text: str) -> str:
    """A stored address (`local@domain`, `@domain`), domain or text naming them (an audit entry's
    detail, a role `manager:<domain>`) with every A-label domain in Unicode: the one form people
    see (portal, API and CLI records); input takes either form. Local parts are left as written."""
    if "xn--" not in text.lower():
        return text
    return _A_LABEL_DOMAIN.sub(lambda found: domain_to_unicode(found.group().lower()), text)


def normalise_local(text: str) -> str:
    local = unicodedata.normalize("NFC", text).lower()
    if not local or len(local.encode("utf-8")) > MAX_LOCAL_OCTETS or not _DOT_ATOM.fullmatch(local):
        raise InvalidAddress(N_("invalid local part: %(text)r"), text=text)
    return local


def parse_address(text: str) -> Address:
    """Parse `local@domain` (optionally in angle brackets) into a normalised Address."""
    cleaned = text.strip()
    if cleaned.startswith("<") and cleaned.endswith(">"):
        cleaned = cleaned[1:-1]
    local, at, domain = cleaned.rpartition("@")
    if not at or "\x00" in cleaned:
        raise InvalidAddress(N_("invalid address: %(text)r"), text=text)
    return Address(normalise_local(local), normalise_domain(domain))


def parse_alias_source(text: str) -> Address | str:
    """An alias source: a full address, or `@domain` for a catch-all (returned as the domain)."""
    cleaned = text.strip()
    if cleaned.startswith("@"):
        return normalise_domain(cleaned[1:])
    return parse_address(cleaned)


def stored_alias_source(text: str) -> str:
    """An alias source as stored: the normalised address, or `@domain` for a catch-all."""
    source = parse_alias_source(text)
    return str(source) if isinstance(source, Address) else f"@{source}"


def domain_part(key: str) -> str:
    """The domain of a stored address or alias source (`local@domain` or `@domain`)."""
    return key.rpartition("@")[2]
