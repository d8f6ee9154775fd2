"""Start page: counts, storage against caps, mailboxes near quota, recent changes."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from services.admin.access import current_actor, current_scope
from services.admin.portal import db, portal
from shared import accounts
from shared.accounts import reports
from shared.runtime.acme import certificate_status

bp = Blueprint("dashboard", __name__)

RECENT_CHANGES = 10


@bp.get("/")
@login_required
def index() -> Response | str:
    scope = current_scope()
    if not scope.is_manager:
        return redirect(url_for("account.index"))
    return render_template(
        "dashboard/index.html",
        totals=reports.totals(db(), actor=current_actor()),
        domains=accounts.list_domains(db(), actor=current_actor()),
        near_quota=reports.mailboxes_near_quota(db(), actor=current_actor()),
        recent=accounts.list_audit(db(), actor=current_actor(), limit=RECENT_CHANGES),
        # The certificate is the whole server's: shown to those who run it.
        certificate=certificate_status(portal().settings) if scope.is_global_admin else None,
    )
