"""The data model; import models from here."""
from shared.storage.models.account_security import (
    Passkey,
    PasswordResetLink,
    PortalSession,
    RecoveryCode,
    TotpFactor,
)
from shared.storage.models.alias import Alias, AliasDestination
from shared.storage.models.audit import AuditEntry
from shared.storage.models.autoreply import AutoReplySent, OutOfOffice
from shared.storage.models.base import Base, utcnow
from shared.storage.models.domain import AliasDomain, Domain
from shared.storage.models.group import GroupMailbox, GroupMember, SendingPolicy
from shared.storage.models.idempotency import IdempotentSend
from shared.storage.models.imap import ImapUsage
from shared.storage.models.login import AppPassword, LoginFailure, MailboxLogin
from shared.storage.models.mailbox import Mailbox, MailboxForward, domain_manager
from shared.storage.models.message_log import LogEvent, LoggedMessage, LoggedRecipient
from shared.storage.models.queue import (
    DeliveryStatus,
    OutboundMessage,
    OutboundRecipient,
)
from shared.storage.models.ratelimit import SubmissionWindow
from shared.storage.models.sender_rule import SenderListing, SenderRule
from shared.storage.models.suppression import Suppression
from shared.storage.models.token import ApiToken, api_token_domain
from shared.storage.models.webhook import Webhook, WebhookDelivery

__all__ = [
    "Alias",
    "AliasDestination",
    "AliasDomain",
    "ApiToken",
    "AppPassword",
    "AuditEntry",
    "AutoReplySent",
    "Base",
    "DeliveryStatus",
    "Domain",
    "GroupMailbox",
    "GroupMember",
    "IdempotentSend",
    "ImapUsage",
    "LogEvent",
    "LoggedMessage",
    "LoggedRecipient",
    "LoginFailure",
    "Mailbox",
    "MailboxForward",
    "MailboxLogin",
    "OutboundMessage",
    "OutOfOffice",
    "OutboundRecipient",
    "Passkey",
    "PasswordResetLink",
    "PortalSession",
    "RecoveryCode",
    "SenderListing",
    "SenderRule",
    "SendingPolicy",
    "SubmissionWindow",
    "Suppression",
    "Webhook",
    "WebhookDelivery",
    "TotpFactor",
    "api_token_domain",
    "domain_manager",
    "utcnow",
]
