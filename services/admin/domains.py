"""Domains: list, create, limits and switches, alias domains, sender lists, enable/disable,
delete, DNS records."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from services.admin.access import admin_required, current_actor, manager_required
from services.admin.feedback import Page, explain, form_status, refusal_shown_on
from services.admin.forms import (
    AliasDomainForm,
    ConfirmDeleteForm,
    DomainEditForm,
    DomainForm,
    SenderListingForm,
)
from services.admin.portal import db, portal
from shared import accounts
from shared.accounts.views import DomainView
from shared.errors import BeaconError
from shared.mail import dkimkeys, dnsrecords
from shared.mail.addresses import for_people

bp = Blueprint("domains", __name__, url_prefix="/domains")


def visible_domain(name: str) -> DomainView:
    """The domain if the signed-in user may see it; 404 otherwise, as if it did not exist."""
    return accounts.get_domain(db(), name, actor=current_actor())


@bp.get("/")
@manager_required
def index() -> str:
    listed = accounts.list_domains(db(), actor=current_actor())
    return render_template("domains/index.html", domains=listed)


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def create() -> Page:
    form = DomainForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            created = accounts.create_domain(
                db(),
                form.name.data,
                max_mailboxes=form.max_mailboxes.data,
                max_aliases=form.max_aliases.data,
                quota_bytes=form.quota.data or 0,
                default_mailbox_quota=form.default_mailbox_quota.data or 0,
                actor=current_actor(),
            )
            flash(_("Domain %(name)s created.", name=created.display_name), "success")
            return redirect(url_for("domains.show", name=created.name))
    return render_template("domains/create.html", form=form), form_status(form)


@bp.get("/<name>")
@manager_required
def show(name: str) -> str:
    return domain_page(visible_domain(name))


def domain_page(
    domain: DomainView, alias_form: AliasDomainForm | None = None, sender_form: SenderListingForm | None = None
) -> str:
    """The domain's page; a form that came back refused is shown with its errors. The DNS health
    is looked up at each view, so a changed record shows at once; the lookups run side by side
    with a short timeout (shared.mail.dnshealth)."""
    return render_template(
        "domains/show.html",
        domain=domain,
        alias_form=alias_form or AliasDomainForm(formdata=None),
        sender_form=sender_form or SenderListingForm(formdata=None),
        senders=accounts.list_senders(db(), domain.name, actor=current_actor()),
        dns_checks=accounts.check_domain_dns(db(), domain.name, actor=current_actor()),
    )


@bp.route("/<name>/edit", methods=["GET", "POST"])
@admin_required
def edit(name: str) -> Page:
    domain = visible_domain(name)
    form = DomainEditForm(obj=domain, quota=domain.quota_bytes)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            accounts.update_domain(
                db(),
                domain.name,
                active=form.active.data,
                inbound_checks=form.inbound_checks.data,
                forbid_external_forwarding=form.forbid_external_forwarding.data,
                require_2fa=form.require_2fa.data,
                max_mailboxes=form.max_mailboxes.data,
                max_aliases=form.max_aliases.data,
                quota_bytes=form.quota.data,
                default_mailbox_quota=form.default_mailbox_quota.data,
                actor=current_actor(),
            )
            flash(_("Domain %(name)s saved.", name=domain.display_name), "success")
            return redirect(url_for("domains.show", name=domain.name))
    return render_template("domains/edit.html", domain=domain, form=form), form_status(form)


@bp.post("/<name>/alias-domains")
@admin_required
def add_alias_domain(name: str) -> Page:
    domain = visible_domain(name)
    form = AliasDomainForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            accounts.add_alias_domain(db(), form.alias_name.data, domain.name, actor=current_actor())
            flash(_("Alias domain %(alias)s added.", alias=form.alias_name.data.strip()), "success")
            return redirect(url_for("domains.show", name=domain.name))
    return domain_page(domain, alias_form=form), 422


@bp.post("/<name>/alias-domains/<alias_name>/remove")
@admin_required
def remove_alias_domain(name: str, alias_name: str) -> Response:
    domain = visible_domain(name)
    accounts.remove_alias_domain(db(), alias_name, of_domain=domain.name, actor=current_actor())
    flash(_("Alias domain %(alias)s removed.", alias=alias_name), "success")
    return redirect(url_for("domains.show", name=domain.name))


@bp.post("/<name>/senders")
@manager_required
def list_sender(name: str) -> Page:
    domain = visible_domain(name)
    form = SenderListingForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            if form.listing.data == "block":
                listed = accounts.block_sender(db(), domain.name, form.sender.data, actor=current_actor())
                flash(_("Mail from %(sender)s is now refused.", sender=for_people(listed.sender)), "success")
            else:
                listed = accounts.allow_sender(db(), domain.name, form.sender.data, actor=current_actor())
                flash(_("%(sender)s is now allowed past the spam filter.", sender=for_people(listed.sender)), "success")
            return redirect(url_for("domains.show", name=domain.name))
    return domain_page(domain, sender_form=form), 422


@bp.post("/<name>/senders/remove")
@manager_required
def unlist_sender(name: str) -> Response:
    """A refusal (a sender no longer listed, say after another tab removed it) is flashed on the page."""
    domain = visible_domain(name)
    try:
        unlisted = accounts.unlist_sender(db(), domain.name, request.form.get("sender", ""), actor=current_actor())
        flash(_("%(sender)s was taken off the sender lists.", sender=for_people(unlisted)), "success")
    except BeaconError as error:
        flash(explain(error), "error")
    return redirect(url_for("domains.show", name=domain.name))


@bp.route("/<name>/delete", methods=["GET", "POST"])
@admin_required
def delete(name: str) -> Page:
    domain = visible_domain(name)
    form = ConfirmDeleteForm()
    if form.validate_on_submit() and form.check_name(domain.name):
        accounts.remove_domain(db(), domain.name, actor=current_actor())
        flash(_("Domain %(name)s and all its mail were deleted.", name=domain.display_name), "success")
        return redirect(url_for("domains.index"))
    return render_template("domains/delete.html", domain=domain, form=form), form_status(form)


@bp.get("/<name>/dns")
@manager_required
def dns(name: str) -> str:
    domain = visible_domain(name)
    settings = portal().settings
    records = dnsrecords.records_for(settings, domain.name, dkimkeys.dns_record(settings, domain.name))
    return render_template(
        "domains/dns.html",
        domain=domain,
        records=records,
        zone=dnsrecords.zone_text(records),
        purposes=record_purposes(),
    )


def record_purposes() -> dict[str, str]:
    return {
        "mx": _("Where other servers deliver mail for the domain"),
        "spf": _("Which servers may send mail as the domain"),
        "dkim": _("The public key that verifies our signatures"),
        "dmarc": _("What receivers do with mail failing SPF and DKIM"),
        "srv": _("Where mail clients find the servers (RFC 6186)"),
        "autoconfig": _("Automatic set-up for Thunderbird and Outlook"),
    }
