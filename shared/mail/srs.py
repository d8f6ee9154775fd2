"""The Sender Rewriting Scheme (SRS) for mail a hosted domain forwards to another domain, and
the way back for bounces to the rewritten address.

A forwarded copy leaves with `SRS0=HHHH=TT=orig-domain=orig-local@forwarding-domain` as its
envelope sender, so the destination's SPF check looks at our domain, which lists us, and
not at the original sender's, which does not. A sender that is already SRS0 elsewhere
becomes SRS1 (`SRS1=HHHH=first-hop==HHHH=TT=...`), so bounces go back through that first hop.

srslib writes and reads the format exactly as libsrs2 and postsrsd do (HMAC-SHA1 of the
lower-cased timestamp, domain and local part, base64, first four characters; timestamp in
days, base32, mod 1024; hash compared case-insensitively since some MTAs lower-case local
parts). Two gaps of its `reverse` are closed here, as a forged address must never make us
an open relay: it checks only as many hash characters as the address carries (a
one-character hash would pass one time in about 40), so the hash must be full length; and
its hash leaves out the forwarding domain, so each hosted domain gets its own key, derived
from `secret_key` (every service process has the same one), and an address minted for one
domain is refused at another.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

import srslib  # type: ignore[import-untyped]

from shared.config import Settings
from shared.errors import N_, InvalidAddress
from shared.mail.addresses import MAX_LOCAL_OCTETS, normalise_domain
from shared.mail.routing import DeliveryPlan, Refusal, is_hosted_domain
from shared.storage.db import Database
from shared.storage.lookups import hosted_domain

log = logging.getLogger(__name__)

HASH_LENGTH = 4
MAX_AGE_DAYS = 21
# A path is at most 256 octets with its angle brackets (RFC 5321 §4.5.3.1.3). An SRS local
# part is longer than the 64 octets of §4.5.3.1.1 whenever the original domain and local
# part are long; like postsrsd we send it anyway and accept it back, within the path limit.
MAX_ADDRESS_OCTETS = 254
# The label keeps these keys apart from every other use of the secret (portal sessions).
KEY_LABEL = b"beaconmail srs key\x00"
_SRS_TAG = re.compile(r"SRS[01][=+-]", re.IGNORECASE)
# After the tag and its separator both schemes start with the hash, then `=`.
_HASH_FIELD = re.compile(r"SRS[01][=+-]([^=]*)=", re.IGNORECASE)


def is_srs_address(address: str) -> bool:
    return _SRS_TAG.match(address) is not None


def domain_key(settings: Settings, domain: str) -> bytes:
    """The SRS key of one hosted domain (its canonical name)."""
    return hmac.new(settings.secret_key.encode(), KEY_LABEL + domain.encode(), hashlib.sha256).digest()


def _scheme(settings: Settings, domain: str) -> srslib.SRS:
    return srslib.SRS(domain_key(settings, domain), validity_days=MAX_AGE_DAYS, hash_length=HASH_LENGTH)


def forwarding_sender(db: Database, sender: str, forwarding_domain: str) -> str:
    """The envelope sender of a copy that `forwarding_domain` (a hosted domain's canonical name)
    forwards to another domain. The null sender stays null, and a hosted sender stays as it is:
    its own SPF record already lists us."""
    if not sender:
        return sender
    local, _at, domain = sender.rpartition("@")
    domain = normalise_domain(domain)
    if is_hosted_domain(db, domain):
        return sender
    rewritten: str = _scheme(db.settings, forwarding_domain).forward(f"{local}@{domain}", forwarding_domain)
    if len(rewritten.encode()) > MAX_ADDRESS_OCTETS:
        log.warning("forward from %r not rewritten: its SRS address would be too long", sender)
        return sender
    return rewritten


def original_address(settings: Settings, address: str, domain: str) -> str:
    """Where a bounce to the SRS `address` at the hosted `domain` (canonical name) goes: the
    original sender for SRS0, the first hop's SRS0 address for SRS1. Raises InvalidAddress
    when the address is malformed, forged, minted for another domain or older than 21 days."""
    local = address.rpartition("@")[0]
    hash_field = _HASH_FIELD.match(local)
    if len(address.encode()) > MAX_ADDRESS_OCTETS or hash_field is None:
        raise InvalidAddress(N_("not an SRS address we could have written"))
    if len(hash_field.group(1)) != HASH_LENGTH:
        raise InvalidAddress(N_("SRS hash of the wrong length"))
    try:
        original: str = _scheme(settings, domain).reverse(address)
    except srslib.Error as exc:
        raise InvalidAddress(N_("SRS address refused: %(reason)s"), reason=exc.__class__.__name__) from None
    return _checked_original(original)


def _checked_original(original: str) -> str:
    """What srslib decoded, held to the rules of any address we would send to."""
    local, _at, domain = original.rpartition("@")
    if not local or not local.isprintable() or any(c.isspace() or c in "<>@" for c in local):
        raise InvalidAddress(N_("SRS address with an unusable local part"))
    if len(local.encode()) > MAX_LOCAL_OCTETS and not is_srs_address(local):
        raise InvalidAddress(N_("SRS address with an overlong local part"))
    return f"{local}@{normalise_domain(domain)}"


def bounce_plan(db: Database, address: str) -> DeliveryPlan | None:
    """Where mail to an SRS address at a hosted domain goes: on to the address it stands for
    (any sender, as postsrsd routes it: the hash already limits it to that one address), or
    refused as unknown when it is not valid. None for any other address: routing decides."""
    if not is_srs_address(address):
        return None
    try:
        name = normalise_domain(address.rpartition("@")[2])
    except InvalidAddress:
        return None
    with db.read_session.begin() as s:
        domain = hosted_domain(s, name)
        if domain is None:
            return None
        canonical, active = domain.name, domain.active
    recipient = f"{address.rpartition('@')[0]}@{canonical}"
    if not active:
        return DeliveryPlan(recipient, refusal=Refusal.DISABLED)
    try:
        original = original_address(db.settings, address, canonical)
    except InvalidAddress as exc:
        log.info("RCPT to %r refused: %s", address, exc)
        return DeliveryPlan(recipient, refusal=Refusal.NO_SUCH_USER)
    return DeliveryPlan(recipient, forwards=(original,))


def forwarding_domain(sender: str) -> str | None:
    """The domain that forwarded a queued copy, read from its SRS envelope sender (None for
    other senders); what the relay seals the copy's ARC set with."""
    if not is_srs_address(sender):
        return None
    try:
        return normalise_domain(sender.rpartition("@")[2])
    except InvalidAddress:
        return None
