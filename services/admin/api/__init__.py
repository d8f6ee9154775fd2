"""The JSON API under /api/v1/: bearer tokens, the same role rules as the pages, JSON errors."""
from __future__ import annotations

import logging

from flask import Blueprint, Response

from services.admin.api import (
    aliases,
    app_passwords,
    audit,
    domains,
    groups,
    junk,
    mailboxes,
    me,
    message_log,
    messages,
    openapi,
    suppressions,
    webhooks,
)
from services.admin.api.access import authenticate_request
from services.admin.api.errors import ApiError, from_api_error, from_beacon_error
from shared.errors import BeaconError

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(authenticate_request)
bp.add_url_rule("/openapi.json", "openapi_document", openapi.document)
for resource in (domains, mailboxes, junk, app_passwords, aliases, groups, audit, me, message_log, messages, suppressions, webhooks):
    bp.register_blueprint(resource.bp)


@bp.errorhandler(ApiError)
def on_api_error(error: ApiError) -> Response:
    return from_api_error(error)


@bp.errorhandler(BeaconError)
def on_beacon_error(error: BeaconError) -> Response:
    return from_beacon_error(error)
