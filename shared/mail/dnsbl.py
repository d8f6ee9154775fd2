"""DNS blocklists (RFC 5782): is a client address listed in a zone of BEACONMAIL_DNSBL?

An IPv4 address is looked up as its octets reversed under the zone (127.0.0.2 → 2.0.0.127.zone),
an IPv6 address as its 32 nibbles reversed. Only an A answer in 127.0.0.0/8 is a listing
(§2.1, §5): anything else is a list's own error signal (Spamhaus answers 127.255.255.x to queries
through public resolvers) or a hijacked resolver, and neither may refuse mail. A failed lookup
counts as not listed, so a broken list never stops mail.
"""
from __future__ import annotations

import ipaddress
import logging

from shared.config import Settings
from shared.mail.resolver import DnsFailure, NoSuchDomain, resolver_for

log = logging.getLogger(__name__)

LISTING_NETWORK = ipaddress.IPv4Network("127.0.0.0/8")
# A list answers from its own servers or not at all: a slow one must not hold up RCPT for long.
LOOKUP_LIFETIME = 3.0


def query_name(ip: str, zone: str) -> str:
    """The name to look up for `ip` under `zone`. Raises ValueError for what is no IP address."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.version == 4:
        labels = str(address).split(".")
    else:
        labels = list(address.exploded.replace(":", ""))
    return ".".join([*reversed(labels), zone])


def is_listing(answer: str) -> bool:
    """An A record's address that means "listed": one in 127.0.0.0/8."""
    try:
        return ipaddress.IPv4Address(answer) in LISTING_NETWORK
    except ValueError:
        return False


def is_listed(settings: Settings, ip: str, zone: str) -> bool:
    """Whether `zone` lists `ip`. Blocking (a DNS lookup): run it in a thread."""
    try:
        name = query_name(ip, zone)
    except ValueError:
        return False
    try:
        records = resolver_for(settings).query(name, "A", lifetime=LOOKUP_LIFETIME)
    except NoSuchDomain:
        return False
    except DnsFailure as error:
        log.warning("blocklist %s not consulted for %s: %s", zone, ip, error)
        return False
    return any(is_listing(record.to_text()) for record in records)
