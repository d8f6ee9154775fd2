"""The admin portal and its API under attack: forged cross-site forms, stored and reflected
script, reaching another domain's objects by URL, header lines smuggled in display names,
and the cookie and header policy that limits what a successful injection could do.

The route tests walk the application's URL map instead of a hand-made list, so a route added
later without CSRF, without a scope check or without a case here makes them fail.
"""

from __future__ import annotations

import dataclasses
import plistlib
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, url_for
from integration.admin.support import PASSWORD, PortalClient, World, bearer, text_of
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from services.admin import create_app
from shared import accounts
from shared.accounts import app_passwords, portal_sessions, suppressions, tokens
from shared.accounts.forwarding import get_forwarding
from shared.accounts.message_tracking import LogFilters, list_queue, search_messages
from shared.accounts.out_of_office import get_out_of_office, set_out_of_office
from shared.accounts.passwords import hash_password
from shared.accounts.permissions import scope_of
from shared.accounts.quarantine import list_junk_messages
from shared.accounts.views import CONSOLE, Actor
from shared.accounts.webhooks import create_webhook, list_webhooks
from shared.errors import NotFound, PermissionDenied
from shared.mail.autoreply import Notice
from shared.mail.webhooks import EVENTS
from shared.storage.db import Database
from tests.junkmail import put_in_junk
from tests.messagelog import accept
from tests.suppressed import suppress

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Outlook's autodiscover is a POST that only reads (and Outlook sends no CSRF token).
CSRF_EXEMPT = {"clientconfig.outlook"}
NOT_WALKED = {"static"}
CSRF_MESSAGE = "The form was not sent from this site"
INTRUDER = "pwned-password-1"
SUPPRESSED = "gone@remote.example"
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'"
XSS_MARKERS = ("<script>alert(", "<img src=x onerror")


@dataclasses.dataclass(frozen=True)
class Targets:
    """The objects of one domain that the routes' URL parameters name."""

    domain: str
    mailbox: str
    alias: str
    group: str
    alias_domain: str
    token_id: int
    sender: str
    junk_id: str
    app_password_id: int
    session_id: int  # a portal session of `mailbox`
    log_id: str  # a message of the domain's mailbox, waiting in the outbound queue
    webhook_id: int
    passkey_id: int = 1  # none exists: no page may tell another mailbox's from a missing one
    suppressed: str = SUPPRESSED  # the domain's suppression list holds it
    reset_token: str = "not-a-reset-link"

    def address_for(self, endpoint: str) -> str:
        if "groups." in endpoint:
            return self.group
        return self.suppressed if "suppressions." in endpoint else self.mailbox

    def for_rule(self, rule: Rule) -> dict[str, Any]:
        values = {
            "name": self.domain,
            "address": self.address_for(rule.endpoint),
            "domain": self.domain,
            "source": self.alias,
            "alias_name": self.alias_domain,
            "token_id": self.token_id,
            "sender": self.sender,
            "message_id": self.junk_id,
            "app_password_id": self.app_password_id,
            "session_id": self.session_id,
            "passkey_id": self.passkey_id,
            "token": self.reset_token,
            "log_id": self.log_id,
            "webhook_id": self.webhook_id,
            "action": "retry",
        }
        missing = rule.arguments - values.keys()
        assert not missing, f"{rule.rule}: add a target for {sorted(missing)}"
        return {argument: values[argument] for argument in rule.arguments}


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def world(db: Database, password_hash: str) -> World:
    """alpha.example (root: global admin, boss: its manager, staff) and beta.example (someone),
    each with an alias, a group and an alias domain."""
    people = World()
    # Each domain's webhook calls a loopback address, which only this setting allows.
    hooks_to_anywhere = Database(dataclasses.replace(db.settings, webhook_allow_private=True))
    for domain in (people.alpha, people.beta):
        accounts.create_domain(db, domain, actor=CONSOLE)
        accounts.add_alias_domain(db, f"alias-{domain}", domain, actor=CONSOLE)
    for address in (people.admin, people.manager, people.staff, people.other):
        accounts.create_mailbox(db, address, password_hash, password_is_hash=True, actor=CONSOLE)
    accounts.grant_role(db, people.admin, global_admin=True, actor=CONSOLE)
    accounts.grant_role(db, people.manager, domain=people.alpha, actor=CONSOLE)
    for domain, member in ((people.alpha, people.staff), (people.beta, people.other)):
        accounts.create_alias(db, f"info@{domain}", [member], actor=CONSOLE)
        accounts.create_group(db, f"team@{domain}", [member], actor=CONSOLE)
        accounts.block_sender(db, domain, f"spam.{domain}", actor=CONSOLE)
        put_in_junk(db, member)
        app_passwords.create_app_password(db, member, name=f"phone of {member}", actor=CONSOLE)
        accept(db, member, remote=["far@remote.example"], via="submission")
        create_webhook(hooks_to_anywhere, domain, "http://127.0.0.1:9/hook", EVENTS, actor=CONSOLE)
        suppress(db, member, SUPPRESSED)
    hooks_to_anywhere.dispose()
    return people


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app(db.settings, database=db)


