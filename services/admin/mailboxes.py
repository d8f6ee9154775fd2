"""Mailboxes: search and pages, create, edit (quota, switches, roles), password reset, forwarding, delete."""
from __future__ import annotations

import secrets
from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from services.admin.access import current_actor, current_scope, manager_required
from services.admin.feedback import Page, form_status, refusal_shown_on
from services.admin.forms import (
    ConfirmDeleteForm,
    MailboxCreateForm,
    MailboxEditForm,
    MailboxForwardingForm,
    PasswordResetForm,
    SearchForm,
)
from services.admin.forwarding import save_forwarding, saved_forwarding_form
from services.admin.pagination import PAGE_SIZE, PageLinks, requested_position
from services.admin.portal import db
from shared import accounts
from shared.accounts import second_factors
from shared.accounts.logins import PROTOCOLS as LOGIN_PROTOCOLS
from shared.accounts.mailbox_search import search_mailboxes
from shared.accounts.views import MailboxView
from shared.errors import InvalidAddress, PermissionDenied
from shared.mail.addresses import normalise_domain

bp = Blueprint("mailboxes", __name__, url_prefix="/mailboxes")

GENERATED_PASSWORD_BYTES = 12
CreateForm = TypeVar("CreateForm", bound=FlaskForm)


def generated_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def domain_choices(with_all: bool = False) -> list[SelectChoice]:
    listed = accounts.list_domain_names(db(), actor=current_actor())
    choices = [SelectChoice(name, display_name) for name, display_name in listed]
    return [SelectChoice("", _("All domains")), *choices] if with_all else choices


def form_for_domain(form_class: type[CreateForm]) -> CreateForm:
    """A create form offering the user's domains, the one named by ?domain= preselected."""
    form = form_class(domain=request.args.get("domain"))
    form.domain.choices = domain_choices()
    return form


def selected_domain() -> str | None:
    """The ?domain= filter as stored (ASCII); a malformed one names no domain there is."""
    wanted = request.args.get("domain", "")
    try:
        return normalise_domain(wanted) if wanted else None
    except InvalidAddress:
        abort(404)


@bp.get("/")
@manager_required
def index() -> str:
    form = SearchForm(request.args)
    form.domain.choices = domain_choices(with_all=True)
    search = (form.q.data or "").strip()
    domain = form.domain.data or ""
    position = requested_position()
    found = search_mailboxes(
        db(),
        domain or None,
        actor=current_actor(),
        search=search or None,
        after=position.after,
        before=position.before,
        offset=position.offset,
        limit=PAGE_SIZE,
    )
    query = {key: value for key, value in (("q", search), ("domain", domain)) if value}
    return render_template("mailboxes/index.html", form=form, mailboxes=found.mailboxes, page=PageLinks(found, query))


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def create() -> Page:
    form = form_for_domain(MailboxCreateForm)
    if form.validate_on_submit():
        password = generated_password() if form.generate_password.data else form.password.data
        address = f"{form.local.data.strip()}@{form.domain.data}"
        with refusal_shown_on(form):
            created = accounts.create_mailbox(
                db(), address, password, quota_bytes=form.quota.data, name=form.name.data or "", actor=current_actor()
            )
            shown = password if form.generate_password.data else None
            return render_template("mailboxes/created.html", mailbox=created, password=shown)
    return render_template("mailboxes/create.html", form=form), form_status(form)


def edit_form(mailbox: MailboxView) -> MailboxEditForm:
    form = MailboxEditForm(obj=mailbox, quota=mailbox.quota_bytes)
    form.managed_domains.choices = domain_choices()
    if not form.is_submitted():
        form.managed_domains.data = list(mailbox.managed_domains)
    return form


