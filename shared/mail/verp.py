"""VERP return paths: the envelope sender a logged message of a hosted sender leaves with, so a
bounce that arrives days later names the message it is about.

`VERP=<log id>=<mac>@<sender's domain>`: one address per message (not per recipient), so the
relay still sends one transaction per destination domain; the bounce's Final-Recipient says
which recipient failed. The mac is an HMAC-SHA256 of the log id under a key of the sender's
domain, derived from `secret_key` (every service process has the same one), truncated to 16
hex digits and compared with compare_digest: an address of one domain is refused at another,
and nobody can mint one. Like `SRS0=`, the tag is read before routing, so it shadows any
mailbox whose name would start with it. Forwarded copies keep their SRS sender (shared.mail.srs).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass

from sqlalchemy import select

from shared.config import Settings
from shared.errors import InvalidAddress
from shared.mail import srs
from shared.mail.addresses import domain_forms, normalise_domain
from shared.mail.routing import DeliveryPlan, Refusal, is_hosted_domain, resolve_recipient
from shared.storage.db import Database
from shared.storage.lookups import hosted_domain
from shared.storage.models import LoggedMessage

log = logging.getLogger(__name__)

TAG = "verp"
MAC_LENGTH = 16
# The label keeps these keys apart from every other use of the secret (SRS, portal sessions).
KEY_LABEL = b"beaconmail verp key\x00"
_VERP = re.compile(rf"{TAG}=([0-9a-f]{{20}})=([0-9a-f]{{{MAC_LENGTH}}})", re.IGNORECASE)


@dataclass(frozen=True)
class ReturnRoute:
    """Where mail to a VERP address goes (`plan`: the original sender), and the log entry it names
    (None when the address was refused)."""

    plan: DeliveryPlan
    log_id: str | None
    sender: str = ""


def is_verp_address(address: str) -> bool:
    return address[: len(TAG) + 1].lower() == f"{TAG}="


def _mac(settings: Settings, domain: str, log_id: str) -> str:
    key = hmac.new(settings.secret_key.encode(), KEY_LABEL + domain.encode(), hashlib.sha256).digest()
    return hmac.new(key, log_id.encode(), hashlib.sha256).hexdigest()[:MAC_LENGTH]


def return_path(db: Database, sender: str, log_id: str | None) -> str:
    """The envelope sender a queued copy leaves with: the VERP address of its log entry when a
    hosted sender's logged message, else `sender` as it is (the null sender, SRS forwards,
    messages the system wrote)."""
    if not sender or log_id is None or srs.is_srs_address(sender):
        return sender
    try:
        domain = normalise_domain(sender.rpartition("@")[2])
    except InvalidAddress:
        return sender
    if not is_hosted_domain(db, domain):
        return sender
    return f"{TAG}={log_id}={_mac(db.settings, domain, log_id)}@{domain}"


def log_id_of(settings: Settings, address: str) -> str | None:
    """The log id a VERP address of ours names, or None when it is malformed or its mac is not
    the one we would have written for its domain."""
    local, _at, domain_text = address.rpartition("@")
    found = _VERP.fullmatch(local)
    if found is None:
        return None
    try:
        domain = normalise_domain(domain_text)
    except InvalidAddress:
        return None
    log_id, mac = found.group(1).lower(), found.group(2).lower()
    return log_id if hmac.compare_digest(mac, _mac(settings, domain, log_id)) else None


def bounce_route(db: Database, address: str) -> ReturnRoute | None:
    """Where mail to a VERP address at a hosted domain goes: to the sender of the message it
    names, as routing delivers to that sender. Refused as unknown when the mac is wrong or the
    entry is gone (retention) or was another domain's. None for any other address."""
    if not is_verp_address(address):
        return None
    try:
        name = normalise_domain(address.rpartition("@")[2])
    except InvalidAddress:
        return None
    log_id = log_id_of(db.settings, address)
    with db.read_session.begin() as s:
        if hosted_domain(s, name) is None:
            return None
        entry = select(LoggedMessage.sender).where(
            LoggedMessage.id == log_id, LoggedMessage.sender_domain.in_(domain_forms(name))
        )
        sender = s.scalar(entry) if log_id is not None else None
    if not sender:
        log.info("RCPT to %r refused: no message of ours has this return path", address)
        return ReturnRoute(DeliveryPlan(address.lower(), refusal=Refusal.NO_SUCH_USER), None)
    try:
        plan = resolve_recipient(db, sender)
    except InvalidAddress:
        plan = DeliveryPlan(address.lower(), refusal=Refusal.NO_SUCH_USER)
    return ReturnRoute(plan, log_id if plan.deliverable else None, sender)
