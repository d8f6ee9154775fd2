"""Error pages of the portal; requests under /api/ get the API's JSON errors instead."""
from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from services.admin.access import login_manager
from services.admin.api import errors as api_errors
from shared.errors import NotFound, PermissionDenied, TemporaryFailure

log = logging.getLogger(__name__)

# What the portal sees while the database is away: a refused or dropped connection
# (OperationalError, InterfaceError), an exhausted pool (TimeoutError), or a shared use case
# that already turned one of those into TemporaryFailure.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    TemporaryFailure,
)
RETRY_AFTER_SECONDS = 30
ErrorReply = Response | tuple[str, int] | tuple[str, int, dict[str, str]]


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def error_page(status: int, message: str) -> ErrorReply:
    try:
        return render_template("error.html", status=status, message=message), status
    except DATABASE_UNAVAILABLE as error:
        # The page's menu loads the signed-in account; when the database is away, that is the error to show.
        return on_database_unavailable(error)


def page_messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        403: _("You do not have access to this page."),
        404: _("There is nothing here, or you do not have access to it."),
        405: _("This page does not accept that kind of request."),
        413: _("The upload is too large."),
        500: _("Something went wrong on our side. The error has been logged."),
    }


def on_csrf_error(error: CSRFError) -> ErrorReply:
    log.info("CSRF rejected %s %s from %s: %s", request.method, request.path, request.remote_addr, error.description)
    return error_page(400, _("The form was not sent from this site or has expired. Go back, reload and try again."))


def on_http_error(error: HTTPException) -> ErrorReply:
    if is_api_request():
        return api_errors.from_http_exception(error)
    status = error.code or 500
    return error_page(status, page_messages().get(status, error.name))


def on_not_found(error: NotFound) -> ErrorReply:
    if is_api_request():
        return api_errors.from_beacon_error(error)
    return error_page(404, page_messages()[404])


def on_permission_denied(error: PermissionDenied) -> ErrorReply:
    if is_api_request():
        return api_errors.from_beacon_error(error)
    return error_page(403, page_messages()[403])


def on_database_unavailable(error: Exception) -> ErrorReply:
    """503 without touching the database again, so the page shows even while it is away."""
    log.warning("database unavailable on %s %s: %s", request.method, request.path, str(error).partition("\n")[0])
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if is_api_request():
        response = api_errors.json_error(503, "temporarily_unavailable", "the database is not available; try again later")
        response.headers.update(retry)
        return response
    # Rendering a page loads the signed-in account (Flask-Login's template context), which needs the
    # database: the rest of this request is anonymous. The session is kept, so nobody is signed out.
    login_manager._update_request_context_with_user()
    message = _("The service is temporarily unavailable. Try again in a few minutes.")
    return render_template("error.html", status=503, message=message), 503, retry


def on_unexpected(error: Exception) -> ErrorReply:
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
    if is_api_request():
        return api_errors.internal_error()
    return error_page(500, page_messages()[500])


def register_error_pages(app: Flask) -> None:
    app.register_error_handler(CSRFError, on_csrf_error)
    app.register_error_handler(HTTPException, on_http_error)
    app.register_error_handler(NotFound, on_not_found)
    app.register_error_handler(PermissionDenied, on_permission_denied)
    for kind in DATABASE_UNAVAILABLE:
        app.register_error_handler(kind, on_database_unavailable)
    app.register_error_handler(Exception, on_unexpected)