@bp.route("/<address>/edit", methods=["GET", "POST"])
@manager_required
def edit(address: str) -> Page:
    mailbox = accounts.get_mailbox(db(), address, actor=current_actor())
    form = edit_form(mailbox)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            save_mailbox(mailbox, form)
            flash(_("Mailbox %(address)s saved.", address=mailbox.address), "success")
            return redirect(url_for("mailboxes.edit", address=mailbox.address))
    factors = second_factors.list_second_factors(db(), mailbox.address, actor=current_actor())
    page = render_template("mailboxes/edit.html", mailbox=mailbox, form=form, login_protocols=LOGIN_PROTOCOLS, factors=factors)
    return page, form_status(form)


def save_mailbox(mailbox: MailboxView, form: MailboxEditForm) -> None:
    # The checkbox is shown to global admins only; from anyone else it means "no change".
    global_admin = form.is_global_admin.data if current_scope().is_global_admin else None
    accounts.update_mailbox(
        db(),
        mailbox.address,
        actor=current_actor(),
        name=form.name.data,
        quota_bytes=form.quota.data,
        active=form.active.data,
        smtp_enabled=form.smtp_enabled.data,
        pop3_enabled=form.pop3_enabled.data,
        imap_enabled=form.imap_enabled.data,
        global_admin=global_admin,
        managed_domains=form.managed_domains.data,
    )


@bp.route("/<address>/password", methods=["GET", "POST"])
@manager_required
def reset_password(address: str) -> Page:
    mailbox = accounts.get_mailbox(db(), address, actor=current_actor(), to_change=True)
    form = PasswordResetForm()
    if form.validate_on_submit():
        password = generated_password() if form.generate_password.data else form.password.data
        with refusal_shown_on(form):
            accounts.set_password(db(), mailbox.address, password, actor=current_actor(), sign_out=form.sign_out.data)
            shown = password if form.generate_password.data else None
            return render_template("mailboxes/password_set.html", mailbox=mailbox, password=shown)
    return render_template("mailboxes/password.html", mailbox=mailbox, form=form), form_status(form)


@bp.route("/<address>/forwarding", methods=["GET", "POST"])
@manager_required
def forwarding(address: str) -> Page:
    mailbox = accounts.get_mailbox(db(), address, actor=current_actor(), to_change=True)
    if request.method == "GET":
        form = saved_forwarding_form(mailbox.address, MailboxForwardingForm)
        return render_template("mailboxes/forwarding.html", mailbox=mailbox, form=form)
    form = MailboxForwardingForm()
    if save_forwarding(form, mailbox.address):
        flash(_("Forwarding of %(address)s saved.", address=mailbox.address), "success")
        return redirect(url_for("mailboxes.forwarding", address=mailbox.address))
    return render_template("mailboxes/forwarding.html", mailbox=mailbox, form=form), form_status(form)


@bp.route("/<address>/delete", methods=["GET", "POST"])
@manager_required
def delete(address: str) -> Page:
    mailbox = accounts.get_mailbox(db(), address, actor=current_actor(), to_change=True)
    form = ConfirmDeleteForm()
    if form.validate_on_submit() and form.check_name(mailbox.address):
        try:
            accounts.remove_mailbox(db(), mailbox.address, actor=current_actor())
        except PermissionDenied:
            # The page was read as one this user may change, so what is refused is deleting their own.
            form.confirmation.errors = [_("You cannot delete your own mailbox.")]
        else:
            flash(_("Mailbox %(address)s and its mail were deleted.", address=mailbox.address), "success")
            return redirect(url_for("mailboxes.index", domain=mailbox.domain))
    return render_template("mailboxes/delete.html", mailbox=mailbox, form=form), form_status(form)


@bp.post("/<address>/second-factors/remove")
@manager_required
def remove_second_factors(address: str) -> Response:
    """For a user who lost their phone and recovery codes: the password alone signs in again."""
    mailbox = accounts.get_mailbox(db(), address, actor=current_actor(), to_change=True)
    second_factors.remove_second_factors(db(), mailbox.address, actor=current_actor())
    flash(_("The second factors of %(address)s were removed.", address=mailbox.address), "success")
    return redirect(url_for("mailboxes.edit", address=mailbox.address))
