"""Accounts: domains, mailboxes, aliases and groups, sender allow and block lists, API tokens,
logging in (`logins`: app passwords, the lockout, last logins),
who may do what (`permissions`), the audit trail, the frozen views handed to services and their
JSON records (`records`), CSV import, and the first admin of an empty installation. This module
re-exports the use cases the services call, so `from shared import accounts;
accounts.create_domain(...)` reads well.

May import: `shared.mail`, `shared.storage`, `shared.config` and `shared.errors`.
"""
from shared.accounts.aliases import (
    create_alias,
    create_group,
    get_alias,
    get_group,
    list_aliases,
    list_groups,
    remove_alias,
    remove_group,
    update_alias,
    update_group,
)
from shared.accounts.audit import list_audit
from shared.accounts.domains import (
    add_alias_domain,
    check_domain_dns,
    create_domain,
    get_domain,
    list_domain_names,
    list_domains,
    remove_alias_domain,
    remove_domain,
    update_domain,
)
from shared.accounts.logins import authenticate
from shared.accounts.mailbox_search import count_mailboxes, list_mailboxes
from shared.accounts.mailboxes import (
    create_mailbox,
    get_mailbox,
    grant_role,
    remove_mailbox,
    revoke_role,
    set_password,
    signed_in_mailbox,
    update_mailbox,
)
from shared.accounts.sender_lists import (
    SenderView,
    allow_sender,
    block_sender,
    list_senders,
    unlist_sender,
)
from shared.accounts.views import (
    CONSOLE,
    Actor,
    AliasView,
    AuditView,
    DomainView,
    GroupView,
    MailboxView,
)

__all__ = [
    "CONSOLE",
    "Actor",
    "AliasView",
    "AuditView",
    "DomainView",
    "GroupView",
    "MailboxView",
    "SenderView",
    "add_alias_domain",
    "allow_sender",
    "authenticate",
    "block_sender",
    "check_domain_dns",
    "count_mailboxes",
    "create_alias",
    "create_domain",
    "create_group",
    "create_mailbox",
    "get_alias",
    "get_domain",
    "get_group",
    "get_mailbox",
    "grant_role",
    "list_aliases",
    "list_audit",
    "list_domain_names",
    "list_domains",
    "list_groups",
    "list_mailboxes",
    "list_senders",
    "remove_alias",
    "remove_alias_domain",
    "remove_domain",
    "remove_group",
    "remove_mailbox",
    "revoke_role",
    "set_password",
    "signed_in_mailbox",
    "unlist_sender",
    "update_alias",
    "update_domain",
    "update_group",
    "update_mailbox",
]
