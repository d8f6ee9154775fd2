"""The records the command line and the API both print (shared.accounts.records)."""
from __future__ import annotations

import json

from shared.accounts.records import domain_record, mailbox_record, pick
from shared.accounts.views import DomainView, MailboxView

VIEW = MailboxView(
    id=7, address="ann@example.com", local="ann", domain="example.com", name="Ann", quota_bytes=10,
    used_bytes=3, messages=1, active=True, domain_active=True, smtp_enabled=False, pop3_enabled=True,
    imap_enabled=False, is_global_admin=True, managed_domains=("a.example", "b.example"),
)


def test_a_pick_has_the_keys_asked_for_in_that_order_as_json_values() -> None:
    record = pick(mailbox_record(VIEW), ("roles", "address", "managed_domains", "smtp_enabled"))
    assert json.dumps(record) == (
        '{"roles": ["global-admin", "manager:a.example", "manager:b.example"], "address": "ann@example.com", '
        '"managed_domains": ["a.example", "b.example"], "smtp_enabled": false}'
    )


def test_a_domain_record_lists_its_alias_domains() -> None:
    view = DomainView(
        id=1, name="xn--bcher-kva.example", display_name="bücher.example", active=True, inbound_checks=False,
        forbid_external_forwarding=True, require_2fa=True, max_mailboxes=0, max_aliases=0, quota_bytes=0,
        default_mailbox_quota=0, used_bytes=0, mailboxes=2, aliases=1,
        alias_domains=("books.example",),
    )
    record = domain_record(view)
    assert list(record)[:3] == ["id", "name", "display_name"]
    assert record["alias_domains"] == ["books.example"] and record["inbound_checks"] is False
    assert record["require_2fa"] is True and record["forbid_external_forwarding"] is True
