"""The Authentication-Results header field (RFC 8601): written for what we found, and removed
where it arrives already claiming to be ours (§5), so no one can hand us a verdict."""
from __future__ import annotations

import re

from shared.mail.authentication.fields import header_fields, header_section, without_comments
from shared.mail.authentication.results import NONE, AuthReport

FIELD_NAME = b"Authentication-Results"
_FIELD = re.compile(rb"authentication-results[ \t]*:", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]+")
# RFC 5322 §2.1.1: a line may hold 998 characters; past that the field is folded between results.
_MAX_LINE = 998


def _value(text: str) -> str:
    """A property value as RFC 8601 §2.2 allows it: a token, else a quoted string."""
    if _TOKEN.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _results(report: AuthReport) -> list[str]:
    spf = report.spf
    identity = "smtp.helo" if spf.helo else "smtp.mailfrom"
    results = [f"spf={spf.result} {identity}={_value(spf.domain)}" if spf.domain else f"spf={spf.result}"]
    for signature in report.dkim:
        properties = "".join(
            f" header.{name}={value}" for name, value in (("d", signature.domain), ("s", signature.selector)) if value
        )
        results.append(f"dkim={signature.result}{properties}")
    if not report.dkim:
        results.append(f"dkim={NONE}")
    dmarc = report.dmarc
    results.append(f"dmarc={dmarc.result} header.from={dmarc.domain}" if dmarc.domain else f"dmarc={dmarc.result}")
    if report.arc is not None:
        results.append(f"arc={report.arc}")
    return results


def results_header(authserv_id: str, report: AuthReport) -> bytes:
    parts = [authserv_id, *_results(report)]
    line = f"{FIELD_NAME.decode()}: " + "; ".join(parts)
    if len(line) > _MAX_LINE:
        line = f"{FIELD_NAME.decode()}: " + ";\r\n\t".join(parts)
    return line.encode("utf-8") + b"\r\n"


def authserv_id_of(field: bytes) -> str:
    """The authserv-id a field names: its first word once comments and folding are gone."""
    value = without_comments(re.sub(r"\r?\n", "", field[field.index(b":") + 1 :].decode("utf-8", "replace")))
    words = value.split(";", 1)[0].split()
    return words[0] if words else ""


def without_our_results(message: bytes, authserv_id: str) -> bytes:
    """The message without Authentication-Results fields that name `authserv_id`; the same
    bytes otherwise (nothing else is touched)."""
    head = header_section(message)
    ours = authserv_id.lower().rstrip(".")
    kept, removed = [], False
    for field in header_fields(head):
        if _FIELD.match(field) and authserv_id_of(field).lower().rstrip(".") == ours:
            removed = True
        else:
            kept.append(field)
    return b"".join(kept) + message[len(head) :] if removed else message

