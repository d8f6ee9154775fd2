"""One JSON record per view: the keys and value formats that the JSON API and the `beaconmail`
command share. A service shows a whole record or a selection of its keys (`pick`), in the order
it has always shown them, but never names a key or formats a value of its own.

Addresses and domains are given in their Unicode form (`jill@bücher.de`), the one form for
people; every input takes that form and the A-label one (`jill@xn--bcher-kva.de`) alike."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.accounts.app_passwords import AppPasswordView
from shared.accounts.forwarding import ForwardingView
from shared.accounts.logins import PROTOCOLS as LOGIN_PROTOCOLS
from shared.accounts.message_tracking import LoggedMessageView
from shared.accounts.quarantine import JunkMessage
from shared.accounts.sender_lists import SenderView
from shared.accounts.suppressions import SuppressionView
from shared.accounts.tokens import TokenView
from shared.accounts.views import (
    AliasView,
    AuditView,
    DomainView,
    GroupView,
    MailboxView,
)
from shared.accounts.webhooks import WebhookView
from shared.mail.addresses import for_people
from shared.mail.autoreply import Notice
from shared.mail.outbound import Waiting
from shared.storage.times import as_utc

if TYPE_CHECKING:  # the DNS checks' module loads dnspython; a record only reads its fields
    from shared.mail.dnshealth import DnsCheck

Record = dict[str, Any]


def pick(record: Record, keys: Iterable[str]) -> Record:
    """The named keys of `record`, in the order named."""
    return {key: record[key] for key in keys}


def dns_check_record(check: DnsCheck) -> Record:
    return {"type": check.type, "name": check.name, "expected": check.expected, "found": check.found, "ok": check.ok}


def domain_record(view: DomainView) -> Record:
    """`id` is for the command line; the API names a domain by its name alone."""
    return {
        "id": view.id,
        "name": for_people(view.name),
        "display_name": view.display_name,
        "active": view.active,
        "inbound_checks": view.inbound_checks,
        "forbid_external_forwarding": view.forbid_external_forwarding,
        "require_2fa": view.require_2fa,
        "max_mailboxes": view.max_mailboxes,
        "max_aliases": view.max_aliases,
        "quota_bytes": view.quota_bytes,
        "default_mailbox_quota": view.default_mailbox_quota,
        "used_bytes": view.used_bytes,
        "mailboxes": view.mailboxes,
        "aliases": view.aliases,
        "alias_domains": _for_people(view.alias_domains),
    }


def mailbox_record(view: MailboxView) -> Record:
    """`roles` sums up `is_global_admin` and `managed_domains` in one list for the command line."""
    return {
        "address": for_people(view.address),
        "domain": for_people(view.domain),
        "name": view.name,
        "quota_bytes": view.quota_bytes,
        "used_bytes": view.used_bytes,
        "messages": view.messages,
        "active": view.active,
        "smtp_enabled": view.smtp_enabled,
        "pop3_enabled": view.pop3_enabled,
        "imap_enabled": view.imap_enabled,
        "is_global_admin": view.is_global_admin,
        "managed_domains": _for_people(view.managed_domains),
        "roles": _for_people(view.roles),
        "last_login": last_login_record(view),
    }


def forwarding_record(view: ForwardingView) -> Record:
    return {"address": for_people(view.address), "destinations": _for_people(view.destinations), "keep_copy": view.keep_copy}


def out_of_office_record(view: Notice) -> Record:
    """Dates as ISO days (UTC), null when open-ended."""
    return {
        "enabled": view.enabled,
        "subject": view.subject,
        "text": view.text,
        "starts_on": view.starts_on.isoformat() if view.starts_on else None,
        "ends_on": view.ends_on.isoformat() if view.ends_on else None,
    }


def junk_record(view: JunkMessage) -> Record:
    """`date` in UTC to the second; `score` is null for a message the spam filter did not score."""
    return {
        "id": view.id,
        "date": view.date.isoformat(timespec="seconds"),
        "sender": view.sender,
        "subject": view.subject,
        "score": view.score,
        "reasons": list(view.reasons),
        "size": view.size,
    }


def alias_record(view: AliasView) -> Record:
    return {"source": for_people(view.source), "destinations": _for_people(view.destinations)}


def group_record(view: GroupView) -> Record:
    return {"address": for_people(view.address), "members": _for_people(view.members), "policy": view.policy}


def token_record(view: TokenView) -> Record:
    """Times to the second, unlike the audit log's `at`: a token's dates are for people to read."""
    return {
        "id": view.id,
        "owner": for_people(view.owner),
        "name": view.name,
        "prefix": view.prefix,
        "access": "send" if view.sends_mail else "read" if view.read_only else "write",
        "domains": _for_people(view.domains),
        "expires_at": _to_second(view.expires_at),
        "last_used_at": _to_second(view.last_used_at),
        "created_at": _to_second(view.created_at),
    }


def webhook_record(view: WebhookView) -> Record:
    return {
        "id": view.id,
        "domain": for_people(view.domain),
        "url": view.url,
        "events": list(view.events),
        "enabled": view.disabled_at is None,
        "disabled_at": _to_second(view.disabled_at),
        "last_error": view.last_error,
        "created_at": _to_second(view.created_at),
    }


def suppression_record(view: SuppressionView) -> Record:
    return {
        "domain": for_people(view.domain),
        "address": for_people(view.address),
        "reason": view.reason,
        "created_at": _to_second(view.created_at),
        "expires_at": _to_second(view.expires_at),
    }


APP_PASSWORD_KEYS = ("id", "name", "protocols", "created_at", "expires_at", "last_used_at", "last_used_from")


def app_password_record(view: AppPasswordView) -> Record:
    """Times to the second, as a token's. The password itself is in no record: it is shown once."""
    return {
        "id": view.id,
        "name": view.name,
        "protocols": list(view.protocols),
        "created_at": _to_second(view.created_at),
        "expires_at": _to_second(view.expires_at),
        "last_used_at": _to_second(view.last_used_at),
        "last_used_from": view.last_used_from,
    }


