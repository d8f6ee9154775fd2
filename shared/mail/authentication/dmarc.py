"""DMARC (RFC 7489): the author domain's policy record, identifier alignment, the result.

A small evaluator on our resolver rather than a library: the part we need (find the record at
the author domain or its organisational domain, parse p/sp/adkim/aspf, check alignment) is a
page of code, while the PyPI `dmarc` package brings its own DNS lookups and report machinery.
`pct` is ignored: a failing message always gets the policy (RFC 7489 §6.6.4 lets a receiver
apply it to a sample; applying it to all is the stricter reading a sender asked for at 100).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

from publicsuffixlist import PublicSuffixList

from shared.mail.authentication.results import FAIL, NONE, PASS, TEMPERROR, DkimResult, DmarcResult, SpfResult
from shared.mail.resolver import DnsFailure, Resolver

_POLICIES = ("none", "quarantine", "reject")


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def organisational_domain(domain: str) -> str:
    """RFC 7489 §3.2 with the Public Suffix List; a public suffix itself is its own."""
    return _suffixes().privatesuffix(domain) or domain


def is_aligned(identifier: str, author: str, *, strict: bool) -> bool:
    if not identifier or not author:
        return False
    if strict:
        return identifier == author
    return organisational_domain(identifier) == organisational_domain(author)


def parse_record(text: str) -> dict[str, str] | None:
    """The tags of a DMARC record, None when it is not one (RFC 7489 §6.3, §6.6.3)."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        if equals:
            tags.setdefault(name.strip().lower(), value.strip())
    if text.split(";", 1)[0].replace(" ", "") != "v=DMARC1":
        return None
    if tags.get("p", "").lower() not in _POLICIES:
        # §6.6.3: a record with an invalid p= but a rua= is applied as p=none.
        return {**tags, "p": "none"} if "rua" in tags else None
    return tags


def find_record(resolver: Resolver, author: str) -> tuple[dict[str, str], bool] | None:
    """The record that governs `author`, and whether it was found at the organisational domain
    (then sp= applies). Raises DnsFailure."""
    organisational = organisational_domain(author)
    for name, inherited in ((author, False), (organisational, True)):
        if inherited and name == author:
            break
        records = [tags for tags in map(parse_record, resolver.txt(f"_dmarc.{name}")) if tags is not None]
        if len(records) == 1:
            return records[0], inherited
    return None


def evaluate(resolver: Resolver, author: str, spf: SpfResult, dkim: Sequence[DkimResult]) -> DmarcResult:
    try:
        found = find_record(resolver, author)
    except DnsFailure:
        return DmarcResult(TEMPERROR, author)
    if found is None:
        return DmarcResult(NONE, author)
    tags, inherited = found
    dkim_aligned = any(
        d.result == PASS and is_aligned(d.domain, author, strict=tags.get("adkim") == "s") for d in dkim
    )
    spf_aligned = spf.result == PASS and is_aligned(spf.domain, author, strict=tags.get("aspf") == "s")
    if dkim_aligned or spf_aligned:
        return DmarcResult(PASS, author, has_record=True)
    if TEMPERROR in (spf.result, *(d.result for d in dkim)):
        return DmarcResult(TEMPERROR, author, has_record=True)
    policy = tags.get("sp", tags["p"]) if inherited else tags["p"]
    policy = policy.lower() if policy.lower() in _POLICIES else tags["p"].lower()
    return DmarcResult(FAIL, author, policy=policy, has_record=True)

