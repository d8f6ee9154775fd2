"""Sign in and out. The lockout of an address for an account is shared's (shared.accounts.logins),
and a locked out sign-in reads as a wrong password.

A mailbox with a second factor signs in in two steps: the password, then a code from its
authenticator app, a recovery code or a passkey (`second_factor`). Between the two, the
session holds only which address passed the first step, and when."""
from __future__ import annotations

import logging
import time

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from services.admin.access import SESSION_TOKEN, PortalUser
from services.admin.forms import LoginForm, SecondFactorForm
from services.admin.language import safe_next
from services.admin.portal import client_ip, db, relying_party
from shared import accounts
from shared.accounts import logins, passkeys, portal_sessions, second_factors
from shared.errors import AccountDisabled, AuthFailed

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

PENDING = "pending_2fa"  # {"address", "at", "next"}: the password was right, the factor is due
PENDING_SECONDS = 300
CHALLENGE = "webauthn_challenge"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422 if form.is_submitted() else 200
    address = form.address.data.strip().lower()
    ip = client_ip()
    try:
        mailbox = accounts.authenticate(db(), address, form.password.data, "portal", ip)
    except AuthFailed:
        log.info("portal login failed for %s from %s", address, ip)
        form.form_errors.append(_("Wrong address or password."))
        return render_template("auth/login.html", form=form), 422
    except AccountDisabled:
        form.form_errors.append(_("This account or its domain is disabled."))
        return render_template("auth/login.html", form=form), 422
    wanted = safe_next(request.args.get("next"))
    if second_factors.second_factors_at_sign_in(db(), mailbox.address).any:
        fresh_session()
        session[PENDING] = {"address": mailbox.address, "at": time.time(), "next": wanted}
        return redirect(url_for("auth.second_factor"))
    start_session(PortalUser(mailbox))
    return redirect(wanted)


def pending_address() -> str:
    """The address whose password was checked a moment ago; 404 without one (or too old)."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        abort(404)
    return str(pending["address"])


@bp.route("/login/second-factor", methods=["GET", "POST"])
def second_factor() -> Response | str | tuple[str, int]:
    """The second step: a code (app or recovery), under the lockout like the password."""
    address = pending_address()
    form = SecondFactorForm()
    factors = second_factors.second_factors_at_sign_in(db(), address)
    page = {"form": form, "factors": factors}
    if not form.validate_on_submit():
        return render_template("auth/second_factor.html", **page), 422 if form.is_submitted() else 200
    ip = client_ip()
    code = form.code.data
    if not logins.check_second_step(db(), address, ip, lambda: second_factors.check_second_factor(db(), address, code, ip=ip)):
        log.info("portal second factor failed for %s from %s", address, ip)
        form.code.errors = [_("The code is wrong or was used already.")]
        return render_template("auth/second_factor.html", **page), 422
    return redirect(finish_second_factor(address))


@bp.post("/login/passkey/options")
def passkey_options() -> Response:
    ceremony = passkeys.begin_passkey_sign_in(db(), pending_address(), relying_party())
    session[CHALLENGE] = ceremony.challenge.hex()
    return Response(ceremony.options, mimetype="application/json")


@bp.post("/login/passkey")
def passkey_sign_in() -> Response | tuple[Response, int]:
    address = pending_address()
    challenge = session.pop(CHALLENGE, None)
    response = request.get_data(as_text=True)
    if not isinstance(challenge, str) or not logins.check_second_step(
        db(),
        address,
        client_ip(),
        lambda: passkeys.check_passkey(db(), address, response, challenge=bytes.fromhex(challenge), rp=relying_party()),
    ):
        return jsonify(error=_("The passkey was not accepted.")), 422
    return jsonify(redirect=finish_second_factor(address))


def finish_second_factor(address: str) -> str:
    """Sign in the address whose factor just checked out; where to go next."""
    wanted = str(session[PENDING].get("next") or url_for("dashboard.index"))
    start_session(PortalUser(accounts.signed_in_mailbox(db(), address)))
    return wanted


def fresh_session() -> None:
    """Nothing set before sign-in (a planted cookie) survives it; the language choice does."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def start_session(user: PortalUser) -> None:
    """A fresh session at sign-in, kept on the server too (listed in My account, ended from there)."""
    fresh_session()
    session.permanent = True
    session[SESSION_TOKEN] = portal_sessions.open_portal_session(
        db(), user.address, ip=client_ip(), user_agent=request.headers.get("User-Agent", "")
    )
    login_user(user)
    log.info("portal login of %s from %s", user.address, client_ip())


@bp.post("/logout")
def logout() -> Response:
    token = session.get(SESSION_TOKEN)
    if isinstance(token, str):
        portal_sessions.close_portal_session(db(), token)
    logout_user()
    fresh_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
