"""The suite's one DNS resolver: every lookup (SPF, DKIM, DMARC, ARC, blocklists, outbound MX,
the DNS health check) asks the servers of BEACONMAIL_DNS_RESOLVER, or the system's.

Answers, empty ones and NXDOMAIN included, are kept in the process within their TTL (dnspython's
cache, which is thread-safe: the checks run in threads). Lookups block; callers on an event loop
run them in a thread.
"""
from __future__ import annotations

import functools

import dns.exception
import dns.nameserver
import dns.rdata
import dns.resolver

from shared.config import Settings

DEFAULT_LIFETIME = 5.0


class NoSuchDomain(Exception):
    """NXDOMAIN: the name does not exist."""


class DnsFailure(Exception):
    """The lookup could not be answered (timeout, SERVFAIL, no server): a temporary error."""


class Resolver:
    def __init__(self, servers: tuple[tuple[str, int], ...]) -> None:
        if servers:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
        else:
            try:
                self._resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                self._resolver = dns.resolver.Resolver(configure=False)
                self._resolver.nameservers = ["127.0.0.1"]
        self._resolver.cache = dns.resolver.Cache()

    def query(self, name: str, rdtype: str, *, lifetime: float = DEFAULT_LIFETIME) -> list[dns.rdata.Rdata]:
        """The records of `rdtype` at `name`; [] when the name has none (NOERROR, no answer).
        Raises NoSuchDomain (NXDOMAIN) or DnsFailure."""
        try:
            answer = self._resolver.resolve(name, rdtype, lifetime=lifetime, search=False)
        except dns.resolver.NXDOMAIN:
            raise NoSuchDomain(name) from None
        except dns.resolver.NoAnswer:
            return []
        except (dns.exception.DNSException, ValueError) as exc:
            raise DnsFailure(f"{rdtype} lookup of {name} failed: {exc.__class__.__name__}") from None
        return list(answer)

    def txt(self, name: str, *, lifetime: float = DEFAULT_LIFETIME) -> list[str]:
        """Each TXT record's strings joined (RFC 7208 §3.3), decoded leniently; [] for NXDOMAIN.
        Raises DnsFailure."""
        try:
            records = self.query(name, "TXT", lifetime=lifetime)
        except NoSuchDomain:
            return []
        return [b"".join(record.strings).decode("utf-8", "replace") for record in records]  # type: ignore[attr-defined]

    def addresses(self, name: str, *, lifetime: float = DEFAULT_LIFETIME) -> list[str]:
        """The A and AAAA addresses of `name`; [] for NXDOMAIN. Raises DnsFailure."""
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                found += [record.to_text() for record in self.query(name, rdtype, lifetime=lifetime)]
            except NoSuchDomain:
                return []
        return found


@functools.cache
def _resolver(servers: tuple[tuple[str, int], ...]) -> Resolver:
    return Resolver(servers)


def resolver_for(settings: Settings) -> Resolver:
    """The process's resolver for the settings' servers (one cache per process)."""
    return _resolver(settings.dns_resolver)
