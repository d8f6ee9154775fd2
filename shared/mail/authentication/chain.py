"""ARC verification (RFC 8617) with dkimpy: the chain's validation status, or None when the
message carries no ARC set. We record it (`arc=`) and decide nothing on it: whom to trust as
a forwarder is a choice we do not offer yet."""
from __future__ import annotations

import re

import dkim  # type: ignore[import-untyped]

from shared.mail.authentication.fields import header_fields
from shared.mail.authentication.keys import KeyLookupFailed, key_lookup
from shared.mail.authentication.results import FAIL, NONE, PASS, PERMERROR, TEMPERROR
from shared.mail.authentication.signatures import MALFORMED
from shared.mail.resolver import Resolver

_ARC_FIELD = re.compile(rb"arc-(seal|message-signature|authentication-results)[ \t]*:", re.IGNORECASE)
_STATUS = {b"pass": PASS, b"fail": FAIL, b"none": NONE}


def has_arc_set(message: bytes) -> bool:
    return any(_ARC_FIELD.match(field) for field in header_fields(message))


def verify_chain(resolver: Resolver, message: bytes) -> str | None:
    if not has_arc_set(message):
        return None
    try:
        status, _instances, _reason = dkim.arc_verify(message, dnsfunc=key_lookup(resolver))
    except KeyLookupFailed:
        return TEMPERROR
    except MALFORMED:
        return PERMERROR
    # None: an earlier sealer reported the chain broken (RFC 8617 §5.2 step 2).
    return _STATUS.get(status, FAIL)
