"""/api/v1/mailboxes: search by pages (an ?after= cursor), create, read, change (with the
out-of-office reply), password, forwarding, delete."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, url_for

from services.admin.api.access import api_actor
from services.admin.api.payload import (
    MAX_PAGE,
    count,
    day,
    flag,
    invalid,
    json_body,
    password,
    query_int,
    query_text,
    strings,
    text,
)
from services.admin.api.serialise import mailbox_json
from services.admin.mailboxes import generated_password
from services.admin.portal import db, portal
from shared import accounts
from shared.accounts import forwarding, out_of_office
from shared.accounts.mailbox_search import search_mailboxes
from shared.accounts.records import forwarding_record, out_of_office_record
from shared.mail.autoreply import MAX_TEXT, Notice, checked_notice

bp = Blueprint("mailboxes", __name__, url_prefix="/mailboxes")

DEFAULT_PAGE = 50
FIELDS = (
    "name", "quota_bytes", "active", "smtp_enabled", "pop3_enabled", "imap_enabled", "is_global_admin", "managed_domains"
)
OUT_OF_OFFICE_FIELDS = ("enabled", "subject", "text", "starts_on", "ends_on")


def refuse_early(address: str) -> None:
    """A mailbox the token may not change answers 404 or 403 before its body is read, so a
    malformed body tells nothing about it. The use case checks again as it writes."""
    accounts.get_mailbox(db(), address, actor=api_actor(), to_change=True)


@bp.get("")
def list_mailboxes() -> Response:
    domain, search, after = query_text("domain"), query_text("search"), query_text("after")
    offset, limit = query_int("offset", 0, 10**9), query_int("limit", DEFAULT_PAGE, MAX_PAGE)
    found = search_mailboxes(db(), domain, actor=api_actor(), search=search, after=after, offset=offset, limit=limit)
    following = None
    if found.has_next and found.mailboxes:
        last = found.mailboxes[-1].address
        following = url_for(".list_mailboxes", domain=domain, search=search, after=last, limit=limit)
    return jsonify(
        items=[mailbox_json(m) for m in found.mailboxes],
        total=found.total,
        total_exact=found.total_is_exact,
        offset=offset,
        limit=limit,
        next=following,
    )


@bp.post("")
def create_mailbox() -> tuple[Response, int]:
    body = json_body("address", "password", "name", "quota_bytes")
    address = text(body, "address", required=True, max_length=320) or ""
    given = password(body, "password", portal().settings.password_min_length)
    new_password = given or generated_password()
    mailbox = accounts.create_mailbox(
        db(),
        address,
        new_password,
        quota_bytes=count(body, "quota_bytes"),
        name=text(body, "name", max_length=255) or "",
        actor=api_actor(),
    )
    reply = {"mailbox": mailbox_json(mailbox), "password": None if given else new_password}
    return jsonify(reply), 201


def mailbox_detail(address: str) -> dict[str, Any]:
    """One mailbox as GET and PATCH show it: the listed fields and its out-of-office reply."""
    actor = api_actor()
    notice = out_of_office.get_out_of_office(db(), address, actor=actor)
    return mailbox_json(accounts.get_mailbox(db(), address, actor=actor)) | {"out_of_office": out_of_office_record(notice)}


def out_of_office_payload(body: dict[str, Any]) -> Notice | None:
    """The `out_of_office` object, which replaces the whole setting (omitted fields are empty)."""
    given = body.get("out_of_office")
    if given is None:
        return None
    if not isinstance(given, dict) or set(given) - set(OUT_OF_OFFICE_FIELDS):
        raise invalid("out_of_office", f"must be an object with only {', '.join(OUT_OF_OFFICE_FIELDS)}")
    return checked_notice(Notice(
        enabled=bool(flag(given, "enabled")),
        subject=text(given, "subject") or "",
        text=text(given, "text", max_length=MAX_TEXT) or "",
        starts_on=day(given, "starts_on"),
        ends_on=day(given, "ends_on"),
    ))


@bp.get("/<address>")
def get_mailbox(address: str) -> Response:
    return jsonify(mailbox_detail(address))


@bp.patch("/<address>")
def update_mailbox(address: str) -> Response:
    """The mailbox fields and the out-of-office reply are checked before either is written."""
    refuse_early(address)
    body = json_body(*FIELDS, "out_of_office")
    notice = out_of_office_payload(body)
    accounts.update_mailbox(
        db(),
        address,
        actor=api_actor(),
        name=text(body, "name", max_length=255),
        quota_bytes=count(body, "quota_bytes"),
        active=flag(body, "active"),
        smtp_enabled=flag(body, "smtp_enabled"),
        pop3_enabled=flag(body, "pop3_enabled"),
        imap_enabled=flag(body, "imap_enabled"),
        global_admin=flag(body, "is_global_admin"),
        managed_domains=strings(body, "managed_domains"),
    )
    if notice is not None:
        out_of_office.set_out_of_office(db(), address, notice, actor=api_actor())
    return jsonify(mailbox_detail(address))


@bp.put("/<address>/password")
def set_password(address: str) -> tuple[str, int]:
    refuse_early(address)
    new_password = password(json_body("password"), "password", portal().settings.password_min_length, required=True) or ""
    accounts.set_password(db(), address, new_password, actor=api_actor())
    return "", 204


@bp.get("/<address>/forwarding")
def get_forwarding(address: str) -> Response:
    return jsonify(forwarding_record(forwarding.get_forwarding(db(), address, actor=api_actor())))


@bp.put("/<address>/forwarding")
def set_forwarding(address: str) -> Response:
    refuse_early(address)
    body = json_body("destinations", "keep_copy")
    destinations = strings(body, "destinations", required=True) or []
    keep_copy = flag(body, "keep_copy")
    view = forwarding.set_forwarding(
        db(), address, destinations, keep_copy=True if keep_copy is None else keep_copy, actor=api_actor()
    )
    return jsonify(forwarding_record(view))


@bp.delete("/<address>")
def delete_mailbox(address: str) -> tuple[str, int]:
    accounts.remove_mailbox(db(), address, actor=api_actor())
    return "", 204