def last_login_record(view: MailboxView) -> Record:
    """Per protocol, when (UTC, to the second) and from which client address; null for never."""
    logins = {protocol: view.last_login(protocol) for protocol in LOGIN_PROTOCOLS}
    return {
        protocol: {"at": _to_second(login.at), "from": login.client_ip} if login else None
        for protocol, login in logins.items()
    }


def sender_record(view: SenderView) -> Record:
    return {"sender": for_people(view.sender), "listing": view.listing, "created": _to_second(as_utc(view.created_at))}


def _for_people(keys: Iterable[str]) -> list[str]:
    return [for_people(key) for key in keys]


def _to_second(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def audit_record(view: AuditView) -> Record:
    return {
        "at": as_utc(view.at).isoformat(),
        "actor": for_people(view.actor),
        "ip": view.ip,
        "action": view.action,
        "target": for_people(view.target),
        "domain": for_people(view.domain),
        "detail": for_people(view.detail),
        "token": {"id": view.token.id, "name": view.token.name} if view.token else None,
    }


def logged_message_record(view: LoggedMessageView, *, timeline: bool = False) -> Record:
    """A message log entry; `timeline` adds each recipient's states, oldest first."""
    recipients = []
    for r in view.recipients:
        recipient: Record = {
            "address": r.address,
            "status": r.status,
            "attempts": r.attempts,
            "reply": r.reply,
            "updated_at": as_utc(r.updated_at).isoformat(),
        }
        if timeline:
            recipient["timeline"] = [
                {"status": e.status, "reply": e.reply, "relay": e.relay, "at": as_utc(e.at).isoformat()}
                for e in view.events
                if e.address == r.address
            ]
        recipients.append(recipient)
    return {
        "id": view.id,
        "message_id": view.message_id,
        "sender": view.sender,
        "size": view.size,
        "via": view.via,
        "client_ip": view.client_ip,
        "user": view.user,
        "created_at": as_utc(view.created_at).isoformat(),
        "recipients": recipients,
    }


def queue_record(waiting: Waiting) -> Record:
    return {
        "id": waiting.log_id,
        "sender": waiting.sender,
        "recipient": waiting.address,
        "attempts": waiting.attempts,
        "next_attempt_at": as_utc(waiting.next_attempt_at).isoformat(),
        "last_reply": waiting.last_reply,
    }
