"""SPF (RFC 7208) with pyspf, its DNS lookups answered by the suite's resolver.

pyspf looks names up through its module-level `DNSLookup` function. We put a dispatcher there
that asks the resolver of the check running in this thread (a context variable), so two
servers with different resolvers in one process never mix, and anything else that calls
pyspf without one gets pyspf's own lookup.
"""
from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import Any

import spf

from shared.errors import InvalidAddress
from shared.mail.addresses import normalise_domain
from shared.mail.authentication.results import NONE, SpfResult
from shared.mail.resolver import DnsFailure, NoSuchDomain, Resolver

# RFC 7208 §4.6.4 asks for a limit on the whole evaluation; 20 s is its suggestion, the SMTP
# client waits for the end of DATA, so we keep it shorter.
SPF_TIME_LIMIT = 10
_RESULTS = {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"}
_current: contextvars.ContextVar[Resolver | None] = contextvars.ContextVar("spf_resolver", default=None)
_library_lookup = spf.DNSLookup


def _answers(resolver: Resolver, name: str, qtype: str, timeout: float) -> Iterator[tuple[tuple[str, str], Any]]:
    try:
        records = resolver.query(name, qtype, lifetime=timeout)
    except NoSuchDomain:
        return
    except DnsFailure as failure:
        raise spf.TempError(f"DNS {failure}") from None
    for record in records:
        if qtype in ("A", "AAAA"):
            yield (name, qtype), record.address  # type: ignore[attr-defined]
        elif qtype == "MX":
            yield (name, qtype), (record.preference, record.exchange)  # type: ignore[attr-defined]
        elif qtype == "PTR":
            yield (name, qtype), record.target.to_text(True)  # type: ignore[attr-defined]
        elif qtype in ("TXT", "SPF"):
            yield (name, qtype), record.strings  # type: ignore[attr-defined]


def _lookup(name: str, qtype: str, strict: bool = True, timeout: float = SPF_TIME_LIMIT) -> list[Any]:
    resolver = _current.get()
    if resolver is None:
        return _library_lookup(name, qtype, strict, timeout)  # type: ignore[no-any-return]
    return list(_answers(resolver, name, qtype, timeout))


spf.DNSLookup = _lookup


def checked_domain(return_path: str, helo: str) -> tuple[str, bool]:
    """The identity SPF checks (RFC 7208 §2.4): the envelope sender's domain, or for the null
    sender the HELO name; and whether it is the HELO name. "" when it is no domain name."""
    if return_path:
        text, is_helo = return_path.rpartition("@")[2], False
    else:
        text, is_helo = helo, True
    try:
        return normalise_domain(text), is_helo
    except InvalidAddress:
        return "", is_helo


def check_spf(resolver: Resolver, *, ip: str, return_path: str, helo: str) -> SpfResult:
    domain, is_helo = checked_domain(return_path, helo)
    if not domain:
        return SpfResult(NONE, helo if is_helo else "", is_helo)
    sender = f"postmaster@{domain}" if is_helo else f"{return_path.rpartition('@')[0]}@{domain}"
    token = _current.set(resolver)
    try:
        result, _code, _explanation = spf.query(i=ip, s=sender, h=helo, querytime=SPF_TIME_LIMIT).check()
    finally:
        _current.reset(token)
    return SpfResult(result if result in _RESULTS else "permerror", domain, is_helo)
