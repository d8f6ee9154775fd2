"""POST /api/v1/messages: send mail as the send token's owner; problems as RFC 9457 documents."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from flask import Blueprint, Response, jsonify, request

from services.admin.api.access import api_actor
from services.admin.api.payload import invalid, json_body, strings, text
from services.admin.api.problems import answer_with_problems
from services.admin.portal import db, portal
from shared.accounts import sending
from shared.accounts.idempotency import HEADER
from shared.mail.composition import Attachment, Draft

bp = Blueprint("messages", __name__, url_prefix="/messages")
answer_with_problems(bp)

PARTS = ("subject", "text", "html", "attachments", "headers")
FIELDS = ("from", "to", "cc", "bcc", "tags", "raw_base64", *PARTS)
ATTACHMENT_FIELDS = {"filename", "content_type", "content_base64"}
# Room for base64 (4/3) and the JSON around it.
JSON_OVERHEAD = 64 * 1024


@bp.post("")
def send_message() -> tuple[Response, int]:
    limit = portal().settings.max_message_size
    request.max_content_length = limit * 4 // 3 + JSON_OVERHEAD
    body = json_body(*FIELDS)
    envelope = sending.Envelope(
        sender=text(body, "from", required=True, max_length=998) or "",
        recipients=tuple((field, tuple(strings(body, field, required=field == "to") or ())) for field in ("to", "cc", "bcc")),
        tags=tuple(strings(body, "tags") or ()),
    )
    content = _raw(body) if "raw_base64" in body else _draft(body, envelope, limit)
    answer, replayed = sending.send_message(
        db(),
        envelope,
        content,
        actor=api_actor(),
        idempotency_key=request.headers.get(HEADER),
        request_hash=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
    )
    response = jsonify(answer)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 202


def _raw(body: dict[str, Any]) -> bytes:
    mixed = [part for part in PARTS if part in body]
    if mixed:
        raise invalid(mixed[0], "give either raw_base64 or the message's parts, not both")
    return _decoded(body.get("raw_base64"), "raw_base64")


def _draft(body: dict[str, Any], envelope: sending.Envelope, limit: int) -> Draft:
    return Draft(
        author=envelope.sender,
        to=envelope.recipients[0][1],
        cc=envelope.recipients[1][1],
        subject=text(body, "subject", max_length=998) or "",
        text=text(body, "text", max_length=limit),
        html=text(body, "html", max_length=limit),
        attachments=tuple(_attachment(index, item) for index, item in enumerate(_list(body, "attachments"))),
        headers=tuple(_headers(body)),
    )


def _list(body: dict[str, Any], field: str) -> list[Any]:
    value = body.get(field) or []
    if not isinstance(value, list):
        raise invalid(field, "must be a list")
    return value


def _attachment(index: int, item: Any) -> Attachment:
    field = f"attachments[{index}]"
    if not isinstance(item, dict) or set(item) != ATTACHMENT_FIELDS:
        raise invalid(field, f"must be an object with {', '.join(sorted(ATTACHMENT_FIELDS))}")
    name, kind = item["filename"], item["content_type"]
    if not isinstance(name, str) or not isinstance(kind, str) or len(name) > 255 or len(kind) > 127:
        raise invalid(field, "filename and content_type must be short strings")
    return Attachment(name, kind, _decoded(item["content_base64"], f"{field}.content_base64"))


def _headers(body: dict[str, Any]) -> list[tuple[str, str]]:
    value = body.get("headers") or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) and len(v) <= 998 for v in value.values()):
        raise invalid("headers", "must be an object of header names to string values")
    return list(value.items())


def _decoded(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise invalid(field, "must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(field, "not valid base64") from None
