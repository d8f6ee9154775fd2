"""Mailboxes: search and pages, create, edit (quota, switches, roles), password reset, forwarding, delete."""
from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
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
from shared.accounts.permissions import domain_in_scope
from shared.accounts.scoped import (
    administered_mailbox,
    scoped_mailbox,
    scoped_mailboxes,
    set_roles,
    update_administered_mailbox,
    visible_domain_names,
)
from shared.accounts.views import MailboxView

bp = Blueprint("mailboxes", __name__, url_prefix="/mailboxes")

GENERATED_PASSWORD_BYTES = 12


def generated_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def domain_choices(with_all: bool = False) -> list[SelectChoice]:
    listed = visible_domain_names(db(), current_scope())
    choices = [SelectChoice(name, display_name) for name, display_name in listed]
    return [SelectChoice("", _("All domains")), *choices] if with_all else choices


@bp.get("/")
@manager_required
def index() -> str:
    form = SearchForm(request.args)
    form.domain.choices = domain_choices(with_all=True)
    search = (form.q.data or "").strip()
    domain = form.domain.data or ""
    position = requested_position()
    found = scoped_mailboxes(
        db(),
        current_scope(),
        domain or None,
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
    form = MailboxCreateForm(domain=request.args.get("domain"))
    form.domain.choices = domain_choices()
    if form.validate_on_submit():
        password = generated_password() if form.generate_password.data else form.password.data
        address = f"{form.local.data.strip()}@{domain_in_scope(current_scope(), form.domain.data)}"
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
    scope = current_scope()
    mailbox = scoped_mailbox(db(), scope, address)
    form = edit_form(mailbox)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            save_mailbox(mailbox, form)
            flash(_("Mailbox %(address)s saved.", address=mailbox.address), "success")
            return redirect(url_for("mailboxes.edit", address=mailbox.address))
    return render_template("mailboxes/edit.html", mailbox=mailbox, form=form), form_status(form)


def save_mailbox(mailbox: MailboxView, form: MailboxEditForm) -> None:
    scope, actor = current_scope(), current_actor()
    global_admin = form.is_global_admin.data if scope.is_global_admin else None
    updated = update_administered_mailbox(
        db(),
        scope,
        mailbox.address,
        name=form.name.data,
        quota_bytes=form.quota.data,
        active=form.active.data,
        smtp_enabled=form.smtp_enabled.data,
        pop3_enabled=form.pop3_enabled.data,
        actor=actor,
    )
    set_roles(db(), scope, updated, global_admin=global_admin, domains=form.managed_domains.data, actor=actor)


@bp.route("/<address>/password", methods=["GET", "POST"])
@manager_required
def reset_password(address: str) -> Page:
    mailbox = administered_mailbox(db(), current_scope(), address)
    form = PasswordResetForm()
    if form.validate_on_submit():
        password = generated_password() if form.generate_password.data else form.password.data
        with refusal_shown_on(form):
            accounts.set_password(db(), mailbox.address, password, actor=current_actor())
            shown = password if form.generate_password.data else None
            return render_template("mailboxes/password_set.html", mailbox=mailbox, password=shown)
    return render_template("mailboxes/password.html", mailbox=mailbox, form=form), form_status(form)


@bp.route("/<address>/forwarding", methods=["GET", "POST"])
@manager_required
def forwarding(address: str) -> Page:
    mailbox = administered_mailbox(db(), current_scope(), address)
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
    scope = current_scope()
    mailbox = administered_mailbox(db(), scope, address)
    form = ConfirmDeleteForm()
    if form.validate_on_submit() and form.check_name(mailbox.address):
        if mailbox.address == scope.address:
            form.confirmation.errors = [_("You cannot delete your own mailbox.")]
        else:
            accounts.remove_mailbox(db(), mailbox.address, actor=current_actor())
            flash(_("Mailbox %(address)s and its mail were deleted.", address=mailbox.address), "success")
            return redirect(url_for("mailboxes.index", domain=mailbox.domain))
    return render_template("mailboxes/delete.html", mailbox=mailbox, form=form), form_status(form)
