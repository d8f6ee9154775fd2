"""/api/v1/suppressions: the sending domains' suppression lists (list, paged by cursor and
searched by address; remove one entry)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor
from services.admin.api.payload import invalid, query_int, query_text
from services.admin.portal import db
from shared.accounts import suppressions
from shared.accounts.records import suppression_record

bp = Blueprint("suppressions", __name__, url_prefix="/suppressions")
PAGE = 50


@bp.get("")
def list_suppressions() -> Response:
    cursor = query_text("cursor")
    if cursor is not None and not suppressions.CURSOR.fullmatch(cursor):
        raise invalid("cursor", "must be the next_cursor of an earlier page")
    page = suppressions.list_suppressions(
        db(),
        actor=api_actor(),
        domain=query_text("domain"),
        address=query_text("address"),
        cursor=cursor,
        limit=max(query_int("limit", PAGE, suppressions.MAX_PAGE), 1),
    )
    return jsonify(items=[suppression_record(view) for view in page.items], next_cursor=page.next_cursor)


@bp.delete("/<domain>/<address>")
def delete_suppression(domain: str, address: str) -> tuple[str, int]:
    suppressions.remove_suppression(db(), domain, address, actor=api_actor())
    return "", 204
