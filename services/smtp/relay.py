"""Sending one claimed delivery to the next hop: the configured smarthost, or the domain's MX.

Synchronous (smtplib, dnspython); the worker runs it in a thread. Every outcome becomes
one `Attempt` per recipient: 2xx sent, 5xx permanent, anything else (4xx, timeouts,
refused connections, DNS trouble) temporary, to be retried by the queue. A next hop that
offers DSN gets the sender's NOTIFY, ORCPT, RET and ENVID (RFC 3461 §6.2) and, with them, the
duty of the success reports.
"""

from __future__ import annotations

import dataclasses
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from services.smtp.dsn_parameters import xtext
from shared.errors import TemporaryFailure
from shared.mail import verp
from shared.mail.dkimkeys import seal_forwarded, sign_outbound
from shared.mail.dsn_requests import MessageRequest, RecipientRequest
from shared.mail.outbound import Attempt, ClaimedRecipient, Delivery, read_body
from shared.mail.resolver import DnsFailure, NoSuchDomain, Resolver, resolver_for
from shared.storage.db import Database

log = logging.getLogger(__name__)

SMTP_PORT = 25
COMMAND_TIMEOUT = 60.0
DNS_LIFETIME = 15.0


class RouteError(Exception):
    """No host to try: `permanent` when the domain cannot receive mail at all."""

    def __init__(self, reply: str, permanent: bool) -> None:
        super().__init__(reply)
        self.reply = reply
        self.permanent = permanent


@dataclass(frozen=True)
class Hop:
    host: str
    port: int
    smarthost: bool


