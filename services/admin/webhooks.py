"""Webhooks in the portal, for a domain's managers: list (with the disabled ones shown so),
add (the secret shown once), delete after a confirmation."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from services.admin.access import current_actor, manager_required
from services.admin.feedback import Page, form_status, refusal_shown_on
from services.admin.forms import WebhookForm
from services.admin.mailboxes import domain_choices
from services.admin.portal import db
from shared.accounts import webhooks
from shared.accounts.webhooks import WebhookView
from shared.errors import NotFound

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def webhook_form() -> WebhookForm:
    form = WebhookForm()
    form.domain.choices = domain_choices()
    return form


def page(form: WebhookForm) -> str:
    listed = webhooks.list_webhooks(db(), actor=current_actor())
    return render_template("webhooks/index.html", form=form, webhooks=listed)


@bp.get("/")
@manager_required
def index() -> str:
    return page(webhook_form())


@bp.post("/")
@manager_required
def create() -> Page:
    form = webhook_form()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            issued = webhooks.create_webhook(db(), form.domain.data, form.url.data.strip(), form.events.data, actor=current_actor())
            return render_template("webhooks/created.html", issued=issued)
    return page(form), form_status(form)


def visible_webhook(webhook_id: int) -> WebhookView:
    found = [hook for hook in webhooks.list_webhooks(db(), actor=current_actor()) if hook.id == webhook_id]
    if not found:
        raise NotFound(f"unknown webhook: {webhook_id}")
    return found[0]


@bp.route("/<int:webhook_id>/delete", methods=["GET", "POST"])
@manager_required
def delete(webhook_id: int) -> Page:
    hook = visible_webhook(webhook_id)
    form = FlaskForm()
    if form.validate_on_submit():
        webhooks.remove_webhook(db(), hook.id, actor=current_actor())
        flash(_("The webhook to %(url)s was deleted.", url=hook.url), "success")
        return redirect(url_for("webhooks.index"))
    return render_template("webhooks/delete.html", webhook=hook, form=form)
