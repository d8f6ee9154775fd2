"""/healthz for orchestrators, and /metrics in the Prometheus text format.

/healthz is public: it says whether the database answers, and when the served certificate
expires, who issued it and why the last attempt to renew it failed (what any client sees or
the CA said). /metrics tells how many domains, mailboxes and requests there are, so it is
served only when BEACONMAIL_METRICS_TOKEN is set, and only to a scraper that sends it as a
bearer token.
"""
from __future__ import annotations

import hmac
import threading
from collections import Counter

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    request,
)

from services.admin.portal import db, portal
from shared.accounts import reports
from shared.accounts.permissions import Scope
from shared.accounts.views import Actor
from shared.mail import rspamd
from shared.runtime.acme import certificate_status

# The metrics scraper reads the figures of every domain and changes nothing.
SCRAPER = Actor(Scope("metrics", is_global_admin=True, read_only=True))
bp = Blueprint("health", __name__)


class RequestCounter:
    """Requests answered by this process, by method and status (one counter per worker)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, int]] = Counter()

    def add(self, method: str, status: int) -> None:
        with self._lock:
            self._counts[(method, status)] += 1

    def snapshot(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._counts)


def count_requests(app: Flask) -> None:
    counter = app.extensions["beaconmail.requests"] = RequestCounter()

    @app.after_request
    def count(response: Response) -> Response:
        counter.add(request.method, response.status_code)
        return response


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    # The certificate's state does not make the service unhealthy: the last good one is served.
    certificate = certificate_status(portal().settings).as_json()
    if reports.is_database_reachable(db()):
        return jsonify(status="ok", database="ok", certificate=certificate), 200
    return jsonify(status="error", database="unreachable", certificate=certificate), 503


def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, int]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines.extend(f"{name}{labels} {value}" for labels, value in samples)
    return lines


def require_scraper() -> None:
    """404 while no metrics token is configured (as for any page that does not exist), 401 without it."""
    expected = portal().settings.metrics_token
    if expected is None:
        abort(404)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        refused = make_response("send the metrics token as 'Authorization: Bearer <token>'\n", 401)
        refused.mimetype = "text/plain"
        refused.headers["WWW-Authenticate"] = 'Bearer realm="beaconmail-metrics"'
        abort(refused)


@bp.get("/metrics")
def metrics() -> Response:
    require_scraper()
    totals = reports.totals(db(), actor=SCRAPER)
    certificate = certificate_status(portal().settings)
    lines = [
        *metric("beaconmail_domains", "gauge", "Hosted domains.", [("", totals.domains)]),
        *metric("beaconmail_domains_active", "gauge", "Hosted domains that are enabled.", [("", totals.active_domains)]),
        *metric("beaconmail_mailboxes", "gauge", "Mailboxes.", [("", totals.mailboxes)]),
        *metric("beaconmail_mailboxes_active", "gauge", "Mailboxes that are enabled.", [("", totals.active_mailboxes)]),
        *metric("beaconmail_aliases", "gauge", "Aliases, catch-alls included.", [("", totals.aliases)]),
        *metric("beaconmail_groups", "gauge", "Group mailboxes.", [("", totals.groups)]),
        *metric("beaconmail_stored_bytes", "gauge", "Bytes of mail stored.", [("", totals.used_bytes)]),
        *metric("beaconmail_stored_messages", "gauge", "Messages stored.", [("", totals.messages)]),
        *metric(
            "beaconmail_rspamd_unscanned_total",
            "counter",
            "Messages the MX accepted unscanned because rspamd could not be reached or gave no verdict in time.",
            [("", rspamd.unscanned_count(portal().settings))],
        ),
        *metric(
            "beaconmail_certificate_failures_total",
            "counter",
            "Failed attempts to obtain or renew the TLS certificate from the ACME CA.",
            [("", certificate.failures_total)],
        ),
        *metric(
            "beaconmail_certificate_expiry_timestamp_seconds",
            "gauge",
            "When the served TLS certificate expires (Unix time; 0 without one).",
            [("", int(certificate.expires_at.timestamp()) if certificate.expires_at else 0)],
        ),
        *metric(
            "beaconmail_admin_requests_total",
            "counter",
            "HTTP requests answered by this admin process.",
            [
                (f'{{method="{method}",status="{status}"}}', count)
                for (method, status), count in sorted(current_app.extensions["beaconmail.requests"].snapshot().items())
            ],
        ),
    ]
    response = make_response("\n".join(lines) + "\n")
    response.mimetype = "text/plain"
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    return response
