"""API tokens in the portal: issue (shown once), list, revoke."""
from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, render_template, url_for
from flask_babel import gettext as _

from services.admin.access import current_actor, current_scope, manager_required
from services.admin.feedback import Page, form_status, refusal_shown_on
from services.admin.forms import TokenForm
from services.admin.mailboxes import domain_choices
from services.admin.portal import db
from services.admin.removal import Removal, confirmed_removal
from shared.accounts import tokens as api_tokens

bp = Blueprint("tokens", __name__, url_prefix="/tokens")


def token_form() -> TokenForm:
    form = TokenForm()
    form.domains.choices = domain_choices()
    return form


def page(form: TokenForm) -> str:
    listed = api_tokens.list_tokens(db(), actor=current_actor())
    return render_template("tokens/index.html", form=form, tokens=listed, now=datetime.now(UTC))


@bp.get("/")
@manager_required
def index() -> str:
    return page(token_form())


@bp.post("/")
@manager_required
def create() -> Page:
    form = token_form()
    if form.validate_on_submit():
        expires = datetime.combine(form.expires.data, time.min, UTC) if form.expires.data else None
        with refusal_shown_on(form):
            issued = api_tokens.create_token(
                db(),
                current_scope().address,
                name=form.name.data,
                domains=form.domains.data,
                read_only=form.access.data == "read",
                sends_mail=form.access.data == "send",
                expires_at=expires,
                actor=current_actor(),
            )
            return render_template("tokens/created.html", issued=issued)
    return page(form), form_status(form)


@bp.route("/<int:token_id>/revoke", methods=["GET", "POST"])
@manager_required
def revoke(token_id: int) -> Page:
    shown = api_tokens.get_token(db(), token_id, actor=current_actor())
    removal = Removal(
        heading=_("Revoke the token %(name)s", name=shown.name),
        warnings=(_("Programs using this token (bm_%(prefix)s…) are refused from now on.", prefix=shown.prefix),),
        expected=shown.name,
        button=_("Revoke token"),
        back=url_for("tokens.index"),
    )

    def revoke_token() -> str:
        api_tokens.revoke_token(db(), shown.id, actor=current_actor())
        return _("The token was revoked.")

    return confirmed_removal(removal, revoke_token)
