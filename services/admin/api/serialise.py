"""Views of shared as JSON objects; the shapes are those of the OpenAPI document."""
from __future__ import annotations

from typing import Any

from shared.accounts.forwarding import ForwardingView
from shared.accounts.tokens import as_utc
from shared.accounts.views import (
    AliasView,
    AuditView,
    DomainView,
    GroupView,
    MailboxView,
)


def domain_json(domain: DomainView) -> dict[str, Any]:
    return {
        "name": domain.name,
        "display_name": domain.display_name,
        "active": domain.active,
        "max_mailboxes": domain.max_mailboxes,
        "max_aliases": domain.max_aliases,
        "quota_bytes": domain.quota_bytes,
        "default_mailbox_quota": domain.default_mailbox_quota,
        "used_bytes": domain.used_bytes,
        "mailboxes": domain.mailboxes,
        "aliases": domain.aliases,
        "alias_domains": list(domain.alias_domains),
    }


MAILBOX_FIELDS = (
    "address", "domain", "name", "quota_bytes", "used_bytes", "messages", "active",
    "smtp_enabled", "pop3_enabled", "is_global_admin", "managed_domains",
)


def mailbox_json(mailbox: MailboxView) -> dict[str, Any]:
    return mailbox.record(MAILBOX_FIELDS)


def forwarding_json(view: ForwardingView) -> dict[str, Any]:
    return {"address": view.address, "destinations": list(view.destinations), "keep_copy": view.keep_copy}


def alias_json(alias: AliasView) -> dict[str, Any]:
    return {"source": alias.source, "destinations": list(alias.destinations)}


def group_json(group: GroupView) -> dict[str, Any]:
    return {"address": group.address, "members": list(group.members), "policy": group.policy}


def audit_json(entry: AuditView) -> dict[str, Any]:
    return {
        "at": as_utc(entry.at).isoformat(),
        "actor": entry.actor,
        "ip": entry.ip,
        "action": entry.action,
        "target": entry.target,
        "domain": entry.domain,
        "detail": entry.detail,
    }

