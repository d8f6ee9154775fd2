"""The docker-compose.yml topology brought up without Docker (see compose.py), driven
through the whole end-to-end flow against PostgreSQL."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared.accounts import bootstrap
from shared.accounts.views import CONSOLE
from shared.config import load_settings
from shared.storage.db import Database

from .compose import ComposeTopology, filled_env_example, resolved_config
from .flow import Deployment, run_end_to_end
from .processes import ProcessTracker
from .smarthost import Collector

ADMIN, ADMIN_PASSWORD = "postmaster@corp.test", "Compose-admin-pass-3"


def create_first_admin(database_url: str, data_dir: Path) -> None:
    """What an operator does once with `docker compose run --rm migrate beaconmail mailbox …`
    (the CLI has its own tests; here it is done in this process to keep the test quick)."""
    settings = load_settings(
        {"BEACONMAIL_DATABASE_URL": database_url, "BEACONMAIL_DATA_DIR": str(data_dir), "BEACONMAIL_SECRET_KEY": "-"}
    )
    database = Database(settings)
    try:
        bootstrap.create_first_admin(database, ADMIN, ADMIN_PASSWORD, actor=CONSOLE)
    finally:
        database.dispose()


def env_for_tests(relay_port: int) -> str:
    return filled_env_example(
        BEACONMAIL_SECRET_KEY="e2e-secret-key",
        BEACONMAIL_HOSTNAME="mail.e2e.test",
        BEACONMAIL_RELAY_HOST=f"127.0.0.1:{relay_port}",
    )


@pytest.mark.postgres
def test_end_to_end_through_the_compose_topology(
    mail_clients: None,
    docker_compose: str,
    smarthost: tuple[Collector, int],
    processes: ProcessTracker,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    collector, relay_port = smarthost
    config = resolved_config(tmp_path / "project", env_for_tests(relay_port))
    topology = ComposeTopology(config, tmp_path / "compose", postgres_url, processes)
    topology.up()
    create_first_admin(postgres_url, topology.data_dir("admin"))
    smtp_data = topology.data_dir("smtp")
    deployment = Deployment(
        admin_url=f"http://127.0.0.1:{topology.published_port(8080)}",
        database_url=postgres_url,
        admin_address=ADMIN,
        submission_port=topology.published_port(587),
        mx_port=topology.published_port(25),
        pop3_port=topology.published_port(110),
        mail_root=smtp_data / "mail",
        data_dir=smtp_data,
        ca_file=smtp_data / "tls" / "cert.pem",
    )
    run_end_to_end(deployment, collector, tmp_path)
    for service in ("smtp", "pop3", "admin"):
        assert topology.started[service].stop() == 0, topology.started[service].describe()
