"""/api/v1/groups: group mailboxes with members and a sending policy."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor
from services.admin.api.payload import json_body, query_text, strings, text
from services.admin.portal import db
from shared import accounts
from shared.accounts.records import group_record

bp = Blueprint("groups", __name__, url_prefix="/groups")


@bp.get("")
def list_groups() -> Response:
    listed = accounts.list_groups(db(), query_text("domain") or None, actor=api_actor())
    return jsonify(items=[group_record(group) for group in listed])


@bp.post("")
def create_group() -> tuple[Response, int]:
    body = json_body("address", "members", "policy")
    address = text(body, "address", required=True, max_length=320) or ""
    members = strings(body, "members", required=True) or []
    policy = text(body, "policy", max_length=16) or "anyone"
    group = accounts.create_group(db(), address, members, policy=policy, actor=api_actor())
    return jsonify(group_record(group)), 201


@bp.get("/<address>")
def get_group(address: str) -> Response:
    return jsonify(group_record(accounts.get_group(db(), address, actor=api_actor())))


@bp.patch("/<address>")
def update_group(address: str) -> Response:
    body = json_body("members", "policy")
    updated = accounts.update_group(
        db(),
        address,
        members=strings(body, "members"),
        policy=text(body, "policy", max_length=16),
        actor=api_actor(),
    )
    return jsonify(group_record(updated))


@bp.delete("/<address>")
def delete_group(address: str) -> tuple[str, int]:
    accounts.remove_group(db(), address, actor=api_actor())
    return "", 204
