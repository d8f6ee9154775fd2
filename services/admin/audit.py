"""The audit log: every change, who made it, when and from where; filterable."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from services.admin.access import current_actor, manager_required
from services.admin.forms import AuditFilterForm
from services.admin.mailboxes import domain_choices
from services.admin.portal import db
from shared import accounts

bp = Blueprint("audit", __name__, url_prefix="/audit")

ENTRIES_PER_PAGE = 50


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.get("/")
@manager_required
def index() -> str:
    form = AuditFilterForm(request.args)
    form.domain.choices = domain_choices(with_all=True)
    number = page_number()
    # One row more than a page tells whether an older page exists, without counting the log.
    entries = accounts.list_audit(
        db(),
        actor=current_actor(),
        domain=form.domain.data or None,
        by=(form.actor.data or "").strip().lower() or None,
        action=(form.action.data or "").strip() or None,
        text=(form.text.data or "").strip() or None,
        limit=ENTRIES_PER_PAGE + 1,
        offset=(number - 1) * ENTRIES_PER_PAGE,
    )
    query = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template(
        "audit/index.html",
        form=form,
        recent=entries[:ENTRIES_PER_PAGE],
        number=number,
        has_older=len(entries) > ENTRIES_PER_PAGE,
        query=query,
    )
