"""Staff self-service: own quota use, own password, own forwarding, out-of-office reply, mail client
settings, the recovery address for password resets, and the portal sessions (sign out any or all)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from services.admin.access import SESSION_TOKEN, current_actor, signed_in
from services.admin.feedback import form_status, refusal_shown_on
from services.admin.forms import ForwardingForm, OutOfOfficeForm, OwnPasswordForm, RecoveryAddressForm
from services.admin.forwarding import save_forwarding, saved_forwarding_form
from services.admin.portal import client_ip, db, portal
from shared import accounts
from shared.accounts import out_of_office, password_reset, portal_sessions, second_factors
from shared.errors import AccountDisabled, AuthFailed
from shared.mail import dnsrecords
from shared.mail.autoreply import Notice

bp = Blueprint("account", __name__, url_prefix="/account")


def account_page(
    form: OwnPasswordForm | None = None,
    forwarding_form: ForwardingForm | None = None,
    away_form: OutOfOfficeForm | None = None,
    recovery_form: RecoveryAddressForm | None = None,
) -> str:
    address = signed_in().address
    mailbox = accounts.signed_in_mailbox(db(), address)
    settings = portal().settings
    return render_template(
        "account/index.html",
        mailbox=mailbox,
        form=form or OwnPasswordForm(formdata=None),
        forwarding_form=forwarding_form or saved_forwarding_form(address),
        away_form=away_form or saved_out_of_office_form(address),
        recovery_form=recovery_form or RecoveryAddressForm(formdata=None, recovery_address=mailbox.recovery_address),
        factors=second_factors.list_second_factors(db(), address, actor=current_actor()),
        sessions=portal_sessions.list_portal_sessions(db(), address, actor=current_actor()),
        current_session=signed_in().session_id,
        hostname=settings.hostname,
        endpoints=dnsrecords.client_endpoints(settings),
    )


def current_token() -> str:
    return str(session.get(SESSION_TOKEN, ""))


@bp.get("/")
@login_required
def index() -> str:
    return account_page()


@bp.post("/forwarding")
@login_required
def change_forwarding() -> Response | tuple[str, int]:
    form = ForwardingForm()
    if save_forwarding(form, signed_in().address):
        flash(_("Your forwarding was saved."), "success")
        return redirect(url_for("account.index"))
    return account_page(forwarding_form=form), form_status(form)


def saved_out_of_office_form(address: str) -> OutOfOfficeForm:
    saved = out_of_office.get_out_of_office(db(), address, actor=current_actor())
    return OutOfOfficeForm(
        formdata=None, enabled=saved.enabled, subject=saved.subject, text=saved.text,
        starts_on=saved.starts_on, ends_on=saved.ends_on,
    )


@bp.post("/out-of-office")
@login_required
def change_out_of_office() -> Response | tuple[str, int]:
    form = OutOfOfficeForm()
    if form.validate_on_submit():
        notice = Notice(form.enabled.data, form.subject.data, form.text.data, form.starts_on.data, form.ends_on.data)
        with refusal_shown_on(form):
            out_of_office.set_out_of_office(db(), signed_in().address, notice, actor=current_actor())
            flash(_("Your out-of-office reply was saved."), "success")
            return redirect(url_for("account.index"))
    return account_page(away_form=form), form_status(form)


@bp.post("/password")
@login_required
def change_password() -> Response | tuple[str, int]:
    form = OwnPasswordForm()
    if form.validate_on_submit() and current_password_ok(form):
        address = signed_in().address
        with refusal_shown_on(form):
            accounts.set_password(
                db(), address, form.new_password.data, actor=current_actor(), sign_out=True, keep_session=current_token()
            )
            flash(_("Your password was changed. Your other sessions are signed out."), "success")
            return redirect(url_for("account.index"))
    return account_page(form=form), form_status(form)


def current_password_ok(form: OwnPasswordForm) -> bool:
    """Re-check the current password under the sign-in's lockout (a left-open session is no shortcut)."""
    try:
        accounts.authenticate(db(), signed_in().address, form.current_password.data, "portal", client_ip())
    except (AuthFailed, AccountDisabled):
        form.current_password.errors = [_("The current password is wrong.")]
        return False
    return True


@bp.post("/recovery-address")
@login_required
def change_recovery_address() -> Response | tuple[str, int]:
    form = RecoveryAddressForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            password_reset.set_recovery_address(
                db(), signed_in().address, form.recovery_address.data or "", actor=current_actor()
            )
            flash(_("Your recovery address was saved."), "success")
            return redirect(url_for("account.index"))
    return account_page(recovery_form=form), form_status(form)


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int) -> Response:
    portal_sessions.end_portal_session(db(), signed_in().address, session_id, actor=current_actor())
    flash(_("That session is signed out."), "success")
    return redirect(url_for("account.index"))


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions() -> Response:
    ended = portal_sessions.end_portal_sessions(
        db(), signed_in().address, actor=current_actor(), keep_token=current_token()
    )
    flash(_("%(count)s other sessions signed out.", count=ended), "success")
    return redirect(url_for("account.index"))
