"""/api/v1/audit: the audit log, newest first, filtered like the page."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor
from services.admin.api.payload import MAX_PAGE, query_int, query_text
from services.admin.portal import db
from shared import accounts
from shared.accounts.records import audit_record

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("")
def list_audit() -> Response:
    offset, limit = query_int("offset", 0, 10**9), query_int("limit", 100, MAX_PAGE)
    entries = accounts.list_audit(
        db(),
        actor=api_actor(),
        domain=query_text("domain"),
        by=(query_text("actor") or "").lower() or None,
        action=query_text("action"),
        text=query_text("text"),
        limit=limit,
        offset=offset,
    )
    return jsonify(items=[audit_record(entry) for entry in entries], offset=offset, limit=limit)
