"""DKIM verification (RFC 6376) with dkimpy: one result per DKIM-Signature field.

A valid signature with `l=` gets `policy` (RFC 8601 §2.7.1): anyone may append to the body it
covers (RFC 6376 §8.2), so it vouches for no particular message and counts for nothing.
"""
from __future__ import annotations

import re

import dkim  # type: ignore[import-untyped]

from shared.mail.authentication.fields import header_fields
from shared.mail.authentication.keys import KeyLookupFailed, key_lookup
from shared.mail.authentication.results import FAIL, PASS, PERMERROR, POLICY, TEMPERROR, DkimResult
from shared.mail.resolver import Resolver

# Each signature costs a key lookup and an RSA verification: more than this many are not
# looked at (a message with a hundred signatures is not worth a hundred lookups).
MAX_SIGNATURES = 5
_DKIM_SIGNATURE = re.compile(rb"dkim-signature[ \t]*:", re.IGNORECASE)
# What dkimpy raises besides its own errors when a message or signature is malformed (its
# header parser indexes and decodes without checks): a bad signature, never a 451.
MALFORMED = (dkim.DKIMException, IndexError, KeyError, TypeError, ValueError)
_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def signature_count(message: bytes) -> int:
    return sum(1 for field in header_fields(message) if _DKIM_SIGNATURE.match(field))


def verify_signatures(resolver: Resolver, message: bytes) -> tuple[DkimResult, ...]:
    count = min(signature_count(message), MAX_SIGNATURES)
    return tuple(_verify(resolver, message, index) for index in range(count))


def _verify(resolver: Resolver, message: bytes, index: int) -> DkimResult:
    try:
        verifier = dkim.DKIM(message, minkey=1024)
    except MALFORMED:
        return DkimResult(PERMERROR, "", "")
    try:
        valid = verifier.verify(idx=index, dnsfunc=key_lookup(resolver))
        result = _result(verifier, bool(valid))
    except KeyLookupFailed:
        result = TEMPERROR
    except dkim.ValidationError:
        result = FAIL
    except MALFORMED:
        result = PERMERROR
    return DkimResult(result, _tag(verifier.domain), _tag(verifier.selector))


def _result(verifier: dkim.DKIM, valid: bool) -> str:
    if not valid:
        return FAIL
    return POLICY if b"l" in verifier.signature_fields else PASS


def _tag(value: bytes | str | None) -> str:
    """d= or s= as it may appear in our header: a plain domain-like token, lower-case, else ""."""
    if not value:
        return ""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    return text.lower() if _TOKEN.fullmatch(text) else ""
