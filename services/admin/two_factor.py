"""My account's two-factor sign-in: set up an authenticator app (QR code and secret, confirmed
by a code; ten recovery codes shown once), register passkeys or security keys, new recovery
codes, and removing every factor. A user whose domain requires a second factor is kept here
until one is set up (services.admin.access.require_enrolment)."""
from __future__ import annotations

import segno
from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

from services.admin.access import current_actor, signed_in
from services.admin.feedback import Page, explain, form_status, refusal_shown_on
from services.admin.forms import TotpConfirmForm
from services.admin.portal import db, relying_party
from shared.accounts import passkeys, second_factors
from shared.errors import BeaconError

bp = Blueprint("twofactor", __name__, url_prefix="/account/two-factor")
CHALLENGE = "webauthn_registration"
QR_SCALE = 4


def two_factor_page(confirm_form: TotpConfirmForm | None = None) -> str:
    address = signed_in().address
    enrolment = second_factors.pending_totp(db(), address, actor=current_actor())
    return render_template(
        "account/two_factor.html",
        factors=second_factors.list_second_factors(db(), address, actor=current_actor()),
        enrolment=enrolment,
        qr_code=Markup(segno.make(enrolment.uri).svg_inline(scale=QR_SCALE)) if enrolment else None,
        confirm_form=confirm_form or TotpConfirmForm(formdata=None),
        must_enrol=signed_in().must_enrol,
    )


@bp.get("/")
@login_required
def index() -> str:
    return two_factor_page()


@bp.post("/totp")
@login_required
def begin_totp() -> Response:
    try:
        second_factors.begin_totp(db(), signed_in().address, actor=current_actor())
    except BeaconError as error:
        flash(explain(error), "error")
    return redirect(url_for("twofactor.index"))


@bp.post("/totp/confirm")
@login_required
def confirm_totp() -> Page:
    form = TotpConfirmForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            codes = second_factors.confirm_totp(db(), signed_in().address, form.code.data, actor=current_actor())
            flash(_("Two-factor sign-in is on."), "success")
            return render_template("account/recovery_codes.html", codes=codes)
    return two_factor_page(confirm_form=form), form_status(form)


@bp.post("/recovery-codes")
@login_required
def new_recovery_codes() -> Page:
    try:
        codes = second_factors.new_recovery_codes(db(), signed_in().address, actor=current_actor())
    except BeaconError as error:
        flash(explain(error), "error")
        return redirect(url_for("twofactor.index"))
    return render_template("account/recovery_codes.html", codes=codes)


@bp.post("/remove")
@login_required
def remove_all() -> Response:
    second_factors.remove_second_factors(db(), signed_in().address, actor=current_actor())
    flash(_("Two-factor sign-in is off: the password alone signs you in."), "success")
    return redirect(url_for("twofactor.index"))


@bp.post("/passkeys/options")
@login_required
def passkey_options() -> Response:
    ceremony = passkeys.begin_passkey_registration(db(), signed_in().address, relying_party(), actor=current_actor())
    session[CHALLENGE] = ceremony.challenge.hex()
    return Response(ceremony.options, mimetype="application/json")


@bp.post("/passkeys")
@login_required
def add_passkey() -> Response | tuple[Response, int]:
    challenge = session.pop(CHALLENGE, None)
    if not isinstance(challenge, str):
        return jsonify(error=_("Start again: the request to the key had expired.")), 422
    try:
        added = passkeys.add_passkey(
            db(),
            signed_in().address,
            request.get_data(as_text=True),
            challenge=bytes.fromhex(challenge),
            rp=relying_party(),
            name=request.args.get("name", ""),
            actor=current_actor(),
        )
    except BeaconError as error:
        return jsonify(error=explain(error)), 422
    flash(_("Passkey %(name)s added.", name=added.name), "success")
    return jsonify(redirect=url_for("twofactor.index"))


@bp.post("/passkeys/<int:passkey_id>/remove")
@login_required
def remove_passkey(passkey_id: int) -> Response:
    passkeys.remove_passkey(db(), signed_in().address, passkey_id, actor=current_actor())
    flash(_("The passkey was removed."), "success")
    return redirect(url_for("twofactor.index"))