@pytest.fixture
def admin_token(db: Database, world: World) -> int:
    return tokens.create_token(db, world.admin, name="admin's", read_only=False, actor=CONSOLE).token.id


def targets_in(domain: str, token_id: int, db: Database) -> Targets:
    mailbox = {World.alpha: World.staff, World.beta: World.other}[domain]
    [junk] = list_junk_messages(db, mailbox, actor=CONSOLE).messages
    [app] = app_passwords.list_app_passwords(db, mailbox, actor=CONSOLE)
    portal_sessions.open_portal_session(db, mailbox, ip="192.0.2.1", user_agent="curl/8")
    [session] = portal_sessions.list_portal_sessions(db, mailbox, actor=CONSOLE)
    [logged] = search_messages(db, actor=CONSOLE, filters=LogFilters(sender=mailbox)).items
    [hook] = list_webhooks(db, domain, actor=CONSOLE)
    return Targets(
        domain, mailbox, f"info@{domain}", f"team@{domain}", f"alias-{domain}", token_id, f"spam.{domain}", junk.id,
        app.id, session.id, logged.id, hook.id,
    )


def rules(app: Flask, *, api: bool) -> Iterator[Rule]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint not in NOT_WALKED and rule.rule.startswith("/api/") == api:
            yield rule


def url(app: Flask, rule: Rule, targets: Targets) -> str:
    with app.test_request_context():
        return url_for(rule.endpoint, **targets.for_rule(rule))


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def signed_in(app: Flask, address: str) -> PortalClient:
    client = PortalClient(app.test_client())
    assert client.login(address).status_code == 302
    return client


def state_of(db: Database, domain: str, mailbox: str) -> tuple[object, ...]:
    """What a request could change in `domain`, and every token (views are comparable frozen values)."""
    return (
        [d for d in accounts.list_domains(db, actor=CONSOLE) if d.name == domain],
        accounts.list_mailboxes(db, domain, actor=CONSOLE),
        accounts.list_aliases(db, domain, actor=CONSOLE),
        accounts.list_groups(db, domain, actor=CONSOLE),
        get_forwarding(db, mailbox, actor=CONSOLE),
        accounts.list_senders(db, domain, actor=CONSOLE),
        list_junk_messages(db, mailbox, actor=CONSOLE),
        app_passwords.list_app_passwords(db, mailbox, actor=CONSOLE),
        [(t.id, t.owner, t.name, t.domains, t.read_only, t.expires_at) for t in tokens.list_tokens(db, actor=CONSOLE)],
        [w for w in list_queue(db, actor=CONSOLE) if w.sender == mailbox],
        list_webhooks(db, domain, actor=CONSOLE),
        suppressions.list_suppressions(db, actor=CONSOLE, domain=domain).items,
    )


def password_still_works(db: Database, address: str) -> bool:
    return accounts.authenticate(db, address, PASSWORD, "portal", "127.0.0.1").address == address


# -- CSRF -------------------------------------------------------------------------------------


