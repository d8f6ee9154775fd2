"""Two-factor sign-in, portal sessions and password reset under attack: a TOTP code replayed
within its window, a recovery code used twice, a reset link reused or used late, the reset
form asked whether an account exists (by its answer and by its timing), a reset link pointed
elsewhere by a forged Host header, a signed-out session's cookie played back, the required
enrolment skipped by typing another URL, forged passkey answers, and the main password of a
mailbox with a factor tried at SMTP and POP3."""
from __future__ import annotations

import poplib
import re
import smtplib
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from integration.admin.reset_mail import link_in, relaying, wait_for_mail
from integration.admin.support import CSRF_FIELD, PortalClient, text_of
from integration.pop3.support import ALICE, BOB, BOB_PW, DOMAIN
from integration.pop3.support import login as pop3_login
from integration.smtp.support import submit
from werkzeug.routing import Rule

from services.admin import create_app
from shared import accounts
from shared.accounts import password_reset, portal_sessions, second_factors
from shared.accounts.permissions import scope_of
from shared.accounts.views import CONSOLE, Actor
from shared.storage.db import Database

from .conftest import CAROL, CAROL_PW, PASSWORDS, Hosted, StartPop3, StartSmtp

SECOND_STEP = "/login/second-factor"
ENROLMENT = "/account/two-factor/"
RECOVERY = "owner@elsewhere.example"
NEW_PASSWORD = "a-new-password-42"
FLASH = re.compile(r'<p class="flash [a-z]+" role="status">[^<]*</p>')


@pytest.fixture
def app(db: Database, hosted: Hosted) -> Flask:
    return create_app(db.settings, database=db)


def browser(app: Flask) -> PortalClient:
    return PortalClient(app.test_client())


def own(address: str) -> Actor:
    return Actor(scope_of(address, is_global_admin=False, managed_domains=()))


def enrol(db: Database, address: str) -> tuple[str, tuple[str, ...]]:
    """The owner sets up an app (through the use cases the portal calls); its secret and codes."""
    secret = second_factors.begin_totp(db, address, actor=own(address)).secret
    codes = second_factors.confirm_totp(db, address, pyotp.TOTP(secret).now(), actor=own(address))
    return secret, codes


def second_step(client: PortalClient, address: str, code: str) -> int:
    first = client.login(address, PASSWORDS[address])
    assert first.status_code == 302 and first.headers["Location"] == SECOND_STEP
    return client.post(SECOND_STEP, {"code": code}, token_page=SECOND_STEP).status_code


def test_a_totp_code_is_taken_once_within_its_window(app: Flask, db: Database) -> None:
    secret, _codes = enrol(db, CAROL)
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step's: newer than enrolment's
    first = browser(app)
    assert second_step(first, CAROL, code) == 302
    onlooker = browser(app)
    assert second_step(onlooker, CAROL, code) == 422  # same code, same 90-second window
    assert onlooker.get("/account/").status_code == 302
    older = pyotp.TOTP(secret).now()  # still within the window, but older than the one taken
    assert second_step(browser(app), CAROL, older) == 422


def test_a_recovery_code_is_used_up(app: Flask, db: Database) -> None:
    _secret, codes = enrol(db, CAROL)
    assert second_step(browser(app), CAROL, codes[0]) == 302
    assert second_step(browser(app), CAROL, codes[0]) == 422
    assert second_step(browser(app), CAROL, codes[0].replace("-", " ")) == 422


def test_the_second_step_is_locked_after_too_many_wrong_codes(app: Flask, db: Database) -> None:
    """Then even the right code is refused, as a wrong one is (the shared lockout's own key)."""
    secret, _codes = enrol(db, CAROL)
    client = browser(app)
    client.login(CAROL, CAROL_PW)
    for guess in range(db.settings.login_max_failures):
        wrong = client.post(SECOND_STEP, {"code": f"{guess:06d}"}, token_page=SECOND_STEP)
        assert wrong.status_code == 422, guess
    right = client.post(SECOND_STEP, {"code": pyotp.TOTP(secret).at(time.time() + 30)}, token_page=SECOND_STEP)
    assert right.status_code == 422 and "The code is wrong or was used already." in text_of(right)
    assert client.get("/account/").status_code == 302


@pytest.fixture
def recovery_set(db: Database) -> None:
    for address in (BOB, CAROL):
        password_reset.set_recovery_address(db, address, RECOVERY, actor=own(address))


