"""/api/v1/domains: list, create, read, change limits, delete, alias domains."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor, api_scope
from services.admin.api.payload import count, flag, json_body, text
from services.admin.api.serialise import domain_json
from services.admin.portal import db
from shared import accounts
from shared.accounts.permissions import domain_in_scope, require_global_admin
from shared.accounts.scoped import scoped_domain
from shared.errors import NotFound

bp = Blueprint("domains", __name__, url_prefix="/domains")

LIMITS = ("max_mailboxes", "max_aliases", "quota_bytes", "default_mailbox_quota")


def created(body: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(body), 201


@bp.get("")
def list_domains() -> Response:
    listed = accounts.list_domains(db(), names=api_scope().domain_filter())
    return jsonify(items=[domain_json(domain) for domain in listed])


@bp.post("")
def create_domain() -> tuple[Response, int]:
    require_global_admin(api_scope())
    body = json_body("name", *LIMITS)
    name = text(body, "name", required=True, max_length=255) or ""
    limits = {field: count(body, field) or 0 for field in LIMITS}
    domain = accounts.create_domain(db(), name, actor=api_actor(), **limits)
    return created(domain_json(domain))


@bp.get("/<name>")
def get_domain(name: str) -> Response:
    return jsonify(domain_json(scoped_domain(db(), api_scope(), name)))


@bp.patch("/<name>")
def update_domain(name: str) -> Response:
    domain = scoped_domain(db(), api_scope(), name)
    require_global_admin(api_scope())
    body = json_body("active", *LIMITS)
    limits = {field: count(body, field) for field in LIMITS}
    updated = accounts.update_domain(db(), domain.name, active=flag(body, "active"), actor=api_actor(), **limits)
    return jsonify(domain_json(updated))


@bp.delete("/<name>")
def delete_domain(name: str) -> tuple[str, int]:
    domain = scoped_domain(db(), api_scope(), name)
    require_global_admin(api_scope())
    accounts.remove_domain(db(), domain.name, actor=api_actor())
    return "", 204


@bp.post("/<name>/alias-domains")
def add_alias_domain(name: str) -> tuple[Response, int]:
    domain = scoped_domain(db(), api_scope(), name)
    require_global_admin(api_scope())
    alias_name = text(json_body("name"), "name", required=True, max_length=255) or ""
    return created(domain_json(accounts.add_alias_domain(db(), alias_name, domain.name, actor=api_actor())))


@bp.delete("/<name>/alias-domains/<alias_name>")
def remove_alias_domain(name: str, alias_name: str) -> tuple[str, int]:
    domain = scoped_domain(db(), api_scope(), name)
    require_global_admin(api_scope())
    alias_ascii = domain_in_scope(api_scope(), alias_name)  # normalises; a global admin covers every name
    if alias_ascii not in domain.alias_domains:
        raise NotFound(f"unknown alias domain: {alias_ascii}")
    accounts.remove_alias_domain(db(), alias_ascii, actor=api_actor())
    return "", 204
