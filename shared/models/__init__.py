"""The data model; import models from here."""
from shared.models.alias import Alias, AliasDestination
from shared.models.audit import AuditEntry
from shared.models.base import Base, utcnow
from shared.models.domain import AliasDomain, Domain
from shared.models.group import GroupMailbox, GroupMember, SendingPolicy
from shared.models.mailbox import Mailbox, MailboxForward, domain_manager
from shared.models.queue import DeliveryStatus, OutboundMessage, OutboundRecipient
from shared.models.ratelimit import SubmissionWindow
from shared.models.token import ApiToken, api_token_domain

__all__ = [
    "Alias",
    "AliasDestination",
    "AliasDomain",
    "ApiToken",
    "AuditEntry",
    "Base",
    "DeliveryStatus",
    "Domain",
    "GroupMailbox",
    "GroupMember",
    "Mailbox",
    "MailboxForward",
    "OutboundMessage",
    "OutboundRecipient",
    "SendingPolicy",
    "SubmissionWindow",
    "api_token_domain",
    "domain_manager",
    "utcnow",
]