def test_a_reset_link_works_once(app: Flask, db: Database, recovery_set: None) -> None:
    with relaying(db) as (collector, relay_db):
        password_reset.request_password_reset(db, CAROL, ip="198.51.100.7")
        _link, token = link_in(wait_for_mail(collector, relay_db)[0])
    password_reset.reset_password(db, token, NEW_PASSWORD, ip="198.51.100.7")
    client = browser(app)
    path = f"/password-reset/{token}"
    again = client.post(path, {"new_password": "third-password-9", "repeat_password": "third-password-9"}, token_page="/login")
    assert again.status_code == 404
    assert accounts.authenticate(db, CAROL, NEW_PASSWORD, "portal", "127.0.0.1").address == CAROL


def test_a_reset_link_expires(app: Flask, db: Database, recovery_set: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(password_reset, "LINK_LIFETIME", timedelta(seconds=1))
    with relaying(db) as (collector, relay_db):
        password_reset.request_password_reset(db, CAROL, ip="198.51.100.7")
        _link, token = link_in(wait_for_mail(collector, relay_db)[0])
    time.sleep(1.5)
    path = f"/password-reset/{token}"
    late = browser(app).post(path, {"new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}, token_page="/login")
    assert late.status_code == 404 and "This link is used up or expired." in text_of(late)
    assert accounts.authenticate(db, CAROL, CAROL_PW, "portal", "127.0.0.1").address == CAROL


def test_a_made_up_reset_link_sets_nothing(app: Flask, db: Database) -> None:
    for token in ("x", "A" * 43, "../../login", "%00"):
        response = browser(app).get(f"/password-reset/{token}")
        assert response.status_code == 404, token


def forgot(client: PortalClient, address: str) -> tuple[int, str, str, float]:
    token = client.csrf_token("/forgot-password")
    started = time.perf_counter()
    response = client.client.post("/forgot-password", data={"csrf_token": token, "address": address})
    took = time.perf_counter() - started
    flashed = " ".join(FLASH.findall(text_of(client.get("/login"))))
    assert flashed  # there is an answer to compare
    return response.status_code, response.headers.get("Location", ""), flashed, took


def test_the_reset_form_does_not_tell_whether_an_account_exists(app: Flask, db: Database, recovery_set: None) -> None:
    """Same status, redirect and message for an account with a recovery address, one without,
    an unknown one and a malformed one; and no slower for the one that gets a mail."""
    cases = {"mailed": CAROL, "no recovery address": ALICE, "unknown": f"nobody@{DOMAIN}", "malformed": "not@@valid"}
    answers: dict[str, set[tuple[int, str, str]]] = {}
    timings: dict[str, list[float]] = {}
    for _round in range(5):
        for case, address in cases.items():
            status, location, page, took = forgot(browser(app), address)
            answers.setdefault(case, set()).add((status, location, page))
            timings.setdefault(case, []).append(took)
    assert len({frozenset(seen) for seen in answers.values()}) == 1, answers
    medians = {case: statistics.median(values) for case, values in timings.items()}
    assert max(medians.values()) - min(medians.values()) < 0.05, medians


def test_a_forged_host_header_does_not_move_the_reset_link(app: Flask, db: Database, recovery_set: None) -> None:
    client, elsewhere = browser(app).client, "http://attacker.example/"
    page = text_of(client.get("/forgot-password", base_url=elsewhere))
    token = CSRF_FIELD.search(page).group(1)  # type: ignore[union-attr]
    with relaying(db) as (collector, relay_db):
        forged = client.post("/forgot-password", data={"csrf_token": token, "address": BOB}, base_url=elsewhere)
        assert forged.status_code == 302
        link, _token = link_in(wait_for_mail(collector, relay_db)[0])
    assert link.startswith(password_reset.portal_address(db.settings) + "/password-reset/"), link
    assert "attacker.example" not in link


def replay_cookie(app: Flask, cookie: str) -> PortalClient:
    """A fresh browser holding a copied session cookie."""
    client = browser(app)
    client.client.set_cookie("beaconmail_session", cookie)
    return client


def session_cookie(client: PortalClient) -> str:
    found = client.client.get_cookie("beaconmail_session")
    assert found is not None
    return found.value


def test_a_signed_out_session_cookie_is_refused(app: Flask, db: Database) -> None:
    """The cookie is still validly signed after sign-out; the server's row is what is gone."""
    victim = browser(app)
    assert victim.login(BOB, BOB_PW).status_code == 302
    stolen = session_cookie(victim)
    assert replay_cookie(app, stolen).get("/account/").status_code == 200  # the copy works while signed in
    victim.logout()
    assert replay_cookie(app, stolen).get("/account/").status_code == 302
    laptop, thief = browser(app), browser(app)
    laptop.login(BOB, BOB_PW)
    thief.login(BOB, BOB_PW)
    stolen = session_cookie(thief)
    assert laptop.post("/account/sessions/end-others", token_page="/account/").status_code == 302
    assert replay_cookie(app, stolen).get("/account/").status_code == 302
    assert laptop.get("/account/").status_code == 200


def test_an_idle_session_is_over(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portal_sessions, "IDLE_LIMIT", timedelta(seconds=1))
    monkeypatch.setattr(portal_sessions, "SEEN_EVERY", timedelta(0))
    client = browser(app)
    client.login(BOB, BOB_PW)
    assert client.get("/account/").status_code == 200
    time.sleep(0.6)
    assert client.get("/account/").status_code == 200  # seen again: still within the limit
    time.sleep(1.2)
    assert client.get("/account/").status_code == 302


def must_enrol_client(app: Flask, db: Database) -> PortalClient:
    accounts.update_domain(db, DOMAIN, require_2fa=True, actor=CONSOLE)
    client = browser(app)
    assert client.login(BOB, BOB_PW).status_code == 302
    return client


def filled(rule: Rule) -> dict[str, object]:
    """Any values for the URL's parameters: the requirement is checked before any view looks."""
    return {argument: 1 if "id" in argument else "x@hosted.example" for argument in rule.arguments}


def signed_in_routes(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    """Each portal route and method that an anonymous browser is sent to sign in for."""
    anonymous = browser(app)
    token = anonymous.csrf_token("/login")
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.rule.startswith("/api/") or rule.endpoint in ("static", "auth.logout"):
                continue
            address = app.url_for(rule.endpoint, **filled(rule))
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                reply = anonymous.client.open(address, method=method, data={"csrf_token": token})
                if reply.status_code == 302 and reply.headers["Location"].startswith("/login"):
                    yield rule, method, address


def test_required_enrolment_cannot_be_skipped_by_url(app: Flask, db: Database) -> None:
    client = must_enrol_client(app, db)
    token = client.csrf_token(ENROLMENT)
    walked = 0
    for rule, method, address in list(signed_in_routes(app)):
        if rule.endpoint.startswith("twofactor."):
            continue
        walked += 1
        reply = client.client.open(address, method=method, data={"csrf_token": token})
        assert reply.status_code == 302 and reply.headers["Location"] == ENROLMENT, (method, address, reply.status_code)
    assert walked > 50  # the walk really walked (59 routes and methods when written)
    assert not second_factors.list_second_factors(db, BOB, actor=CONSOLE).any
    assert accounts.authenticate(db, BOB, BOB_PW, "portal", "127.0.0.1").address == BOB  # no password change got through


def test_forged_passkey_answers_are_refused(app: Flask, db: Database) -> None:
    enrol(db, CAROL)
    client = browser(app)
    assert client.post("/login/passkey", {}, token_page="/login").status_code == 404  # no password step yet
    client.login(CAROL, CAROL_PW)
    token = client.csrf_token(SECOND_STEP)
    headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
    no_challenge = client.client.post("/login/passkey", data='{"id": "x"}', headers=headers)
    assert no_challenge.status_code == 422
    forged = ('{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": "e30", '
              '"authenticatorData": "AAAA", "signature": "AAAA"}}')
    for body in ("not json", "[]", '{"rawId": 5}', forged):
        assert client.client.post("/login/passkey/options", headers=headers).status_code == 200
        assert client.client.post("/login/passkey", data=body, headers=headers).status_code == 422, body
    assert client.get("/account/").status_code == 302


def test_the_main_password_of_a_mailbox_with_a_factor_fails_at_smtp_and_pop3_like_a_wrong_one(
    db: Database, start_smtp: StartSmtp, start_pop3: StartPop3
) -> None:
    enrol(db, BOB)
    smtp, pop3 = start_smtp(), start_pop3()
    replies = []
    for password in (BOB_PW, "not-bobs-password"):
        with pytest.raises(smtplib.SMTPAuthenticationError) as smtp_refusal:
            submit(smtp, BOB, password)
        with pytest.raises(poplib.error_proto) as pop3_refusal:
            pop3_login(pop3, BOB, password)
        replies.append((smtp_refusal.value.smtp_code, smtp_refusal.value.smtp_error, pop3_refusal.value.args[0]))
    assert replies[0] == replies[1] and replies[0][0] == 535
    second_factors.remove_second_factors(db, BOB, actor=CONSOLE)
    submit(smtp, BOB, BOB_PW).quit()
