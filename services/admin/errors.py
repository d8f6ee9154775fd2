"""Error pages of the portal; requests under /api/ get the API's JSON errors instead."""
from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from services.admin.api import errors as api_errors
from shared.errors import NotFound, PermissionDenied

log = logging.getLogger(__name__)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def error_page(status: int, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, message=message), status


def page_messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        403: _("You do not have access to this page."),
        404: _("There is nothing here, or you do not have access to it."),
        405: _("This page does not accept that kind of request."),
        413: _("The upload is too large."),
        500: _("Something went wrong on our side. The error has been logged."),
    }


def on_csrf_error(error: CSRFError) -> tuple[str, int]:
    log.info("CSRF rejected %s %s from %s: %s", request.method, request.path, request.remote_addr, error.description)
    return error_page(400, _("The form was not sent from this site or has expired. Go back, reload and try again."))


def on_http_error(error: HTTPException) -> Response | tuple[str, int]:
    if is_api_request():
        return api_errors.from_http_exception(error)
    status = error.code or 500
    return error_page(status, page_messages().get(status, error.name))


def on_not_found(error: NotFound) -> Response | tuple[str, int]:
    if is_api_request():
        return api_errors.from_beacon_error(error)
    return error_page(404, page_messages()[404])


def on_permission_denied(error: PermissionDenied) -> Response | tuple[str, int]:
    if is_api_request():
        return api_errors.from_beacon_error(error)
    return error_page(403, page_messages()[403])


def on_unexpected(error: Exception) -> Response | tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
    if is_api_request():
        return api_errors.internal_error()
    return error_page(500, page_messages()[500])


def register_error_pages(app: Flask) -> None:
    app.register_error_handler(CSRFError, on_csrf_error)
    app.register_error_handler(HTTPException, on_http_error)
    app.register_error_handler(NotFound, on_not_found)
    app.register_error_handler(PermissionDenied, on_permission_denied)
    app.register_error_handler(Exception, on_unexpected)
