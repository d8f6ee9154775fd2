"""What the MX does with a message once it is authenticated: the header fields it gets, and
whether it is refused, kept in Junk or delivered.

The policy (each recipient domain's `inbound_checks`, on by default):
- DMARC fail under an effective `p=reject` is refused; under `p=quarantine` it goes to Junk;
- SPF fail of an envelope domain that publishes no DMARC record is refused (RFC 7372's 5.7.23);
- an envelope sender or From: in a hosted domain (alias domains included) must authenticate
  for it (SPF pass or a passing DKIM signature, aligned as DMARC's relaxed mode) or the message
  is refused: no one outside may write as us;
- a From: with several addresses, or several From: fields, is refused (RFC 7489 §6.6.1);
- a group with the sending policy `domain` or `members` that let the envelope sender in takes
  the message only if it authenticates for the sender's domain; this is the group's own rule,
  so it holds whatever the recipient domains' switch says;
- DNS trouble never refuses for good: a check that could not finish is `temperror`, the message
  is accepted, except a hosted sender that could not be verified, which is deferred (451 4.4.3).

Recipients in several domains with different settings: the message is refused only when every
local recipient's domain enforces; otherwise it is delivered, and the enforcing recipients'
copies go to their Junk folder (nothing is lost, no one who asked for the checks sees it in the
inbox). Remote forwards follow the local recipients' decision.
"""
from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, select

from shared.mail.authentication import dmarc
from shared.mail.authentication.author import Author
from shared.mail.authentication.checks import authenticate
from shared.mail.authentication.header import results_header, without_our_results
from shared.mail.authentication.results import FAIL, PASS, TEMPERROR, AuthReport
from shared.mail.authentication.sender_policy import checked_domain
from shared.mail.resolver import DnsFailure, resolver_for
from shared.storage import rawsql
from shared.storage.db import Database
from shared.storage.models import AliasDomain, Domain


class Verdict(enum.Enum):
    """Why a message is not simply delivered; `reason` is what X-Spam-Reasons says of it."""

    DMARC_REJECT = "DMARC reject"
    DMARC_QUARANTINE = "DMARC quarantine"
    SPF_FAIL = "SPF fail"
    FORGED_SENDER = "forged hosted sender"
    AMBIGUOUS_AUTHOR = "several From addresses"
    UNVERIFIED_SENDER = "hosted sender not verifiable"
    GROUP_OUTSIDER = "not authenticated as a group's member"
    UNVERIFIED_GROUP_SENDER = "group sender not verifiable"

    @property
    def refuses(self) -> bool:
        return self is not Verdict.DMARC_QUARANTINE


@dataclass(frozen=True)
class InboundDecision:
    headers: bytes  # to go above our Received: field
    message: bytes  # what arrived, without Authentication-Results claiming to be ours
    refusal: Verdict | None
    junk_ids: frozenset[int]
    author: Author  # the From: as read, for the sender lists after it


# Run for every MX message: prebuilt for the DBAPI cursor (shared.storage.rawsql), one row each.
_CHECKS_ON = rawsql.RawStatement(select(Domain.inbound_checks).where(Domain.name == bindparam("name")))
_IS_HOSTED = rawsql.RawStatement(
    select(
        exists().where(Domain.name == bindparam("name")) | exists().where(AliasDomain.name == bindparam("alias"))
    )
)


@dataclass(frozen=True)
class Recipients:
    """What the policy needs to know of the recipients and senders, read together."""

    enforcing: frozenset[int]  # local recipients whose domain has inbound checks on
    hosted_senders: frozenset[str]  # the envelope and author domains that are hosted here


