"""/api/v1/mailboxes/{address}/junk: a mailbox's Junk messages with their spam verdict; release
one into the inbox, delete one. The same rights as the portal's quarantine pages."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor
from services.admin.api.errors import ApiError
from services.admin.api.payload import query_int
from services.admin.feedback import error_text
from services.admin.portal import db
from shared.accounts import quarantine
from shared.accounts.records import junk_record
from shared.errors import InvalidValue

bp = Blueprint("junk", __name__, url_prefix="/mailboxes")


def message_id_of(text: str) -> str:
    """The id in the path, or 400: a malformed id names no message anywhere."""
    try:
        return quarantine.checked_junk_id(text)
    except InvalidValue as error:
        raise ApiError(400, "bad_request", error_text(error)) from None


@bp.get("/<address>/junk")
def list_junk(address: str) -> Response:
    limit = query_int("limit", quarantine.MAX_LISTED, quarantine.MAX_LISTED)
    listing = quarantine.list_junk_messages(db(), address, actor=api_actor(), limit=limit)
    return jsonify(address=listing.address, items=[junk_record(m) for m in listing.messages], total=listing.total)


@bp.post("/<address>/junk/<message_id>/release")
def release_junk(address: str, message_id: str) -> tuple[str, int]:
    quarantine.release_junk_message(db(), address, message_id_of(message_id), actor=api_actor())
    return "", 204


@bp.delete("/<address>/junk/<message_id>")
def delete_junk(address: str, message_id: str) -> tuple[str, int]:
    quarantine.delete_junk_message(db(), address, message_id_of(message_id), actor=api_actor())
    return "", 204
