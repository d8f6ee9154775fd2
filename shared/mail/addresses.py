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
MAX_DOMAIN_OCTETS = 255
# RFC 5322 atext, plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010FFFF]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


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
    """Lower-case IDNA A-label form of a domain name, or InvalidAddress."""
    name = text.strip().removesuffix(".")
    if not name or name.startswith("[") or len(name) > MAX_DOMAIN_OCTETS:
        raise InvalidAddress(N_("invalid domain: %(text)r"), text=text)
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidAddress(N_("invalid domain: %(text)r"), text=text) from exc
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidAddress(N_("invalid domain: %(text)r"), text=text)
    if labels[-1].isdigit():
        raise InvalidAddress(N_("invalid domain: %(text)r"), text=text)
    return ascii_name


def domain_to_unicode(ascii_name: str) -> str:
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        return ascii_name


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
