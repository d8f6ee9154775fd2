"""JSON errors of the API: every failure is {"error": {"code", "message"}} with a stable code."""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from services.admin.feedback import error_text
from shared.errors import (
    AccountDisabled,
    AuthFailed,
    BeaconError,
    Conflict,
    InvalidAddress,
    InvalidValue,
    LimitExceeded,
    MaildropLocked,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    TemporaryFailure,
)

# Business errors -> (HTTP status, stable code). Order matters only for subclasses.
BEACON_ERRORS: tuple[tuple[type[BeaconError], int, str], ...] = (
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (InvalidAddress, 422, "invalid_address"),
    (InvalidValue, 422, "invalid_value"),
    (LimitExceeded, 422, "limit_exceeded"),
    (QuotaExceeded, 422, "quota_exceeded"),
    (PermissionDenied, 403, "forbidden"),
    (AuthFailed, 401, "unauthorized"),
    (AccountDisabled, 401, "unauthorized"),
    (MaildropLocked, 409, "locked"),
    (TemporaryFailure, 503, "temporarily_unavailable"),
)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
}


class ApiError(Exception):
    """An error the API answers as it is: status, code, message and optional field details."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def json_error(status: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify(error=body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="beaconmail"'
    return response


def from_api_error(error: ApiError) -> Response:
    return json_error(error.status, error.code, error.message, error.fields)


def from_beacon_error(error: BeaconError) -> Response:
    for kind, status, code in BEACON_ERRORS:
        if isinstance(error, kind):
            return json_error(status, code, error_text(error))
    return json_error(422, "invalid_value", error_text(error))


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    response = json_error(status, HTTP_CODES.get(status, "http_error"), error.description or error.name)
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def internal_error() -> Response:
    return json_error(500, "internal_error", "internal error; it has been logged")
