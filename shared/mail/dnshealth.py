"""The DNS health check of a hosted domain: for each record the DNS records page asks the
domain to publish, what the resolver returns and whether that does the record's job.

Matching is by meaning, not by string: the MX set must name our host; exactly one SPF
record, and it authorises us; the DKIM key at each selector must be ours; exactly one
DMARC record; SRV records must point at our host and port; autoconfig names must resolve.
The judges below are pure functions over what was found; `check_domain` does the lookups.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shared.config import Settings
from shared.mail.dnsrecords import DnsRecord, records_for
from shared.mail.resolver import DnsFailure, NoSuchDomain, Resolver, resolver_for

# A page view runs the check, so a dead DNS server must cost seconds, not minutes: the
# lookups (a dozen) run all at once, each given this long.
LOOKUP_SECONDS = 3.0
# What a DNS server returns is shown to a person: a huge or binary TXT value is cut and escaped.
SHOWN_CHARACTERS = 600


@dataclass(frozen=True)
class Found:
    """What a lookup returned: each record as text, or why there was no answer."""

    values: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class OurHost:
    """Who the records should point at: our host name and, for SPF's ip4/ip6 terms, its addresses."""

    hostname: str
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class DnsCheck:
    type: str
    name: str
    expected: str
    found: str
    ok: bool


def check_domain(settings: Settings, domain: str, dkim: tuple[str, str]) -> list[DnsCheck]:
    """Each expected record of `domain` against what the suite's resolver returns.
    `dkim` is (selector, TXT value) of the domain's signing key."""
    resolver = resolver_for(settings)
    records = records_for(settings, domain, dkim)
    with ThreadPoolExecutor(max_workers=len(records) + 1, thread_name_prefix="dnshealth") as pool:
        our_addresses = pool.submit(_addresses, resolver, settings.hostname)
        found = list(pool.map(lambda record: _look_up(resolver, record), records))
    us = OurHost(settings.hostname, our_addresses.result())
    return [_JUDGES[record.purpose](record, answer, us) for record, answer in zip(records, found, strict=True)]


def _addresses(resolver: Resolver, hostname: str) -> tuple[str, ...]:
    """Our host's addresses, for SPF's ip4/ip6 terms; none when they cannot be looked up."""
    try:
        return tuple(resolver.addresses(hostname, lifetime=LOOKUP_SECONDS))
    except DnsFailure:
        return ()


def _look_up(resolver: Resolver, record: DnsRecord) -> Found:
    name = record.name
    try:
        if record.type == "TXT":
            return Found(tuple(resolver.txt(name, lifetime=LOOKUP_SECONDS)))
        if record.purpose == "autoconfig":
            return _resolved_name(resolver, name)
        return Found(tuple(r.to_text() for r in resolver.query(name, record.type, lifetime=LOOKUP_SECONDS)))
    except NoSuchDomain:
        return Found()
    except DnsFailure as failure:
        return Found(error=str(failure))


def _resolved_name(resolver: Resolver, name: str) -> Found:
    """The CNAME a name is (if one) and the addresses it comes to."""
    aliases = [f"CNAME {r.to_text()}" for r in resolver.query(name, "CNAME", lifetime=LOOKUP_SECONDS)]
    return Found(tuple(aliases + resolver.addresses(name, lifetime=LOOKUP_SECONDS)))


def is_same_name(name: str, other: str) -> bool:
    """The same DNS name: case does not matter, nor does the root's trailing dot."""
    return name.rstrip(".").lower() == other.rstrip(".").lower()


def judge_mx(record: DnsRecord, found: Found, us: OurHost) -> DnsCheck:
    targets = [value.split()[-1] for value in found.values if value.split()]
    return _check("MX", record, found, any(is_same_name(target, us.hostname) for target in targets))


def spf_records(values: tuple[str, ...]) -> list[str]:
    """The TXT values that are SPF records (RFC 7208 §4.5: "v=spf1" alone or before a space)."""
    return [value for value in values if value.lower() == "v=spf1" or value.lower().startswith("v=spf1 ")]


