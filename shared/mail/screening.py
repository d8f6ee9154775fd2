"""What the MX does with a message at the end of DATA by who sent it and what it says: the
recipient domains' sender allow and block lists (shared.mail.sender_lists), then rspamd's
verdict (shared.mail.rspamd).

- A sender that a recipient's domain blocks is refused, whatever the content.
- rspamd's `reject` refuses the message and `soft reject` / `greylist` defer it, for everyone.
- rspamd's junk actions put the copies into the Junk folder, except for mailboxes whose domain
  allows the sender: an allow-listing only overrides that verdict.
"""
from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from shared.errors import InvalidAddress
from shared.mail import rspamd
from shared.mail.addresses import Address, parse_address
from shared.mail.sender_lists import listings_by_mailbox
from shared.storage.db import Database
from shared.storage.models import SenderListing


class Refusal(enum.Enum):
    BLOCKED_SENDER = "blocked sender"
    SPAM = "spam"
    SPAM_DEFERRED = "spam, deferred"


@dataclass(frozen=True)
class Screening:
    refusal: Refusal | None
    junk_ids: frozenset[int]
    headers: bytes  # to put on top of the message

    @staticmethod
    def refused(refusal: Refusal) -> Screening:
        return Screening(refusal, frozenset(), b"")


PASSED = Screening(None, frozenset(), b"")


def screen(
    db: Database,
    message: bytes,
    transaction: rspamd.Transaction,
    *,
    mailbox_ids: Collection[int],
    from_addresses: Iterable[str],
) -> Screening:
    """The outcome for `message` (with our trace header) to the local `mailbox_ids`; `from_addresses`
    as the authentication read them (`Author.addresses`: From: is parsed once). Blocking."""
    listed = listings_by_mailbox(db, mailbox_ids, senders(transaction.sender, from_addresses))
    if SenderListing.BLOCK in listed.values():
        return Screening.refused(Refusal.BLOCKED_SENDER)
    verdict = rspamd.scan(db.settings, message, transaction)
    if verdict is None:
        return PASSED
    if verdict.action is rspamd.Action.REJECT:
        return Screening.refused(Refusal.SPAM)
    if verdict.action in rspamd.DEFER_ACTIONS:
        return Screening.refused(Refusal.SPAM_DEFERRED)
    junk = frozenset(
        mailbox_id for mailbox_id in mailbox_ids if listed.get(mailbox_id) is not SenderListing.ALLOW
    ) if verdict.is_junk else frozenset()
    return Screening(None, junk, rspamd.spam_headers(verdict, junk=verdict.is_junk))


def senders(envelope_sender: str, from_addresses: Iterable[str]) -> list[Address]:
    """The senders a listing can match: the envelope sender and the `From:` addresses."""
    found = []
    for text in (envelope_sender, *from_addresses):
        try:
            found.append(parse_address(text))
        except (InvalidAddress, UnicodeError):  # an envelope sender's undecodable bytes arrive as surrogates
            continue
    return found
