"""/api/v1/messages (GET): the message log, searched and paged by cursor, and one message's
per-recipient timeline. Read scope; a domain manager sees messages from or to their domains."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor
from services.admin.api.payload import invalid, query_int, query_text
from services.admin.moments import parse_moment
from services.admin.portal import db
from shared.accounts import message_tracking
from shared.accounts.records import logged_message_record
from shared.mail import message_log

bp = Blueprint("message_log", __name__, url_prefix="/messages")
PAGE = 50


def query_time(name: str, *, end_of_day: bool = False) -> datetime | None:
    """A moment as services.admin.moments reads it; a bare day `until` includes that day."""
    raw = query_text(name)
    if raw is None:
        return None
    try:
        return parse_moment(raw, end_of_day=end_of_day)
    except (ValueError, OverflowError):
        raise invalid(name, "must be a date (2026-12-06), a date and time (2026-12-06T17:00:00Z) or Unix seconds") from None


def filters() -> message_tracking.LogFilters:
    return message_tracking.LogFilters(
        sender=query_text("sender"),
        recipient=query_text("recipient"),
        message_id=query_text("message_id"),
        status=status(),
        since=query_time("since"),
        until=query_time("until", end_of_day=True),
    )


@bp.get("")
def search_messages() -> Response:
    limit = query_int("limit", PAGE, message_tracking.MAX_PAGE)
    page = message_tracking.search_messages(db(), actor=api_actor(), filters=filters(), cursor=cursor(), limit=max(limit, 1))
    return jsonify(items=[logged_message_record(item) for item in page.items], next_cursor=page.next_cursor)


def cursor() -> str | None:
    raw = query_text("cursor")
    if raw is not None and not message_tracking.LOG_ID.fullmatch(raw):
        raise invalid("cursor", "must be the next_cursor of an earlier page")
    return raw


def status() -> str | None:
    raw = query_text("status")
    if raw is not None and raw not in message_log.STATUSES:
        raise invalid("status", f"must be one of {', '.join(message_log.STATUSES)}")
    return raw


@bp.get("/<log_id>")
def get_message(log_id: str) -> Response:
    view = message_tracking.get_message(db(), log_id, actor=api_actor())
    return jsonify(logged_message_record(view, timeline=True))