def forms(targets: Targets) -> dict[str, dict[str, str]]:
    """Bodies that the pages accept from a global admin: without CSRF, each would change something."""
    creates = {"local": "forged", "domain": targets.domain}
    mailbox_edit = {"name": "forged", "quota": "1G", "active": "y", "smtp_enabled": "y", "pop3_enabled": "y"}
    domain_limits = {"max_mailboxes": "1", "max_aliases": "0", "quota": "0", "default_mailbox_quota": "0"}
    return {
        "account.change_forwarding": {"destinations": "elsewhere@remote.example"},
        "account.change_password": {"current_password": PASSWORD, "new_password": INTRUDER, "repeat_password": INTRUDER},
        "aliases.create": creates | {"destinations": World.manager},
        "aliases.edit": {"destinations": World.manager},
        "aliases.remove": {"confirmation": targets.alias},
        "auth.login": {"address": World.staff, "password": PASSWORD},
        "domains.add_alias_domain": {"alias_name": "forged.example"},
        "domains.create": domain_limits | {"name": "forged.example"},
        "domains.delete": {"confirmation": targets.domain},
        "domains.edit": domain_limits,
        "domains.list_sender": {"sender": "forged@remote.example", "listing": "allow"},
        "domains.unlist_sender": {"sender": targets.sender},
        "groups.create": creates | {"members": World.manager, "policy": "anyone"},
        "groups.edit": {"members": World.manager, "policy": "anyone"},
        "groups.remove": {"confirmation": targets.group},
        "imports.apply": {"csv_text": f"address,password\nforged@{targets.domain},{INTRUDER}\n"},
        "language.switch": {"lang": "zh_Hans"},
        "mailboxes.create": creates | {"password": INTRUDER},
        "mailboxes.delete": {"confirmation": targets.mailbox},
        "mailboxes.edit": mailbox_edit,
        "mailboxes.forwarding": {"destinations": "elsewhere@remote.example"},
        "mailboxes.reset_password": {"password": INTRUDER},
        "tokens.create": {"name": "forged", "access": "write", "domains": targets.domain},
        "suppressions.remove": {"confirmation": SUPPRESSED},
        "tokens.revoke": {"confirmation": "admin's"},
    }


def test_every_state_changing_page_refuses_a_forged_form(app: Flask, db: Database, world: World, admin_token: int) -> None:
    admin = signed_in(app, world.admin)
    targets = targets_in(world.alpha, admin_token, db)
    before = state_of(db, world.alpha, world.staff)
    walked: set[str] = set()
    for rule in rules(app, api=False):
        if not STATE_CHANGING & set(methods(rule)) or rule.endpoint in CSRF_EXEMPT:
            continue
        walked.add(rule.endpoint)
        form = forms(targets).get(rule.endpoint, {})
        for forged in ({}, {"csrf_token": "forged"}, {"csrf_token": admin.csrf_token("/login")[:-2] + "xx"}):
            response = admin.client.post(url(app, rule, targets), data=form | forged)
            assert response.status_code == 400 and CSRF_MESSAGE in text_of(response), (rule.rule, forged)
    assert walked >= {"auth.logout", "tokens.revoke", "imports.apply"}  # the walk really walked
    assert state_of(db, world.alpha, world.staff) == before
    assert password_still_works(db, world.admin) and password_still_works(db, world.staff)
    assert admin.get("/").status_code == 200  # still signed in: even the logout was refused


# -- IDOR: another domain's objects by URL ------------------------------------------------------

# Bodies for the API routes that change something: well-formed, so only the scope check refuses.
API_BODIES: dict[str, dict[str, Any]] = {
    "api.aliases.create_alias": {"source": "new@beta.example", "destinations": [World.manager]},
    "api.aliases.replace_alias": {"destinations": [World.manager]},
    "api.app_passwords.create_app_password": {"name": "intruder's"},
    "api.domains.add_alias_domain": {"name": "taken-over.example"},
    "api.domains.create_domain": {"name": "gamma.example"},
    "api.domains.list_sender": {"sender": "forged@remote.example", "listing": "allow"},
    "api.domains.update_domain": {"max_mailboxes": 1000, "inbound_checks": False},
    "api.groups.create_group": {"address": "new-team@beta.example", "members": [World.manager]},
    "api.groups.update_group": {"members": [World.manager]},
    "api.junk.release_junk": {},
    "api.mailboxes.create_mailbox": {"address": "new@beta.example", "password": INTRUDER},
    "api.mailboxes.set_forwarding": {"destinations": [World.manager], "keep_copy": False},
    "api.mailboxes.set_password": {"password": INTRUDER},
    "api.mailboxes.update_mailbox": {"name": "taken over"},
    "api.messages.send_message": {"from": World.other, "to": [World.manager], "subject": "taken over", "text": "x"},
    "api.webhooks.create_webhook": {"domain": World.beta, "url": "https://hooks.example/x", "events": ["message.bounced"]},
}
# Pages that create something in the domain named by a form field rather than the URL.
CREATED_IN_A_FIELD = {"aliases.create", "domains.create", "groups.create", "imports.apply", "mailboxes.create", "tokens.create"}
# Pages whose URL carries a secret of their own instead of naming an object (the reset link).
REACHED_BY_SECRET = {"reset.reset"}
# What only someone who sees beta.example could get back from a list.
BETA_OBJECTS = (World.other, "info@beta.example", "team@beta.example", "alias-beta.example", "spam.beta.example")


