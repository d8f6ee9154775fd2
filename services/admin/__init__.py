"""The admin portal and JSON API: a Flask app factory, one blueprint per area."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from services.admin import (
    account,
    aliases,
    api,
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
    mailboxes,
    tokens,
    webhooks,
)
from services.admin.access import login_manager
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
from shared.config import Settings, load_settings
from shared.runtime.throttle import LoginThrottle
from shared.storage.db import Database, open_database

SESSION_HOURS = 8
BLUEPRINTS = (
    auth.bp,
    language.bp,
    dashboard.bp,
    domains.bp,
    mailboxes.bp,
    aliases.bp,
    groups.bp,
    audit.bp,
    account.bp,
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
        PERMANENT_SESSION_LIFETIME=SESSION_HOURS * 3600,
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
        WTF_CSRF_CHECK_DEFAULT=False,
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        JSON_SORT_KEYS=False,
    )
    app.extensions["beaconmail"] = Portal(
        settings=settings,
        db=database or open_database(settings),
        throttle=LoginThrottle(settings),
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
    app.after_request(add_security_headers)
    register_error_pages(app)
    register_filters(app)
    health.count_requests(app)
    return app
