"""/api/v1/mailboxes/{address}/app-passwords: list a mailbox's app passwords, make one (its
password is in the 201 reply, once), revoke one. The same rights as the portal's pages."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor
from services.admin.api.payload import count, invalid, json_body, strings, text
from services.admin.portal import db
from shared.accounts import app_passwords
from shared.accounts.records import app_password_record

bp = Blueprint("app_passwords", __name__, url_prefix="/mailboxes")


@bp.get("/<address>/app-passwords")
def list_app_passwords(address: str) -> Response:
    views = app_passwords.list_app_passwords(db(), address, actor=api_actor())
    return jsonify(items=[app_password_record(view) for view in views])


@bp.post("/<address>/app-passwords")
def create_app_password(address: str) -> tuple[Response, int]:
    body = json_body("name", "protocols", "expires_days")
    expires = count(body, "expires_days")
    if expires is not None and not 1 <= expires <= app_passwords.MAX_DAYS:
        raise invalid("expires_days", f"must be 1 to {app_passwords.MAX_DAYS} days")
    protocols = strings(body, "protocols") or []
    unknown = sorted(set(protocols) - set(app_passwords.PROTOCOLS))
    if unknown:
        raise invalid("protocols", f"unknown protocol {unknown[0]!r}: use smtp, pop3 or imap")
    issued = app_passwords.create_app_password(
        db(),
        address,
        name=text(body, "name", required=True, max_length=app_passwords.MAX_NAME) or "",
        protocols=protocols,
        expires_days=expires,
        actor=api_actor(),
    )
    return jsonify(app_password=app_password_record(issued.app_password), password=issued.password), 201


@bp.delete("/<address>/app-passwords/<int:app_password_id>")
def revoke_app_password(address: str, app_password_id: int) -> tuple[str, int]:
    app_passwords.revoke_app_password(db(), address, app_password_id, actor=api_actor())
    return "", 204
