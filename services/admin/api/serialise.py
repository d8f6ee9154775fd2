"""The API's JSON objects for the views it shows only in part: the keys of shared's records
(shared.accounts.records) that the OpenAPI document gives. Other views go out as whole records."""
from __future__ import annotations

from typing import Any

from shared.accounts.records import domain_record, mailbox_record, pick
from shared.accounts.views import DomainView, MailboxView

# All but the command line's `id`.
DOMAIN_FIELDS = (
    "name", "display_name", "active", "inbound_checks", "require_2fa", "forbid_external_forwarding", "max_mailboxes",
    "max_aliases", "quota_bytes", "default_mailbox_quota", "used_bytes", "mailboxes", "aliases", "alias_domains",
)
# The roles as their two parts, not the command line's `roles`.
MAILBOX_FIELDS = (
    "address", "domain", "name", "quota_bytes", "used_bytes", "messages", "active",
    "smtp_enabled", "pop3_enabled", "imap_enabled", "is_global_admin", "managed_domains", "last_login",
)


def domain_json(domain: DomainView) -> dict[str, Any]:
    return pick(domain_record(domain), DOMAIN_FIELDS)


def mailbox_json(mailbox: MailboxView) -> dict[str, Any]:
    return pick(mailbox_record(mailbox), MAILBOX_FIELDS)
