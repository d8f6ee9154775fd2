"""The send API and webhooks against their OpenAPI description, by schemathesis: generated
requests with the token each needs (send scope; a manager's read-write token) are answered as
documented (status, media type, body) and never with a server error."""
from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from shared.accounts import tokens
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import World, bearer

EXAMPLES_PER_OPERATION = 25
SEMANTIC_REJECTIONS_ALLOWED = [checks.positive_data_acceptance]


def test_send_api_and_webhooks_conform_to_the_document(app: Flask, db: Database, world: World) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    sender = tokens.create_token(db, world.staff, name="app", sends_mail=True, actor=CONSOLE).secret
    headers = {"/messages": {"Authorization": f"Bearer {sender}"}}
    manager = bearer(db, world.manager, read_only=False)
    # The message log's reads (GET /messages...) are the read API's, checked with it.
    operations = [
        result.ok() for result in schema.get_all_operations()
        if isinstance(result, Ok)
        and (result.ok().path.startswith("/webhooks") or (result.ok().path, result.ok().method) == ("/messages", "post"))
    ]
    assert sorted(f"{op.method.upper()} {op.path}" for op in operations) == [
        "DELETE /webhooks/{id}", "GET /webhooks", "POST /messages", "POST /webhooks",
    ]
    for operation in operations:
        conforms(operation, headers.get(operation.path, manager))


def conforms(operation: APIOperation, auth: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=auth, excluded_checks=SEMANTIC_REJECTIONS_ALLOWED)

    answers_as_documented()
