"""The DSN parameters of MAIL and RCPT (RFC 3461 §4), read without any I/O.

`read_mail_parameters` and `read_rcpt_parameters` take what follows the address and return
the other parameters (left for aiosmtpd, which answers 555 to any it does not know) and what
was asked for. They raise `BadDsnParameter` for a malformed, over-long or repeated one. ENVID
and ORCPT arrive as xtext; decoded, they must be printable US-ASCII (RFC 3461 §4.2, §4.4),
so a decoded CR or LF can never reach a header line of a report. `xtext` encodes them again
for a next hop that offers DSN.
"""

from __future__ import annotations

import re

from shared.mail.dsn_requests import NEVER, Event, MessageRequest, RecipientRequest, Ret

ENVID_MAX = 100  # RFC 3461 §4.4, octets of the xtext as sent
ORCPT_MAX = 500  # RFC 3461 §4.2
_XTEXT = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-F]{2})*")
_HEXCHAR = re.compile(r"\+([0-9A-F]{2})")
_ADDR_TYPE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_EVENT_ORDER = [event.value for event in Event]


class BadDsnParameter(ValueError):
    """A DSN parameter the server cannot accept: answered 501 5.5.4."""


def decode_xtext(value: str) -> str:
    """The text an xtext stands for; only printable US-ASCII (space included) is accepted."""
    if not _XTEXT.fullmatch(value):
        raise BadDsnParameter("not xtext")
    decoded = _HEXCHAR.sub(lambda match: chr(int(match.group(1), 16)), value)
    if not all(32 <= ord(character) < 127 for character in decoded):
        raise BadDsnParameter("not printable US-ASCII")
    return decoded


def xtext(text: str) -> str:
    """Encode printable US-ASCII as xtext: "+", "=", space and controls as +XX."""
    return "".join(ch if 33 <= ord(ch) < 127 and ch not in "+=" else f"+{ord(ch):02X}" for ch in text)


def _split(params: str, keywords: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """The parameters other than `keywords`, and the values of those (keyword upper-cased)."""
    others: list[str] = []
    found: dict[str, str] = {}
    for param in params.split():
        keyword, equals, value = param.partition("=")
        name = keyword.upper()
        if name not in keywords:
            others.append(param)
            continue
        if name in found or not equals or not value:
            raise BadDsnParameter(f"{name} repeated or empty")
        found[name] = value
    return others, found


def read_mail_parameters(params: str) -> tuple[str, MessageRequest]:
    """RET=FULL|HDRS and ENVID=xtext of a MAIL command."""
    others, found = _split(params, ("RET", "ENVID"))
    ret = found.get("RET")
    if ret is not None and ret.upper() not in (Ret.FULL.value, Ret.HDRS.value):
        raise BadDsnParameter("RET is FULL or HDRS")
    envid = found.get("ENVID")
    if envid is not None and len(envid) > ENVID_MAX:
        raise BadDsnParameter("ENVID too long")
    return " ".join(others), MessageRequest(
        Ret(ret.upper()) if ret else None, decode_xtext(envid) if envid is not None else None
    )


def read_rcpt_parameters(params: str) -> tuple[str, RecipientRequest]:
    """NOTIFY=NEVER|<SUCCESS,FAILURE,DELAY subset> and ORCPT=addr-type;xtext of a RCPT command.
    NOTIFY is kept in the RFC's order, each keyword once."""
    others, found = _split(params, ("NOTIFY", "ORCPT"))
    notify = found.get("NOTIFY")
    orcpt = found.get("ORCPT")
    return " ".join(others), RecipientRequest(
        _notify(notify) if notify is not None else None, _orcpt(orcpt) if orcpt is not None else None
    )


def _notify(value: str) -> str:
    words = value.upper().split(",")
    if words == [NEVER]:
        return NEVER
    if len(set(words)) != len(words) or not set(words) <= set(_EVENT_ORDER):
        raise BadDsnParameter("NOTIFY is NEVER or a list of SUCCESS, FAILURE and DELAY")
    return ",".join(word for word in _EVENT_ORDER if word in words)


def _orcpt(value: str) -> str:
    if len(value) > ORCPT_MAX:
        raise BadDsnParameter("ORCPT too long")
    addr_type, semicolon, address = value.partition(";")
    if not semicolon or not _ADDR_TYPE.fullmatch(addr_type) or not address:
        raise BadDsnParameter("ORCPT is addr-type;xtext")
    return f"{addr_type};{decode_xtext(address)}"
