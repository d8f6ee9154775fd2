"""/api/v1/webhooks: a domain's webhooks (list, create with its secret shown once, delete)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor
from services.admin.api.payload import json_body, query_text, strings, text
from services.admin.portal import db
from shared.accounts import webhooks
from shared.accounts.records import webhook_record

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
MAX_ID = 2**31 - 1  # an INTEGER column; a larger id matches nothing (404) instead of failing the query


@bp.get("")
def list_webhooks() -> Response:
    listed = webhooks.list_webhooks(db(), query_text("domain"), actor=api_actor())
    return jsonify(items=[webhook_record(view) for view in listed])


@bp.post("")
def create_webhook() -> tuple[Response, int]:
    body = json_body("domain", "url", "events")
    issued = webhooks.create_webhook(
        db(),
        text(body, "domain", required=True, max_length=255) or "",
        text(body, "url", required=True, max_length=2048) or "",
        strings(body, "events", required=True) or [],
        actor=api_actor(),
    )
    return jsonify(webhook_record(issued.webhook) | {"secret": issued.secret}), 201


@bp.delete(f"/<int(max={MAX_ID}):webhook_id>")
def delete_webhook(webhook_id: int) -> tuple[str, int]:
    webhooks.remove_webhook(db(), webhook_id, actor=api_actor())
    return "", 204
