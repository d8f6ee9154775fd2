"""Fixtures of the end-to-end tests: the real clients (missing ones skip the test with the
reason shown, except under CI=true where they fail it), a loopback smarthost, and a tracker
that stops every process a test starts."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_programs

from .mailclients import CLIENTS
from .processes import ProcessTracker
from .smarthost import Collector, Smarthost


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def mail_clients() -> None:
    require_programs(*CLIENTS, install_hint="apt install swaks msmtp fetchmail mpop curl")


@pytest.fixture
def docker_compose() -> str:
    require_programs("docker-compose", install_hint="apt install docker-compose")
    return "docker-compose"


@pytest.fixture
def smarthost() -> Iterator[tuple[Collector, int]]:
    host = Smarthost()
    port = host.start()
    yield host.collector, port
    host.stop()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessTracker]:
    tracker = ProcessTracker(tmp_path / "logs")
    yield tracker
    tracker.stop_all()
