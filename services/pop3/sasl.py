"""SASL PLAIN for POP3 AUTH (RFC 5034, RFC 4616): strict base64 and the PLAIN message."""

from __future__ import annotations

import binascii


def decode_base64(text: bytes) -> bytes | None:
    """Strict base64 (RFC 5034 §4); a lone `=` or an empty line is an empty response."""
    if text in (b"", b"="):
        return b""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def parse_plain(message: bytes) -> tuple[str, str] | None:
    """(authcid, password) of a PLAIN message (RFC 4616 §2), or None if unusable.

    An authorisation identity is accepted only when it names the user
    itself: nobody may act as somebody else.
    """
    parts = message.split(b"\0")
    if len(parts) != 3:
        return None
    try:
        authzid, authcid, password = (part.decode() for part in parts)
    except UnicodeDecodeError:
        return None
    if not authcid or (authzid and authzid != authcid):
        return None
    return authcid, password
