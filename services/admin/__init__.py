"""The admin portal and JSON API: a Flask app factory, one blueprint per area."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from services.admin import (
    account,
    aliases,
    api,
    app_passwords,
    audit,
    auth,
    bulk_import,
    clientconfig,
    dashboard,
    domains,
    groups,
    health,
    junk,
    language,
    locks,
    mailboxes,
    message_log,
    password_reset,
    suppressions,
    tokens,
    two_factor,
    webhooks,
)
from services.admin.access import login_manager, require_enrolment
from services.admin.errors import register_error_pages
from services.admin.formatting import register_filters
from services.admin.language import babel
from services.admin.portal import Portal
from services.admin.security import (
    DynamicSecureSessionInterface,
    add_security_headers,
    csrf,
    protect_forms,
)
from shared.accounts import portal_sessions
from shared.config import Settings, load_settings
from shared.storage.db import Database, open_database

# The cookie lives as long as a server-side session may stay idle.
SESSION_SECONDS = int(portal_sessions.IDLE_LIMIT.total_seconds())
BLUEPRINTS = (
    auth.bp,
    language.bp,
    dashboard.bp,
    domains.bp,
    mailboxes.bp,
    aliases.bp,
    groups.bp,
    audit.bp,
    message_log.bp,
    suppressions.bp,
    account.bp,
    app_passwords.bp,
    locks.bp,
    two_factor.bp,
    password_reset.bp,
    junk.bp,
    tokens.bp,
    webhooks.bp,
    bulk_import.bp,
    clientconfig.bp,
    health.bp,
    api.bp,
)


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Flask:
    """Build the portal for `settings`; pass `database` to share an engine (tests, embedded mode)."""
    settings = settings or load_settings()
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="beaconmail_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_SECONDS,
        WTF_CSRF_TIME_LIMIT=SESSION_SECONDS,
        WTF_CSRF_CHECK_DEFAULT=False,
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        JSON_SORT_KEYS=False,
    )
    app.extensions["beaconmail"] = Portal(
        settings=settings,
        db=database or open_database(settings),
    )
    if settings.proxy_hops:
        # Only headers set by our own proxies are believed: scheme (Secure cookies), host, client IP.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.session_interface = DynamicSecureSessionInterface()
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=language.select_locale)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.before_request(protect_forms)
    app.before_request(require_enrolment)
    app.after_request(add_security_headers)
    register_error_pages(app)
    register_filters(app)
    health.count_requests(app)
    return app
