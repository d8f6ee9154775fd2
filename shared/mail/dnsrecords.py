"""The DNS records a hosted domain should publish, and the client settings they advertise.

MX, SPF, DKIM, DMARC, RFC 6186/8314 SRV records for submission, IMAP and POP3, and the
names mail clients probe for autoconfiguration.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.config import Settings

TTL = 3600


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    data: str  # as a resolver returns it: a TXT record's strings joined, unquoted
    purpose: str

    @property
    def value(self) -> str:
        """The data as a zone file writes it."""
        return txt(self.data) if self.type == "TXT" else self.data

    def zone_line(self) -> str:
        return f"{self.name} {TTL} IN {self.type} {self.value}"


@dataclass(frozen=True)
class ClientEndpoint:
    """One way for a mail client to reach us: `socket` is SSL (implicit TLS) or STARTTLS."""

    protocol: str
    port: int
    socket: str


def client_endpoints(settings: Settings) -> tuple[ClientEndpoint, ...]:
    """Best first: IMAP before POP3 (it keeps every device in step), implicit TLS before STARTTLS."""
    return (
        ClientEndpoint("imap", settings.imaps_port, "SSL"),
        ClientEndpoint("imap", settings.imap_port, "STARTTLS"),
        ClientEndpoint("pop3", settings.pop3s_port, "SSL"),
        ClientEndpoint("pop3", settings.pop3_port, "STARTTLS"),
        ClientEndpoint("smtp", settings.submissions_port, "SSL"),
        ClientEndpoint("smtp", settings.submission_port, "STARTTLS"),
    )


def txt(value: str) -> str:
    """A TXT value in zone-file quoting, split into 255-byte strings (RFC 1035 §3.3.14)."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks)


def records_for(settings: Settings, domain: str, dkim: tuple[str, str] | None = None) -> tuple[DnsRecord, ...]:
    """`dkim` is (selector, "v=DKIM1; k=rsa; p=...") when the domain has a signing key."""
    host = f"{settings.hostname.rstrip('.')}."
    zone = f"{domain}."
    records = [
        DnsRecord(zone, "MX", f"10 {host}", "mx"),
        DnsRecord(zone, "TXT", "v=spf1 mx -all", "spf"),
        DnsRecord(f"_dmarc.{zone}", "TXT", f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}", "dmarc"),
        DnsRecord(f"_submissions._tcp.{zone}", "SRV", f"0 1 {settings.submissions_port} {host}", "srv"),
        DnsRecord(f"_submission._tcp.{zone}", "SRV", f"10 1 {settings.submission_port} {host}", "srv"),
        # One priority order across IMAP and POP3 says which a client should prefer (RFC 6186 §3.4).
        DnsRecord(f"_imaps._tcp.{zone}", "SRV", f"0 1 {settings.imaps_port} {host}", "srv"),
        DnsRecord(f"_imap._tcp.{zone}", "SRV", f"10 1 {settings.imap_port} {host}", "srv"),
        DnsRecord(f"_pop3s._tcp.{zone}", "SRV", f"20 1 {settings.pop3s_port} {host}", "srv"),
        DnsRecord(f"_pop3._tcp.{zone}", "SRV", f"30 1 {settings.pop3_port} {host}", "srv"),
        DnsRecord(f"autoconfig.{zone}", "CNAME", host, "autoconfig"),
        DnsRecord(f"autodiscover.{zone}", "CNAME", host, "autoconfig"),
    ]
    if dkim is not None:
        selector, public = dkim
        records.insert(2, DnsRecord(f"{selector}._domainkey.{zone}", "TXT", public, "dkim"))
    return tuple(records)


def zone_text(records: tuple[DnsRecord, ...]) -> str:
    return "\n".join(record.zone_line() for record in records) + "\n"
