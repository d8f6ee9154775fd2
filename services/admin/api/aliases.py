"""/api/v1/aliases: list, create (catch-all as @domain), read, replace destinations, delete."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_actor
from services.admin.api.payload import json_body, query_text, strings, text
from services.admin.portal import db
from shared import accounts
from shared.accounts.records import alias_record

bp = Blueprint("aliases", __name__, url_prefix="/aliases")


@bp.get("")
def list_aliases() -> Response:
    listed = accounts.list_aliases(db(), query_text("domain") or None, actor=api_actor())
    return jsonify(items=[alias_record(alias) for alias in listed])


@bp.post("")
def create_alias() -> tuple[Response, int]:
    body = json_body("source", "destinations")
    source = text(body, "source", required=True, max_length=320) or ""
    destinations = strings(body, "destinations", required=True) or []
    return jsonify(alias_record(accounts.create_alias(db(), source, destinations, actor=api_actor()))), 201


@bp.get("/<source>")
def get_alias(source: str) -> Response:
    return jsonify(alias_record(accounts.get_alias(db(), source, actor=api_actor())))


@bp.put("/<source>")
def replace_alias(source: str) -> Response:
    destinations = strings(json_body("destinations"), "destinations", required=True) or []
    return jsonify(alias_record(accounts.update_alias(db(), source, destinations, actor=api_actor())))


@bp.delete("/<source>")
def delete_alias(source: str) -> tuple[str, int]:
    accounts.remove_alias(db(), source, actor=api_actor())
    return "", 204
