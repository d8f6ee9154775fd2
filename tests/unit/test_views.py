"""The mailbox record the command line and the API both print (MailboxView.record)."""
from __future__ import annotations

import json

from shared.accounts.views import MailboxView

VIEW = MailboxView(
    id=7, address="ann@example.com", local="ann", domain="example.com", name="Ann", quota_bytes=10,
    used_bytes=3, messages=1, active=True, domain_active=True, smtp_enabled=False, pop3_enabled=True,
    is_global_admin=True, managed_domains=("a.example", "b.example"),
)


def test_a_record_has_the_fields_asked_for_in_that_order_as_json_values() -> None:
    record = VIEW.record(("roles", "address", "managed_domains", "smtp_enabled"))
    assert json.dumps(record) == (
        '{"roles": ["global-admin", "manager:a.example", "manager:b.example"], "address": "ann@example.com", '
        '"managed_domains": ["a.example", "b.example"], "smtp_enabled": false}'
    )