def test_pages_never_reach_another_domain(app: Flask, db: Database, world: World, admin_token: int) -> None:
    """A manager of alpha.example names beta.example's objects in every URL and form of the portal."""
    manager = signed_in(app, world.manager)
    admin = signed_in(app, world.admin)
    targets = targets_in(world.beta, admin_token, db)
    before = state_of(db, world.beta, world.other)
    for rule in rules(app, api=False):
        address = url(app, rule, targets)
        if "GET" in methods(rule) and rule.arguments:
            if rule.endpoint not in REACHED_BY_SECRET:
                assert admin.get(address).status_code == 200, address  # the target exists
            assert manager.get(address).status_code in (403, 404), address
        elif "GET" in methods(rule):
            listed = text_of(manager.get(address, query_string={"domain": world.beta}))
            assert not [name for name in BETA_OBJECTS if name in listed], address
        if "POST" in methods(rule) and rule.arguments:
            response = manager.post(address, forms(targets).get(rule.endpoint, {}), token_page="/")
            assert response.status_code in (403, 404), address
        elif rule.endpoint in CREATED_IN_A_FIELD:  # checked by the state below
            manager.post(address, forms(targets)[rule.endpoint], token_page="/")
    assert state_of(db, world.beta, world.other) == before
    assert password_still_works(db, world.other)


def test_api_never_reaches_another_domain(app: Flask, db: Database, world: World, admin_token: int) -> None:
    """The same walk over the API with the manager's read-write token."""
    api = app.test_client()
    manager = bearer(db, world.manager, read_only=False)
    admin = bearer(db, world.admin)
    targets = targets_in(world.beta, admin_token, db)
    before = state_of(db, world.beta, world.other)
    for rule in rules(app, api=True):
        address = url(app, rule, targets)
        for method in methods(rule):
            if method == "GET" and rule.arguments:
                assert api.get(address, headers=admin).status_code == 200, address  # the target exists
                assert api.get(address, headers=manager).status_code in (403, 404), address
            elif method == "GET":
                listed = api.get(address, query_string={"domain": world.beta}, headers=manager).get_data(as_text=True)
                assert not [name for name in BETA_OBJECTS if name in listed], address
            else:
                body = API_BODIES.get(rule.endpoint)
                assert body is not None or method == "DELETE", f"{method} {rule.rule}: add a body to API_BODIES"
                response = api.open(address, method=method, json=body, headers=manager)
                assert response.status_code in (403, 404), (method, address, response.get_json())
    assert state_of(db, world.beta, world.other) == before
    assert password_still_works(db, world.other)


def test_a_narrowed_admin_token_has_only_a_managers_rights(app: Flask, db: Database, world: World) -> None:
    """A global admin's read-write token narrowed to alpha.example. No API view checks rights any
    more, so every refusal here comes from the use case the view calls: with the checks left in
    views only (or in a view forgotten), the token would act with its owner's full rights."""
    api = app.test_client()
    narrowed = bearer(db, world.admin, read_only=False, domains=[world.alpha])
    before = [listing(db, actor=CONSOLE) for listing in (accounts.list_domains, accounts.list_aliases, accounts.list_groups)]
    attempts = (
        ("POST", "/api/v1/domains", {"name": "gamma.example"}, 403),
        ("PATCH", f"/api/v1/domains/{world.alpha}", {"max_mailboxes": 1}, 403),
        ("POST", f"/api/v1/domains/{world.alpha}/alias-domains", {"name": "books.example"}, 403),
        ("PATCH", f"/api/v1/mailboxes/{world.staff}", {"name": "x", "is_global_admin": True}, 403),
        ("PATCH", f"/api/v1/mailboxes/{world.staff}", {"managed_domains": [world.beta]}, 404),
        ("POST", "/api/v1/aliases", {"source": f"new@{world.beta}", "destinations": [world.staff]}, 404),
        ("POST", "/api/v1/groups", {"address": f"new-team@{world.beta}", "members": [world.staff]}, 404),
    )
    for method, address, body, status in attempts:
        response = api.open(address, method=method, json=body, headers=narrowed)
        assert response.status_code == status, (method, address, response.get_json())
    staff = accounts.get_mailbox(db, world.staff, actor=CONSOLE)
    assert (staff.name, staff.is_global_admin, staff.managed_domains) == ("", False, ())
    after = [listing(db, actor=CONSOLE) for listing in (accounts.list_domains, accounts.list_aliases, accounts.list_groups)]
    assert after == before


