"""Problem details (RFC 9457) for the send API: `application/problem+json` with a stable `code`
and, when one field of the request is at fault, its name in `field`."""
from __future__ import annotations

import json
from http import HTTPStatus

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException

from services.admin.api.errors import BEACON_ERRORS, HTTP_CODES, ApiError
from shared.errors import BeaconError, LimitExceeded

MEDIA_TYPE = "application/problem+json"


def problem(status: int, code: str, detail: str, field: str | None = None) -> Response:
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field:
        body["field"] = field
    response = Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="beaconmail"'
    return response


def from_api_error(error: ApiError) -> Response:
    return problem(error.status, error.code, error.message, next(iter(error.fields or {}), None))


def from_beacon_error(error: BeaconError) -> Response:
    field = getattr(error, "field", None)
    if isinstance(error, LimitExceeded):  # sending's only limit is the hourly rate
        return problem(429, "too_many_requests", str(error), field)
    status, code = next(((s, c) for kind, s, c in BEACON_ERRORS if isinstance(error, kind)), (422, "invalid_value"))
    return problem(status, code, str(error), field)


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    return problem(status, HTTP_CODES.get(status, "http_error"), error.description or error.name)


def answer_with_problems(bp: Blueprint) -> None:
    bp.register_error_handler(ApiError, from_api_error)
    bp.register_error_handler(BeaconError, from_beacon_error)
    bp.register_error_handler(HTTPException, from_http_exception)
