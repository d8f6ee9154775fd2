"""Sign in and out. The lockout of an address for an account is shared's (shared.accounts.logins),
and a locked out sign-in reads as a wrong password."""
from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from services.admin.access import PortalUser
from services.admin.forms import LoginForm
from services.admin.language import safe_next
from services.admin.portal import client_ip, db
from shared import accounts
from shared.errors import AccountDisabled, AuthFailed

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422 if form.is_submitted() else 200
    address = form.address.data.strip().lower()
    ip = client_ip()
    try:
        mailbox = accounts.authenticate(db(), address, form.password.data, "portal", ip)
    except AuthFailed:
        log.info("portal login failed for %s from %s", address, ip)
        form.form_errors.append(_("Wrong address or password."))
        return render_template("auth/login.html", form=form), 422
    except AccountDisabled:
        form.form_errors.append(_("This account or its domain is disabled."))
        return render_template("auth/login.html", form=form), 422
    start_session(PortalUser(mailbox))
    return redirect(safe_next(request.args.get("next")))


def start_session(user: PortalUser) -> None:
    """A fresh session at sign-in: nothing set before it (a planted cookie) survives."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session.permanent = True
    login_user(user)
    log.info("portal login of %s from %s", user.address, client_ip())


@bp.post("/logout")
def logout() -> Response:
    language = session.get("lang")
    logout_user()
    session.clear()
    if language:
        session["lang"] = language
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