def parse_host_port(text: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` (as shared.config validates it)."""
    if text.startswith("["):
        host, _bracket, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else SMTP_PORT
    host, colon, port = text.rpartition(":")
    return (host, int(port)) if colon else (text, SMTP_PORT)


def mx_hops(resolver: Resolver, domain: str) -> list[Hop]:
    """The domain's MX hosts by preference, or the domain itself when it has no MX (RFC 5321 §5.1)."""
    try:
        records = resolver.query(domain, "MX", lifetime=DNS_LIFETIME)
    except NoSuchDomain:
        raise RouteError(f"550 5.1.2 domain {domain} does not exist", permanent=True) from None
    except DnsFailure as exc:
        raise RouteError(f"451 4.4.3 MX lookup for {domain} failed: {exc}", permanent=False) from None
    if not records:
        return [Hop(domain, SMTP_PORT, smarthost=False)]
    records.sort(key=lambda record: record.preference)  # type: ignore[attr-defined]
    if len(records) == 1 and str(records[0].exchange) == ".":  # type: ignore[attr-defined]
        raise RouteError(f"556 5.1.10 domain {domain} accepts no mail (null MX)", permanent=True)
    return [Hop(str(record.exchange).rstrip("."), SMTP_PORT, smarthost=False) for record in records]  # type: ignore[attr-defined]


def hops_for(db: Database, delivery: Delivery) -> list[Hop]:
    relay = db.settings.relay_host
    if relay:
        host, port = parse_host_port(relay)
        return [Hop(host, port, smarthost=True)]
    return mx_hops(resolver_for(db.settings), delivery.domain)


def for_all(recipients: Sequence[ClaimedRecipient], reply: str, permanent: bool) -> list[Attempt]:
    return [Attempt(r.id, sent=False, permanent=permanent, reply=reply) for r in recipients]


def deliver_remote(db: Database, delivery: Delivery) -> list[Attempt]:
    """Try each hop in turn until one gives answers; connection failures move on to the next."""
    try:
        message = seal_forwarded(db, delivery.sender, sign_outbound(db, read_body(delivery)))
        hops = hops_for(db, delivery)
    except TemporaryFailure as exc:
        return for_all(delivery.recipients, f"451 4.3.0 {exc}", permanent=False)
    except RouteError as exc:
        return for_all(delivery.recipients, exc.reply, exc.permanent)
    # Leaves with the VERP return path of its log entry, so a later bounce names it (shared.mail.verp).
    leaving = dataclasses.replace(delivery, sender=verp.return_path(db, delivery.sender, delivery.log_id))
    failure = "no host answered"
    for hop in hops:
        try:
            return Session(db, hop).send(leaving, message)
        except (OSError, smtplib.SMTPException) as exc:
            failure = f"{hop.host}:{hop.port}: {exc.__class__.__name__}: {exc}"
            log.info("delivery %s via %s failed: %s", delivery.message_id, hop.host, failure)
    return for_all(delivery.recipients, f"451 4.4.1 {failure}", permanent=False)


def mail_dsn_options(request: MessageRequest) -> list[str]:
    options = [f"RET={request.ret.value}"] if request.ret else []
    return options + ([f"ENVID={xtext(request.envid)}"] if request.envid is not None else [])


def rcpt_dsn_options(request: RecipientRequest) -> list[str]:
    options = [f"NOTIFY={request.notify}"] if request.notify else []
    if request.orcpt:
        addr_type, _semicolon, address = request.orcpt.partition(";")
        options.append(f"ORCPT={addr_type};{xtext(address)}")
    return options


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())}"


class Session:
    """One SMTP client conversation with one hop."""

    def __init__(self, db: Database, hop: Hop) -> None:
        self.settings = db.settings
        self.hop = hop

    def send(self, delivery: Delivery, message: bytes) -> list[Attempt]:
        with smtplib.SMTP(
            self.hop.host, self.hop.port, local_hostname=self.settings.hostname, timeout=COMMAND_TIMEOUT
        ) as client:
            self._secure(client)
            relay = f"{self.hop.host}:{self.hop.port}"
            attempts = [dataclasses.replace(a, relay=relay) for a in self._transaction(client, delivery, message)]
            try:
                client.quit()
            except smtplib.SMTPServerDisconnected:
                pass
            return attempts

    def _secure(self, client: smtplib.SMTP) -> None:
        """Opportunistic STARTTLS (RFC 7435); credentials for the smarthost only under TLS."""
        client.ehlo()
        if client.has_extn("starttls"):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            client.starttls(context=context)
            client.ehlo()
        elif self.hop.smarthost and self.settings.relay_user:
            raise smtplib.SMTPNotSupportedError("smarthost offers no STARTTLS; credentials not sent in clear")
        if self.hop.smarthost and self.settings.relay_user:
            client.login(self.settings.relay_user, self.settings.relay_password or "")

    def _transaction(self, client: smtplib.SMTP, delivery: Delivery, message: bytes) -> list[Attempt]:
        addresses = [delivery.sender, *(r.address for r in delivery.recipients)]
        needs_utf8 = not all(address.isascii() for address in addresses)
        if needs_utf8 and not client.has_extn("smtputf8"):
            return for_all(delivery.recipients, "553 5.6.7 the next hop does not support SMTPUTF8", permanent=True)
        options = [f"SIZE={len(message)}"] if client.has_extn("size") else []
        if client.has_extn("8bitmime") and not message.isascii():
            options.append("BODY=8BITMIME")
        if needs_utf8:
            options.append("SMTPUTF8")
        passes_dsn = client.has_extn("dsn")
        if passes_dsn:
            options += mail_dsn_options(delivery.request)
        code, text = client.mail(delivery.sender, options)
        if code != 250:
            return for_all(delivery.recipients, _reply(code, text), permanent=code >= 500)
        refused: list[Attempt] = []
        accepted: list[ClaimedRecipient] = []
        for recipient in delivery.recipients:
            code, text = client.rcpt(recipient.address, rcpt_dsn_options(recipient.request) if passes_dsn else [])
            if code in (250, 251):
                accepted.append(recipient)
            else:
                refused.append(Attempt(recipient.id, sent=False, permanent=code >= 500, reply=_reply(code, text)))
        if not accepted:
            client.rset()
            return refused
        data_reply: bytes | str
        try:
            code, data_reply = client.data(message)
        except smtplib.SMTPDataError as exc:
            code, data_reply = exc.smtp_code, exc.smtp_error
        reply = _reply(code, data_reply)
        return refused + [
            Attempt(r.id, sent=code == 250, permanent=code >= 500, reply=reply, dsn_passed_on=passes_dsn) for r in accepted
        ]
