"""Reading JSON request bodies and query strings: typed values or a 422 naming the field."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from flask import request

from services.admin.api.errors import ApiError
from shared.accounts.mailboxes import check_password_text
from shared.errors import InvalidValue

MAX_TEXT = 1024
MAX_PAGE = 500


def json_body(*fields: str) -> dict[str, Any]:
    """The request's JSON object, which may hold only `fields` (a typo is an error, not a no-op)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object (Content-Type: application/json)")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        message = f"unknown fields: {', '.join(unknown)} (expected {', '.join(fields)})"
        raise ApiError(422, "validation_error", message, {field: ["unknown field"] for field in unknown})
    return body


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", f"{field}: {message}", {field: [message]})


def text(body: dict[str, Any], field: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise invalid(field, "is required")
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise invalid(field, f"must be a string of at most {max_length} characters")
    if required and not value.strip():
        raise invalid(field, "must not be empty")
    return value


def password(body: dict[str, Any], field: str, min_length: int, *, required: bool = False) -> str | None:
    """A new password, or a 422 naming the field when it breaks the password rule."""
    value = text(body, field, required=required)
    if value is None:
        return None
    try:
        check_password_text(value, min_length)
    except InvalidValue as error:  # the use case's own code, with the field named
        raise ApiError(422, "invalid_value", f"{field}: {error}", {field: [str(error)]}) from None
    return value


def count(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**62:
        raise invalid(field, "must be a whole number, 0 or more")
    return value


def flag(body: dict[str, Any], field: str) -> bool | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(field, "must be true or false")
    return value


def choice(body: dict[str, Any], field: str, choices: Iterable[str]) -> str:
    """A required string that is one of `choices`."""
    allowed = list(choices)
    value = body.get(field)
    if value not in allowed:
        raise invalid(field, f"must be one of {', '.join(allowed)}")
    return str(value)


def strings(body: dict[str, Any], field: str, *, required: bool = False) -> list[str] | None:
    value = body.get(field)
    if value is None:
        if required:
            raise invalid(field, "is required")
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) and len(item) <= MAX_TEXT for item in value):
        raise invalid(field, "must be a list of strings")
    return value


def day(body: dict[str, Any], field: str) -> date | None:
    """An ISO day (YYYY-MM-DD), or None for null or a missing field."""
    value = body.get(field)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, "must be a day as YYYY-MM-DD, or null") from None


def query_int(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) > maximum:
        raise invalid(name, f"must be a whole number from 0 to {maximum}")
    return int(raw)


def query_text(name: str) -> str | None:
    raw = request.args.get(name, "")
    if len(raw) > MAX_TEXT:
        raise invalid(name, f"must be at most {MAX_TEXT} characters")
    return raw.strip() or None
