"""The Suppressions page, for a sending domain's managers: the addresses a remote server refused
with a 5xx, which the domain sends nothing to until the entry expires (searched, paged by
cursor), and removing one after the confirm step (services/admin/removal.py)."""
from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from services.admin.access import current_actor, manager_required
from services.admin.feedback import Page
from services.admin.forms import SuppressionFilterForm
from services.admin.mailboxes import domain_choices
from services.admin.portal import db
from services.admin.removal import Removal, confirmed_removal
from shared.accounts import suppressions

bp = Blueprint("suppressions", __name__, url_prefix="/suppressions")

PER_PAGE = 50


@bp.get("/")
@manager_required
def index() -> Page:
    form = SuppressionFilterForm(request.args)
    form.domain.choices = domain_choices(with_all=True)
    cursor = request.args.get("cursor") or None
    query = {key: value for key, value in request.args.items() if key != "cursor" and value}
    if not form.validate() or (cursor is not None and not suppressions.CURSOR.fullmatch(cursor)):
        return render_template("suppressions/index.html", form=form, page=None, query=query, cursor=None), 422
    page = suppressions.list_suppressions(
        db(),
        actor=current_actor(),
        domain=form.domain.data or None,
        address=(form.address.data or "").strip() or None,
        cursor=cursor,
        limit=PER_PAGE,
    )
    return render_template("suppressions/index.html", form=form, page=page, query=query, cursor=cursor)


@bp.route("/<domain>/<address>/remove", methods=["GET", "POST"])
@manager_required
def remove(domain: str, address: str) -> Page:
    shown = suppressions.get_suppression(db(), domain, address, actor=current_actor())
    removal = Removal(
        heading=_("Send to %(address)s from %(domain)s again", address=shown.address, domain=shown.domain),
        warnings=(_("Its hard bounce was: %(reason)s", reason=shown.reason),),
        expected=shown.address,
        button=_("Remove from the list"),
        back=url_for("suppressions.index"),
    )

    def remove_entry() -> str:
        suppressions.remove_suppression(db(), shown.domain, shown.address, actor=current_actor())
        return _("%(address)s is no longer suppressed for %(domain)s.", address=shown.address, domain=shown.domain)

    return confirmed_removal(removal, remove_entry)
