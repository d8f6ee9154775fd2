"""/api/v1/groups: group mailboxes with members and a sending policy."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor, api_scope
from services.admin.api.payload import json_body, query_text, strings, text
from services.admin.portal import db
from shared import accounts
from shared.accounts.permissions import address_in_scope, domain_in_scope
from shared.accounts.records import group_record
from shared.mail.addresses import parse_address

bp = Blueprint("groups", __name__, url_prefix="/groups")


@bp.get("")
def list_groups() -> Response:
    wanted = query_text("domain")
    domain = domain_in_scope(api_scope(), wanted) if wanted else None
    listed = accounts.list_groups(db(), domain, domains=api_scope().domain_filter())
    return jsonify(items=[group_record(group) for group in listed])


@bp.post("")
def create_group() -> tuple[Response, int]:
    body = json_body("address", "members", "policy")
    parsed = parse_address(text(body, "address", required=True, max_length=320) or "")
    address = address_in_scope(api_scope(), str(parsed))
    members = strings(body, "members", required=True) or []
    policy = text(body, "policy", max_length=16) or "anyone"
    group = accounts.create_group(db(), str(address), members, policy=policy, actor=api_actor())
    return jsonify(group_record(group)), 201


@bp.get("/<address>")
def get_group(address: str) -> Response:
    return jsonify(group_record(accounts.get_group(db(), str(address_in_scope(api_scope(), address)))))


@bp.patch("/<address>")
def update_group(address: str) -> Response:
    group = accounts.get_group(db(), str(address_in_scope(api_scope(), address)))
    body = json_body("members", "policy")
    updated = accounts.update_group(
        db(),
        group.address,
        members=strings(body, "members"),
        policy=text(body, "policy", max_length=16),
        actor=api_actor(),
    )
    return jsonify(group_record(updated))


@bp.delete("/<address>")
def delete_group(address: str) -> tuple[str, int]:
    group = accounts.get_group(db(), str(address_in_scope(api_scope(), address)))
    accounts.remove_group(db(), group.address, actor=api_actor())
    return "", 204
