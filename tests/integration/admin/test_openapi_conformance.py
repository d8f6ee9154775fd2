"""The OpenAPI document checked against the live API by schemathesis: every operation,
with generated input, answers as documented (status, content type, body schema) and
never with a server error."""
from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Err, Ok

from shared.storage.db import Database

from .support import World, bearer

EXAMPLES_PER_OPERATION = 5
# The document describes shapes. Input of the right shape may still break a business rule
# (address syntax, an unknown domain, a limit) and is then refused with 404/409/422.
SEMANTIC_REJECTIONS_ALLOWED = [checks.positive_data_acceptance]


def test_api_conforms_to_its_document(app: Flask, db: Database, world: World) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    auth = bearer(db, world.admin, read_only=False)
    results = list(schema.get_all_operations())
    broken = [str(result.err()) for result in results if isinstance(result, Err)]
    assert broken == [], "the document does not load"
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == 44

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=auth, excluded_checks=SEMANTIC_REJECTIONS_ALLOWED)

        conforms()
