"""Forgot password: the login page's form mails a single-use link to the account's recovery
address (shared.accounts.password_reset); the link's page sets a new password and signs out
every session of the account. The form answers the same, at once, whatever the address: the
work runs after the answer, so neither its text nor its timing tells whether the account exists."""
from __future__ import annotations

import threading

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from services.admin.feedback import Page, form_status, refusal_shown_on
from services.admin.forms import ForgotPasswordForm, NewPasswordForm
from services.admin.portal import client_ip, db
from shared.accounts import password_reset

bp = Blueprint("reset", __name__)


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot() -> Page:
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form), form_status(form)
    worker = threading.Thread(
        target=password_reset.request_password_reset,
        args=(db(), form.address.data.strip()),
        kwargs={"ip": client_ip()},
        name="password-reset",
        daemon=True,
    )
    worker.start()
    flash(_("If that address has a recovery address, a reset link is on its way there. It works for 15 minutes."), "info")
    return redirect(url_for("auth.login"))


@bp.route(f"{password_reset.RESET_PATH}<token>", methods=["GET", "POST"])
def reset(token: str) -> Page | Response:
    if not password_reset.reset_link_is_valid(db(), token):
        return render_template("auth/reset.html", form=None), 404
    form = NewPasswordForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            password_reset.reset_password(db(), token, form.new_password.data, ip=client_ip())
            flash(_("Your password was changed and every session signed out. Sign in with the new one."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form), form_status(form)
