"""/api/v1/me: what the presented token may do."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.admin.api.access import api_scope

bp = Blueprint("me", __name__, url_prefix="/me")


@bp.get("")
def whoami() -> Response:
    scope = api_scope()
    return jsonify(
        address=scope.address,
        is_global_admin=scope.is_global_admin,
        domains=sorted(scope.domains),
        read_only=scope.read_only,
    )
