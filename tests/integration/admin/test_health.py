"""/healthz for orchestrators (public) and /metrics for a Prometheus scraper (its token only)."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import base_settings
from cryptography import x509

from services.admin import create_app
from shared.config import Settings, load_settings
from shared.runtime.acme import acme_folder
from shared.runtime.tls import ensure_tls_pair
from shared.storage.db import Database

from .support import PortalClient, World, bearer

METRICS_TOKEN = "scrape-9f2c4e7a1b"


@pytest.fixture
def scraped(settings: Settings, db: Database) -> PortalClient:
    """A portal started with BEACONMAIL_METRICS_TOKEN set."""
    return PortalClient(create_app(dataclasses.replace(settings, metrics_token=METRICS_TOKEN), database=db).test_client())


def test_metrics_token_is_read_from_the_environment_and_kept_out_of_logs(tmp_path: Path) -> None:
    settings = load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_METRICS_TOKEN": METRICS_TOKEN})
    assert settings.metrics_token == METRICS_TOKEN and METRICS_TOKEN not in repr(settings)
    assert load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path)}).metrics_token is None


def test_health_is_public(client: PortalClient, scraped: PortalClient) -> None:
    for portal in (client, scraped):
        health = portal.get("/healthz")
        no_certificate_yet = {"expires_at": None, "issuer": None, "last_error": None}
        assert health.status_code == 200
        assert health.get_json() == {"status": "ok", "database": "ok", "certificate": no_certificate_yet}


def test_health_reports_an_unreachable_database(tmp_path: Path) -> None:
    unreachable = base_settings(tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    response = create_app(unreachable).test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "unreachable"


def test_metrics_are_not_served_without_a_configured_token(as_admin: PortalClient) -> None:
    assert as_admin.get("/metrics").status_code == 404
    assert as_admin.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_need_the_configured_token(scraped: PortalClient, db: Database, world: World) -> None:
    assert scraped.login(world.admin).status_code == 302  # a signed-in admin is not a scraper
    refusals = [
        {},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": f"Bearer {METRICS_TOKEN[:-1]}"},
        bearer(db, world.admin, read_only=False),  # an API token is not the metrics token
    ]
    for headers in refusals:
        refused = scraped.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"].startswith("Bearer") and "beaconmail_" not in refused.get_data(as_text=True)


def test_metrics_for_the_scraper(scraped: PortalClient, world: World) -> None:
    scraped.get("/login")
    metrics = scraped.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = metrics.get_data(as_text=True)
    assert "beaconmail_mailboxes 4\n" in text and "beaconmail_domains 2\n" in text
    assert 'beaconmail_admin_requests_total{method="GET",status="200"}' in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.split(" ")) == 2, line


def record_a_failure(settings: Settings) -> str:
    """What the ACME thread leaves after a failed renewal: the served pair, and status.json."""
    ensure_tls_pair(settings)
    error = "Authorization for autoconfig.corp.test failed: could not resolve"
    folder = acme_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "status.json").write_text(json.dumps({"last_error": error, "consecutive_failures": 3, "failures_total": 7}))
    return error


def test_health_and_metrics_show_the_certificate_and_its_failures(scraped: PortalClient, settings: Settings) -> None:
    error = record_a_failure(settings)
    served = x509.load_pem_x509_certificate(ensure_tls_pair(settings)[0].read_bytes())
    certificate = scraped.get("/healthz").get_json()["certificate"]
    assert certificate == {
        "expires_at": served.not_valid_after_utc.isoformat(),
        "issuer": f"CN={settings.hostname}",
        "last_error": error,
    }
    metrics = scraped.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    assert "\nbeaconmail_certificate_failures_total 7\n" in metrics
    assert f"\nbeaconmail_certificate_expiry_timestamp_seconds {int(served.not_valid_after_utc.timestamp())}\n" in metrics


def test_the_dashboard_shows_the_certificate_to_global_admins_only(
    client_factory: Callable[[], PortalClient], settings: Settings, world: World
) -> None:
    error = record_a_failure(settings)
    admin, manager = client_factory(), client_factory()
    admin.login(world.admin)
    manager.login(world.manager)
    page = admin.get("/").get_data(as_text=True)
    assert 'id="certificate-issuer"' in page and settings.hostname in page
    assert 'id="certificate-error"' in page and "Attempts so far: 3" in page and error in page
    assert "certificate" not in manager.get("/").get_data(as_text=True)