def authorises(spf: str, domain: str, us: OurHost) -> bool:
    """Whether the record passes mail from our host without evaluating includes or redirects:
    a pass-qualified `mx` of the domain (the MX check sees that it is us), `a:` our host name,
    or an `ip4:`/`ip6:` network holding one of our host's addresses. Terms after `all` never match,
    and `+all` does not count: a record that lets everyone send protects nothing."""
    for term in spf.split()[1:]:
        qualifier, mechanism = (term[0], term[1:]) if term[:1] in "+-~?" else ("+", term)
        kind, _, argument = mechanism.partition(":")
        kind = kind.split("/")[0].lower()
        if kind == "all":
            return False
        if qualifier != "+":
            continue
        if kind == "mx" and (not argument or is_same_name(argument.split("/")[0], domain)):
            return True
        if kind == "a" and argument and is_same_name(argument.split("/")[0], us.hostname):
            return True
        if kind in ("ip4", "ip6") and _holds_any(argument, us.addresses):
            return True
    return False


def _holds_any(network: str, addresses: tuple[str, ...]) -> bool:
    try:
        block = ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
    return any(ipaddress.ip_address(address) in block for address in addresses)


def judge_spf(record: DnsRecord, found: Found, us: OurHost) -> DnsCheck:
    spf = spf_records(found.values)
    domain = record.name.rstrip(".")
    ok = len(spf) == 1 and authorises(spf[0], domain, us)
    return _check("SPF", record, Found(tuple(spf), found.error), ok)


def dkim_key(value: str) -> str | None:
    """The `p=` tag of a DKIM key record with whitespace removed (RFC 6376 §3.6.1), if it has one."""
    for tag in value.split(";"):
        name, equals, key = tag.partition("=")
        if equals and name.strip() == "p":
            return "".join(key.split())
    return None


def judge_dkim(record: DnsRecord, found: Found, us: OurHost) -> DnsCheck:
    ours = dkim_key(record.data)
    ok = len(found.values) == 1 and ours is not None and dkim_key(found.values[0]) == ours
    return _check("DKIM", record, found, ok)


def judge_dmarc(record: DnsRecord, found: Found, us: OurHost) -> DnsCheck:
    dmarc = [value for value in found.values if value.replace(" ", "").startswith("v=DMARC1;") or value == "v=DMARC1"]
    return _check("DMARC", record, Found(tuple(dmarc), found.error), len(dmarc) == 1)


def judge_srv(record: DnsRecord, found: Found, us: OurHost) -> DnsCheck:
    """Our host and port among the SRV targets; priority and weight are the operator's to tune."""
    port = record.data.split()[2]
    ok = any(
        len(fields) == 4 and fields[2] == port and is_same_name(fields[3], us.hostname)
        for fields in (value.split() for value in found.values)
    )
    return _check("SRV", record, found, ok)


def judge_autoconfig(record: DnsRecord, found: Found, us: OurHost) -> DnsCheck:
    """The name resolves: a CNAME to our host (whose addresses are the MX check's business), or
    addresses of its own, directly or through a CNAME elsewhere."""
    ok = any(
        is_same_name(value.removeprefix("CNAME "), us.hostname) if value.startswith("CNAME ") else True
        for value in found.values
    )
    return _check("AUTOCONFIG", record, found, ok)


def _check(kind: str, record: DnsRecord, found: Found, ok: bool) -> DnsCheck:
    shown = found.error if found.error is not None else " | ".join(shown_text(value) for value in found.values)
    return DnsCheck(kind, record.name.rstrip("."), record.data, shown, ok and found.error is None)


def shown_text(value: str) -> str:
    """A value from the network as one printable line of bounded length."""
    printable = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in value)
    if len(printable) <= SHOWN_CHARACTERS:
        return printable
    return f"{printable[:SHOWN_CHARACTERS]}… ({len(printable) - SHOWN_CHARACTERS} more characters)"


_JUDGES: dict[str, Callable[[DnsRecord, Found, OurHost], DnsCheck]] = {
    "mx": judge_mx,
    "spf": judge_spf,
    "dkim": judge_dkim,
    "dmarc": judge_dmarc,
    "srv": judge_srv,
    "autoconfig": judge_autoconfig,
}