def check_inbound(
    db: Database,
    content: bytes,
    *,
    ip: str,
    helo: str,
    return_path: str,
    mailboxes: Mapping[int, str],
    sender_vouched: bool = False,
) -> InboundDecision:
    """`mailboxes`: the local recipients, id to address, as the RCPT checks found them;
    `sender_vouched`: a group admitted the envelope sender by address (DeliveryPlan)."""
    resolver = resolver_for(db.settings)
    report, author = authenticate(resolver, content, ip=ip, helo=helo, return_path=return_path)
    envelope_domain = checked_domain(return_path, helo)[0] if return_path else ""
    if sender_vouched and not is_authenticated_for(report, envelope_domain):
        outsider = Verdict.UNVERIFIED_GROUP_SENDER if report.dns_failed else Verdict.GROUP_OUTSIDER
        return InboundDecision(b"", content, outsider, frozenset(), author)
    recipients = read_recipients(db, mailboxes, {envelope_domain, *author.domains} - {""})
    verdict = judge(report, author, recipients.hosted_senders)
    if verdict is Verdict.SPF_FAIL and _publishes_dmarc(db, report.spf.domain):
        verdict = None
    refusal, junk_ids = apply(verdict, set(mailboxes), recipients.enforcing)
    headers = results_header(db.settings.hostname, report)
    if junk_ids and verdict is not None:
        headers = f"X-Spam: Yes\r\nX-Spam-Reasons: {verdict.value}\r\n".encode() + headers
    return InboundDecision(headers, without_our_results(content, db.settings.hostname), refusal, junk_ids, author)


def read_recipients(db: Database, mailboxes: Mapping[int, str], sender_domains: Collection[str]) -> Recipients:
    """One row per recipient domain and per sender domain (most messages: one of each)."""
    domains = {address.rpartition("@")[2] for address in mailboxes.values()}
    with rawsql.cursor(db, transaction=False) as cursor:
        checks_on = {name for name in domains if _row(_CHECKS_ON.execute(cursor, {"name": name}))}
        hosted = {name for name in sender_domains if _row(_IS_HOSTED.execute(cursor, {"name": name, "alias": name}))}
    enforcing = {number for number, address in mailboxes.items() if address.rpartition("@")[2] in checks_on}
    return Recipients(frozenset(enforcing), frozenset(hosted))


def _row(result: Any) -> bool:
    row = result.fetchone()
    return row is not None and bool(row[0])


def is_authenticated_for(report: AuthReport, domain: str) -> bool:
    """Does the message prove it comes from `domain`: SPF pass or a passing DKIM signature, aligned."""
    spf = report.spf
    if spf.result == PASS and dmarc.is_aligned(spf.domain, domain, strict=False):
        return True
    return any(d.result == PASS and dmarc.is_aligned(d.domain, domain, strict=False) for d in report.dkim)


def judge(report: AuthReport, author: Author, hosted_senders: Collection[str]) -> Verdict | None:
    """The verdict before recipients' settings are considered. SPF_FAIL still needs the
    envelope domain to publish no DMARC record (checked by the caller)."""
    unproven = [domain for domain in hosted_senders if not is_authenticated_for(report, domain)]
    if unproven:
        return Verdict.UNVERIFIED_SENDER if report.dns_failed else Verdict.FORGED_SENDER
    if author.ambiguous:
        return Verdict.AMBIGUOUS_AUTHOR
    if report.dmarc.result == FAIL:
        if report.dmarc.policy == "reject":
            return Verdict.DMARC_REJECT
        if report.dmarc.policy == "quarantine":
            return Verdict.DMARC_QUARANTINE
    if report.spf.result == FAIL and not report.spf.helo and report.dmarc.result != TEMPERROR:
        return Verdict.SPF_FAIL
    return None


def _publishes_dmarc(db: Database, domain: str) -> bool:
    """Whether the envelope domain has a DMARC record (a DNS failure counts as yes: no refusal)."""
    try:
        return dmarc.find_record(resolver_for(db.settings), domain) is not None
    except DnsFailure:
        return True


def apply(verdict: Verdict | None, mailbox_ids: set[int], enforcing: frozenset[int]) -> tuple[Verdict | None, frozenset[int]]:
    """The refusal, or the mailboxes whose copy goes to Junk, for these recipients' settings."""
    if verdict is None:
        return None, frozenset()
    every_local_enforces = mailbox_ids <= enforcing
    if verdict.refuses and every_local_enforces:
        return verdict, frozenset()
    return None, frozenset(enforcing & mailbox_ids)
