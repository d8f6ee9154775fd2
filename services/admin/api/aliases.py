"""/api/v1/aliases: list, create (catch-all as @domain), read, replace destinations, delete."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor, api_scope
from services.admin.api.payload import json_body, query_text, strings, text
from services.admin.portal import db
from shared import accounts
from shared.accounts.permissions import alias_source_in_scope, domain_in_scope
from shared.accounts.records import alias_record
from shared.mail.addresses import parse_alias_source

bp = Blueprint("aliases", __name__, url_prefix="/aliases")


@bp.get("")
def list_aliases() -> Response:
    wanted = query_text("domain")
    domain = domain_in_scope(api_scope(), wanted) if wanted else None
    listed = accounts.list_aliases(db(), domain, domains=api_scope().domain_filter())
    return jsonify(items=[alias_record(alias) for alias in listed])


@bp.post("")
def create_alias() -> tuple[Response, int]:
    body = json_body("source", "destinations")
    raw = text(body, "source", required=True, max_length=320) or ""
    parse_alias_source(raw)  # a malformed source is a 422, not a 404
    source = alias_source_in_scope(api_scope(), raw)
    destinations = strings(body, "destinations", required=True) or []
    return jsonify(alias_record(accounts.create_alias(db(), source, destinations, actor=api_actor()))), 201


@bp.get("/<source>")
def get_alias(source: str) -> Response:
    return jsonify(alias_record(accounts.get_alias(db(), alias_source_in_scope(api_scope(), source))))


@bp.put("/<source>")
def replace_alias(source: str) -> Response:
    stored = accounts.get_alias(db(), alias_source_in_scope(api_scope(), source)).source
    destinations = strings(json_body("destinations"), "destinations", required=True) or []
    return jsonify(alias_record(accounts.update_alias(db(), stored, destinations, actor=api_actor())))


@bp.delete("/<source>")
def delete_alias(source: str) -> tuple[str, int]:
    accounts.remove_alias(db(), alias_source_in_scope(api_scope(), source), actor=api_actor())
    return "", 204
