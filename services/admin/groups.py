"""Group mailboxes: an address whose mail goes to every member, with a sending policy."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from services.admin.access import current_actor, manager_required
from services.admin.feedback import Page, form_status, refusal_shown_on
from services.admin.forms import POLICY_CHOICES, GroupEditForm, GroupForm, lines_of
from services.admin.mailboxes import domain_choices, form_for_domain, selected_domain
from services.admin.portal import db
from services.admin.removal import Removal, confirmed_removal
from shared import accounts

bp = Blueprint("groups", __name__, url_prefix="/groups")



@bp.get("/")
@manager_required
def index() -> str:
    domain = selected_domain()
    listed = accounts.list_groups(db(), domain, actor=current_actor())
    return render_template(
        "groups/index.html", groups=listed, domain=domain, choices=domain_choices(), policies={choice.value: choice.label for choice in POLICY_CHOICES}
    )


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def create() -> Page:
    form = form_for_domain(GroupForm)
    if form.validate_on_submit():
        address = f"{form.local.data.strip()}@{form.domain.data}"
        with refusal_shown_on(form):
            created = accounts.create_group(
                db(), address, lines_of(form.members.data), policy=form.policy.data, actor=current_actor()
            )
            flash(_("Group %(address)s created.", address=created.address), "success")
            return redirect(url_for("groups.index"))
    return render_template("groups/form.html", form=form, group=None), form_status(form)


@bp.route("/<address>/edit", methods=["GET", "POST"])
@manager_required
def edit(address: str) -> Page:
    group = accounts.get_group(db(), address, actor=current_actor())
    form = GroupEditForm(members="\n".join(group.members), policy=group.policy)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            accounts.update_group(
                db(), group.address, members=lines_of(form.members.data), policy=form.policy.data, actor=current_actor()
            )
            flash(_("Group %(address)s saved.", address=group.address), "success")
            return redirect(url_for("groups.index"))
    return render_template("groups/form.html", form=form, group=group), form_status(form)


@bp.route("/<address>/remove", methods=["GET", "POST"])
@manager_required
def remove(address: str) -> Page:
    group = accounts.get_group(db(), address, actor=current_actor())
    removal = Removal(
        heading=_("Remove %(name)s", name=group.address),
        warnings=(
            _("Its %(count)s members no longer get mail sent to %(address)s.", count=len(group.members), address=group.address),
            _("Mail sent to the address afterwards is refused, unless a catch-all takes it."),
        ),
        expected=group.address,
        button=_("Remove group"),
        back=url_for("groups.index"),
    )

    def remove_group() -> str:
        return _("Group %(address)s removed.", address=accounts.remove_group(db(), group.address, actor=current_actor()))

    return confirmed_removal(removal, remove_group)
