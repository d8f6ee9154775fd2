"""Aliases: forwards from one address (or a whole domain, catch-all) to local or external ones."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from services.admin.access import current_actor, manager_required
from services.admin.feedback import Page, form_status, refusal_shown_on
from services.admin.forms import AliasEditForm, AliasForm, lines_of
from services.admin.mailboxes import domain_choices, form_for_domain, selected_domain
from services.admin.portal import db
from services.admin.removal import Removal, confirmed_removal
from shared import accounts

bp = Blueprint("aliases", __name__, url_prefix="/aliases")



@bp.get("/")
@manager_required
def index() -> str:
    domain = selected_domain()
    listed = accounts.list_aliases(db(), domain, actor=current_actor())
    return render_template(
        "aliases/index.html", aliases=listed, domain=domain, choices=domain_choices()
    )


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def create() -> Page:
    form = form_for_domain(AliasForm)
    if form.validate_on_submit():
        domain = form.domain.data
        local = form.local.data.strip()
        source = f"{local}@{domain}" if local else f"@{domain}"
        with refusal_shown_on(form):
            accounts.create_alias(db(), source, lines_of(form.destinations.data), actor=current_actor())
            flash(_("Alias %(source)s created.", source=source), "success")
            return redirect(url_for("aliases.index", domain=domain))
    return render_template("aliases/form.html", form=form, alias=None), form_status(form)


@bp.route("/<source>/edit", methods=["GET", "POST"])
@manager_required
def edit(source: str) -> Page:
    alias = accounts.get_alias(db(), source, actor=current_actor())
    form = AliasEditForm(destinations="\n".join(alias.destinations))
    if form.validate_on_submit():
        with refusal_shown_on(form):
            accounts.update_alias(db(), alias.source, lines_of(form.destinations.data), actor=current_actor())
            flash(_("Alias %(source)s saved.", source=alias.source), "success")
            return redirect(url_for("aliases.index"))
    return render_template("aliases/form.html", form=form, alias=alias), form_status(form)


@bp.route("/<source>/remove", methods=["GET", "POST"])
@manager_required
def remove(source: str) -> Page:
    alias = accounts.get_alias(db(), source, actor=current_actor())
    removal = Removal(
        heading=_("Remove %(name)s", name=alias.source),
        warnings=(
            _("Mail to %(source)s is no longer delivered to: %(destinations)s.",
              source=alias.source, destinations=", ".join(alias.destinations)),
            _("Mail sent to the address afterwards is refused, unless a catch-all takes it."),
        ),
        expected=alias.source,
        button=_("Remove alias"),
        back=url_for("aliases.index"),
    )

    def remove_alias() -> str:
        return _("Alias %(source)s removed.", source=accounts.remove_alias(db(), alias.source, actor=current_actor()))

    return confirmed_removal(removal, remove_alias)
