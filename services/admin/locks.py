"""The login lockout in the portal: the client addresses refused now, per account, for the
domains the manager manages; lifting one lets that address try again (audited)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from services.admin.access import current_actor, manager_required
from services.admin.feedback import explain
from services.admin.forms import LiftLockForm
from services.admin.portal import db, portal
from shared.accounts import lockout
from shared.errors import NotFound

bp = Blueprint("locks", __name__, url_prefix="/locks")


@bp.get("/")
@manager_required
def index() -> str:
    locks = lockout.list_locks(db(), actor=current_actor())
    return render_template("locks/index.html", locks=locks, max_failures=portal().settings.login_max_failures)


@bp.post("/lift")
@manager_required
def lift() -> Response:
    form = LiftLockForm()
    if not form.validate_on_submit():
        flash(_("The lock to lift was not named."), "error")
        return redirect(url_for("locks.index"))
    try:
        lockout.lift_lock(db(), form.account.data, form.client_ip.data, actor=current_actor())
    except NotFound as error:  # lifted meanwhile, run out, or not one of the manager's
        flash(explain(error), "error")
    else:
        flash(_("%(address)s may sign in to %(account)s again.", address=form.client_ip.data, account=form.account.data), "success")
    return redirect(url_for("locks.index"))
