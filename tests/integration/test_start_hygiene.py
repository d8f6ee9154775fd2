"""What a start leaves and says: the SQLite database readable by its owner only (it holds the
password hashes), and one clear warning for a placeholder or unqualified host name."""
from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.config import load_settings
from shared.storage.db import Database
from tests.e2e.processes import environment_without_beaconmail


def test_a_new_sqlite_database_and_its_journal_are_private(tmp_path: Path) -> None:
    settings = load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_SECRET_KEY": "k"})
    database = Database(settings)
    try:
        with database.engine.begin() as connection:
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
        made = sorted(tmp_path.glob("beaconmail.db*"))
        assert made and {path.name: stat.S_IMODE(path.stat().st_mode) for path in made} == {
            path.name: 0o600 for path in made
        }
    finally:
        database.dispose()


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    existing = tmp_path / "beaconmail.db"
    existing.touch(mode=0o640)
    existing.chmod(0o640)
    Database(load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_SECRET_KEY": "k"})).dispose()
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640


@pytest.mark.parametrize(("hostname", "said"), [("mail.example.com", "the example"), ("mailhost", "not a fully qualified")])
def test_a_service_started_with_a_placeholder_host_name_warns_once(tmp_path: Path, hostname: str, said: str) -> None:
    # An empty database: the start stops at the schema check, after the warning.
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "smtp"], cwd=Path(__file__).resolve().parents[2], capture_output=True,
        text=True, timeout=60,
        env=environment_without_beaconmail(BEACONMAIL_DATA_DIR=str(tmp_path), BEACONMAIL_HOSTNAME=hostname),
    )
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and said in warnings[0] and "BEACONMAIL_HOSTNAME" in warnings[0], result.stderr
    assert result.returncode == 2
