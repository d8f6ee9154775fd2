"""Bearer-token authentication of the API; the token's rights become the request's Scope."""
from __future__ import annotations

from flask import g, request

from services.admin.api.errors import ApiError
from services.admin.feedback import error_text
from services.admin.portal import acting_as, db
from shared.accounts import tokens
from shared.accounts.permissions import Scope, require_manager, require_sender, require_write
from shared.accounts.views import Actor
from shared.errors import AuthFailed, PermissionDenied

PUBLIC_ENDPOINTS = {"api.openapi_document"}
SEND_ENDPOINTS = {"api.messages.send_message"}


def authenticate_request() -> None:
    """Runs before every API view: no session cookie is ever accepted here, only a bearer token."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "unauthorized", "send a token as 'Authorization: Bearer <token>'")
    try:
        grant = tokens.verify_token(db(), presented.strip())
    except AuthFailed as error:
        raise ApiError(401, "unauthorized", error_text(error)) from None
    # The use cases check these rights again; refusing here answers 403 before a body is parsed.
    if request.endpoint in SEND_ENDPOINTS:
        require_sender(grant.scope)
    elif grant.scope.sends_mail:
        raise PermissionDenied("a send token may only send mail (POST /api/v1/messages)")
    else:
        require_manager(grant.scope)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            require_write(grant.scope)
    g.api_scope = grant.scope
    g.api_token = grant.token


def api_scope() -> Scope:
    scope: Scope = g.api_scope
    return scope


def api_actor() -> Actor:
    """The token's owner with the token's rights; the audit log names the token too."""
    return acting_as(api_scope(), g.api_token)