# -- Stored and reflected script --------------------------------------------------------------


def assert_inert(response: TestResponse, where: str) -> None:
    page = text_of(response)
    for marker in XSS_MARKERS:
        assert marker not in page, f"{where}: {marker!r} reached the page unescaped"


def test_script_in_names_and_inputs_stays_text(app: Flask, db: Database, world: World) -> None:
    admin = signed_in(app, world.admin)
    created = {"local": "victim", "domain": world.alpha, "name": XSS, "password": INTRUDER}
    created_page = admin.post("/mailboxes/new", created, token_page="/mailboxes/new")
    assert created_page.status_code == 200
    assert_inert(created_page, "the new mailbox page")
    edited = {"name": XSS, "quota": "0", "active": "y", "smtp_enabled": "y", "pop3_enabled": "y", "is_global_admin": "y"}
    assert admin.post(f"/mailboxes/{world.admin}/edit", edited, token_page="/").status_code == 302
    issued = admin.post("/tokens/", {"name": XSS, "access": "read"}, token_page="/tokens/")
    assert issued.status_code == 200
    assert_inert(issued, "the new token page")
    assert accounts.get_mailbox(db, f"victim@{world.alpha}", actor=CONSOLE).name == XSS  # stored as typed
    stored = ["/", "/mailboxes/", f"/mailboxes/victim@{world.alpha}/edit", "/account/", "/audit/", "/tokens/"]
    for path in stored:
        assert_inert(admin.get(path), path)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text_of(admin.get("/mailboxes/"))  # shown, as text
    scripted = tokens.create_token(db, world.admin, name=XSS, read_only=False, actor=CONSOLE)
    through_token = {"Authorization": f"Bearer {scripted.secret}"}
    made = app.test_client().post("/api/v1/mailboxes", json={"address": f"via-token@{world.alpha}"}, headers=through_token)
    assert made.status_code == 201
    audit = admin.get("/audit/")
    assert_inert(audit, "the audit log naming the token")
    assert "token “&lt;script&gt;alert(1)&lt;/script&gt;" in text_of(audit)  # shown, as text
    reflected = [
        admin.get("/mailboxes/", query_string={"q": XSS}),
        admin.get("/audit/", query_string={"text": XSS, "actor": XSS}),
        admin.post("/aliases/new", {"local": "x", "domain": world.alpha, "destinations": XSS}, token_page="/aliases/new"),
        admin.post("/import/apply", {"csv_text": f"address,name,password\n{XSS}@{world.alpha},{XSS},{INTRUDER}\n"}, token_page="/"),
        admin.post("/login", {"address": XSS, "password": "x"}),
        admin.get(f"/no-such-page/{XSS}"),
    ]
    for response in reflected:
        assert_inert(response, response.request.path)


# -- Header injection -------------------------------------------------------------------------

SMUGGLED = "Eve\r\nBcc: everyone@alpha.example"


def test_display_names_cannot_carry_header_lines(app: Flask, db: Database, world: World) -> None:
    api = app.test_client()
    admin = bearer(db, world.admin, read_only=False)
    refused = api.patch(f"/api/v1/mailboxes/{world.staff}", json={"name": SMUGGLED}, headers=admin)
    assert refused.status_code == 422
    portal = signed_in(app, world.admin)
    edited = {"name": SMUGGLED, "quota": "0", "active": "y", "smtp_enabled": "y", "pop3_enabled": "y"}
    assert portal.post(f"/mailboxes/{world.staff}/edit", edited, token_page="/").status_code == 422
    created = api.post("/api/v1/mailboxes", json={"address": f"eve@{world.alpha}", "password": INTRUDER, "name": SMUGGLED}, headers=admin)
    assert created.status_code == 422
    profile = plistlib.loads(signed_in(app, world.staff).get("/account/mail.mobileconfig").data)
    sender_name = profile["PayloadContent"][0]["EmailAccountName"]
    assert "\r" not in sender_name and "\n" not in sender_name


