"""App passwords in the portal: your own under "My account", and a mailbox's for its managers.
Each page lists them, makes one (its password shown once) and revokes one."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from services.admin.access import current_actor, manager_required, signed_in
from services.admin.feedback import Page, form_status, refusal_shown_on
from services.admin.forms import AppPasswordForm
from services.admin.portal import db
from shared import accounts
from shared.accounts import app_passwords

bp = Blueprint("app_passwords", __name__)


def page(address: str, form: AppPasswordForm, *, own: bool) -> str:
    listed = app_passwords.list_app_passwords(db(), address, actor=current_actor())
    return render_template("app_passwords/index.html", address=address, own=own, form=form, app_passwords=listed)


def create(address: str, *, own: bool) -> Page:
    form = AppPasswordForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            issued = app_passwords.create_app_password(
                db(), address, name=form.name.data, protocols=form.protocols.data or (),
                expires_days=form.expires.data, actor=current_actor(),
            )
            return render_template("app_passwords/created.html", address=address, own=own, issued=issued)
    return page(address, form, own=own), form_status(form)


def revoke(address: str, app_password_id: int, back: str) -> Response:
    app_passwords.revoke_app_password(db(), address, app_password_id, actor=current_actor())
    flash(_("The app password was revoked."), "success")
    return redirect(back)


@bp.get("/account/app-passwords")
@login_required
def own() -> str:
    return page(signed_in().address, AppPasswordForm(formdata=None), own=True)


@bp.post("/account/app-passwords")
@login_required
def create_own() -> Page:
    return create(signed_in().address, own=True)


@bp.post("/account/app-passwords/<int:app_password_id>/revoke")
@login_required
def revoke_own(app_password_id: int) -> Response:
    return revoke(signed_in().address, app_password_id, url_for("app_passwords.own"))


@bp.get("/mailboxes/<address>/app-passwords")
@manager_required
def managed(address: str) -> str:
    mailbox = accounts.get_mailbox(db(), address, actor=current_actor(), to_change=True)
    return page(mailbox.address, AppPasswordForm(formdata=None), own=False)


@bp.post("/mailboxes/<address>/app-passwords")
@manager_required
def create_managed(address: str) -> Page:
    mailbox = accounts.get_mailbox(db(), address, actor=current_actor(), to_change=True)
    return create(mailbox.address, own=False)


@bp.post("/mailboxes/<address>/app-passwords/<int:app_password_id>/revoke")
@manager_required
def revoke_managed(address: str, app_password_id: int) -> Response:
    return revoke(address, app_password_id, url_for("app_passwords.managed", address=address))
