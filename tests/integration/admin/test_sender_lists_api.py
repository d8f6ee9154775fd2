"""Sender allow and block lists and the inbound-checks switch through the JSON API."""
from __future__ import annotations

from flask import Flask
from werkzeug.test import TestResponse

from shared.storage.db import Database

from .support import World, bearer

SENDERS = "/api/v1/domains/alpha.example/senders"


def error_of(response: TestResponse) -> tuple[int, str, str]:
    error = response.get_json()["error"]
    return response.status_code, error["code"], error["message"]


def test_a_manager_lists_replaces_and_unlists_senders(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.manager, read_only=False)
    allowed = api.post(SENDERS, json={"sender": "Partner@Bücher.example", "listing": "allow"}, headers=auth)
    assert allowed.status_code == 201
    assert allowed.get_json()["sender"] == "partner@bücher.example"
    assert allowed.get_json()["listing"] == "allow" and allowed.get_json()["created"].endswith("+00:00")
    api.post(SENDERS, json={"sender": "@spam.example", "listing": "block"}, headers=auth)
    api.post(SENDERS, json={"sender": "partner@xn--bcher-kva.example", "listing": "block"}, headers=auth)
    items = api.get(SENDERS, headers=auth).get_json()["items"]
    assert [(item["sender"], item["listing"]) for item in items] == [
        ("partner@bücher.example", "block"),
        ("spam.example", "block"),
    ]
    assert api.delete(f"{SENDERS}/spam.example", headers=auth).status_code == 204
    assert api.delete(f"{SENDERS}/Partner@b%C3%BCcher.example", headers=auth).status_code == 204
    assert api.get(SENDERS, headers=auth).get_json()["items"] == []
    assert error_of(api.delete(f"{SENDERS}/spam.example", headers=auth)) == (
        404, "not_found", "sender not listed for alpha.example: spam.example"
    )


def test_bad_senders_and_bodies_are_refused_with_their_field(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.manager, read_only=False)
    assert error_of(api.post(SENDERS, json={"sender": "*@spam.example", "listing": "block"}, headers=auth)) == (
        422, "invalid_address", "invalid sender: '*@spam.example': no wildcards; list a whole domain as example.com"
    )
    assert error_of(api.post(SENDERS, json={"sender": "a@b.example", "listing": "junk"}, headers=auth)) == (
        422, "validation_error", "listing: must be one of allow, block"
    )
    assert error_of(api.post(SENDERS, json={"sender": "a@b.example"}, headers=auth))[2] == "listing: must be one of allow, block"
    assert error_of(api.post(SENDERS, json={"listing": "block"}, headers=auth))[2] == "sender: is required"
    assert error_of(api.post(SENDERS, json={"sender": "a@b.example", "listing": "block", "x": 1}, headers=auth))[1] == (
        "validation_error"
    )
    assert api.get(SENDERS, headers=auth).get_json()["items"] == []


def test_another_domain_and_a_read_only_token_are_refused(app: Flask, db: Database, world: World) -> None:
    api = app.test_client()
    manager, reader = bearer(db, world.manager, read_only=False), bearer(db, world.manager, read_only=True)
    admin = bearer(db, world.admin, read_only=False)
    beta = "/api/v1/domains/beta.example/senders"
    assert api.post(beta, json={"sender": "x@spam.example", "listing": "block"}, headers=admin).status_code == 201
    assert error_of(api.get(beta, headers=manager)) == (404, "not_found", "unknown domain: beta.example")
    assert error_of(api.post(beta, json={"sender": "y@spam.example", "listing": "allow"}, headers=manager))[0] == 404
    assert error_of(api.delete(f"{beta}/x@spam.example", headers=manager))[0] == 404
    assert error_of(api.post(SENDERS, json={"sender": "y@spam.example", "listing": "allow"}, headers=reader))[:2] == (
        403, "forbidden"
    )
    assert [item["sender"] for item in api.get(beta, headers=admin).get_json()["items"]] == ["x@spam.example"]
    assert api.get(SENDERS, headers=reader).get_json()["items"] == []


def test_inbound_checks_are_a_field_of_the_domain(app: Flask, db: Database, world: World) -> None:
    api = app.test_client()
    admin, manager = bearer(db, world.admin, read_only=False), bearer(db, world.manager, read_only=False)
    assert api.get("/api/v1/domains/alpha.example", headers=manager).get_json()["inbound_checks"] is True
    switched = api.patch("/api/v1/domains/alpha.example", json={"inbound_checks": False}, headers=admin)
    assert switched.status_code == 200 and switched.get_json()["inbound_checks"] is False
    assert api.get("/api/v1/domains/alpha.example", headers=admin).get_json()["inbound_checks"] is False
    assert error_of(api.patch("/api/v1/domains/alpha.example", json={"inbound_checks": "no"}, headers=admin)) == (
        422, "validation_error", "inbound_checks: must be true or false"
    )
    assert error_of(api.patch("/api/v1/domains/alpha.example", json={"inbound_checks": True}, headers=manager))[0] == 403
    assert api.get("/api/v1/domains/alpha.example", headers=admin).get_json()["inbound_checks"] is False


def test_the_document_describes_the_sender_lists(app: Flask, db: Database, world: World) -> None:
    document = app.test_client().get("/api/v1/openapi.json", headers=bearer(db, world.admin)).get_json()
    assert set(document["paths"]["/domains/{name}/senders"]) == {"parameters", "get", "post"}
    assert set(document["paths"]["/domains/{name}/senders/{sender}"]) == {"parameters", "delete"}
    schemas = document["components"]["schemas"]
    assert "inbound_checks" in schemas["Domain"]["required"] and "inbound_checks" in schemas["DomainUpdate"]["properties"]
    assert schemas["SenderCreate"]["properties"]["listing"]["enum"] == ["allow", "block"]