def test_out_of_office_subject_cannot_carry_header_lines(app: Flask, db: Database, world: World) -> None:
    """Its subject becomes a header of mail we send: a line break would add headers (a Bcc to anyone)."""
    admin = bearer(db, world.admin, read_only=False)
    smuggled = {"enabled": True, "subject": SMUGGLED, "text": "away"}
    refused = app.test_client().patch(f"/api/v1/mailboxes/{world.staff}", json={"out_of_office": smuggled}, headers=admin)
    assert refused.status_code == 422
    portal = signed_in(app, world.staff)
    posted = portal.post("/account/out-of-office", {"enabled": "y", "subject": SMUGGLED, "text": "away"}, token_page="/account/")
    assert posted.status_code == 422
    assert get_out_of_office(db, world.staff, actor=CONSOLE).subject == ""


def test_nobody_sets_another_users_out_of_office(app: Flask, db: Database, world: World) -> None:
    api, away = app.test_client(), {"out_of_office": {"enabled": True, "subject": "Gone", "text": "I quit."}}
    for actor, victim in ((world.manager, world.other), (world.manager, world.admin)):  # staff get no tokens
        refused = api.patch(f"/api/v1/mailboxes/{victim}", json=away, headers=bearer(db, actor, read_only=False))
        assert refused.status_code in (403, 404), (actor, victim)
        assert not get_out_of_office(db, victim, actor=CONSOLE).enabled
    staff = Actor(scope_of(world.staff, is_global_admin=False, managed_domains=()))
    with pytest.raises((NotFound, PermissionDenied)):
        set_out_of_office(db, world.manager, Notice(True, "Gone", "I quit."), actor=staff)
    assert not get_out_of_office(db, world.manager, actor=CONSOLE).enabled


# -- Cookie and response headers --------------------------------------------------------------


def session_cookie(response: TestResponse) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("beaconmail_session=")]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def test_session_cookie_flags(app: Flask, world: World) -> None:
    browser = PortalClient(app.test_client())
    over_https = browser.post(
        "/login",
        {"address": world.staff, "password": PASSWORD},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},  # Flask-WTF checks it on HTTPS
    )
    assert over_https.status_code == 302
    cookie = session_cookie(over_https)
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie.split("; "), (flag, cookie)
    assert "Domain=" not in cookie  # never shared with sibling hosts
    assert "max-age=31536000" in over_https.headers["Strict-Transport-Security"]
    plain = PortalClient(app.test_client())
    forged_scheme = plain.post("/login", {"address": world.staff, "password": PASSWORD}, headers={"X-Forwarded-Proto": "https"})
    assert forged_scheme.status_code == 302
    assert "HttpOnly" in session_cookie(forged_scheme) and "Secure" not in session_cookie(forged_scheme)
    assert "Strict-Transport-Security" not in forged_scheme.headers  # no proxy is configured, so none is believed


def test_every_response_carries_the_security_headers(app: Flask, db: Database, world: World, admin_token: int) -> None:
    admin = signed_in(app, world.admin)
    targets = targets_in(world.alpha, admin_token, db)
    responses = [admin.get(url(app, rule, targets)) for rule in rules(app, api=False) if "GET" in methods(rule)]
    responses += [admin.get("/no-such-page"), admin.client.post("/logout"), PortalClient(app.test_client()).get("/")]
    for response in responses:
        where = response.request.path
        policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
        assert policy["frame-ancestors"] == "'none'" and policy["script-src"] == "'self'", where
        assert policy["default-src"] == "'self'" and policy["base-uri"] == "'none'", where
        assert response.headers["X-Frame-Options"] == "DENY", where
        assert response.headers["X-Content-Type-Options"] == "nosniff", where
        if response.mimetype == "text/html":
            assert response.headers["Cache-Control"] == "no-store", where
    api = app.test_client().get("/api/v1/mailboxes", headers=bearer(db, world.admin))
    assert api.mimetype == "application/json" and api.headers["X-Content-Type-Options"] == "nosniff"
