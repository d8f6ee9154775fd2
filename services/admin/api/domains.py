"""/api/v1/domains: list, create, read, change limits and switches, delete, alias domains,
sender allow and block lists."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor
from services.admin.api.payload import choice, count, flag, json_body, text
from services.admin.api.serialise import domain_json
from services.admin.portal import db
from shared import accounts
from shared.accounts.records import sender_record
from shared.mail.sender_lists import MAX_SENDER_CHARS

bp = Blueprint("domains", __name__, url_prefix="/domains")

LIMITS = ("max_mailboxes", "max_aliases", "quota_bytes", "default_mailbox_quota")
SWITCHES = ("active", "inbound_checks", "require_2fa", "forbid_external_forwarding")
LISTINGS = {"allow": accounts.allow_sender, "block": accounts.block_sender}


def created(body: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(body), 201


@bp.get("")
def list_domains() -> Response:
    listed = accounts.list_domains(db(), actor=api_actor())
    return jsonify(items=[domain_json(domain) for domain in listed])


@bp.post("")
def create_domain() -> tuple[Response, int]:
    body = json_body("name", "require_2fa", *LIMITS)
    name = text(body, "name", required=True, max_length=255) or ""
    limits = {field: count(body, field) or 0 for field in LIMITS}
    require_2fa = bool(flag(body, "require_2fa"))
    domain = accounts.create_domain(db(), name, actor=api_actor(), require_2fa=require_2fa, **limits)
    return created(domain_json(domain))


@bp.get("/<name>")
def get_domain(name: str) -> Response:
    return jsonify(domain_json(accounts.get_domain(db(), name, actor=api_actor())))


@bp.patch("/<name>")
def update_domain(name: str) -> Response:
    body = json_body(*SWITCHES, *LIMITS)
    limits = {field: count(body, field) for field in LIMITS}
    switches = {field: flag(body, field) for field in SWITCHES}
    updated = accounts.update_domain(db(), name, actor=api_actor(), **switches, **limits)
    return jsonify(domain_json(updated))


@bp.delete("/<name>")
def delete_domain(name: str) -> tuple[str, int]:
    accounts.remove_domain(db(), name, actor=api_actor())
    return "", 204


@bp.post("/<name>/alias-domains")
def add_alias_domain(name: str) -> tuple[Response, int]:
    alias_name = text(json_body("name"), "name", required=True, max_length=255) or ""
    return created(domain_json(accounts.add_alias_domain(db(), alias_name, name, actor=api_actor())))


@bp.delete("/<name>/alias-domains/<alias_name>")
def remove_alias_domain(name: str, alias_name: str) -> tuple[str, int]:
    accounts.remove_alias_domain(db(), alias_name, of_domain=name, actor=api_actor())
    return "", 204


@bp.get("/<name>/senders")
def list_senders(name: str) -> Response:
    return jsonify(items=[sender_record(view) for view in accounts.list_senders(db(), name, actor=api_actor())])


@bp.post("/<name>/senders")
def list_sender(name: str) -> tuple[Response, int]:
    """Allow or block a sender; one listed already has its listing replaced."""
    body = json_body("sender", "listing")
    sender = text(body, "sender", required=True, max_length=MAX_SENDER_CHARS) or ""
    listing = choice(body, "listing", LISTINGS)
    return created(sender_record(LISTINGS[listing](db(), name, sender, actor=api_actor())))


@bp.delete("/<name>/senders/<path:sender>")
def unlist_sender(name: str, sender: str) -> tuple[str, int]:
    accounts.unlist_sender(db(), name, sender, actor=api_actor())
    return "", 204
