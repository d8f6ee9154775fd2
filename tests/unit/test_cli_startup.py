"""The `beaconmail` command imports a command's module only when that command runs: `--help`
loads none of the suite's heavy libraries, and its listing is what the commands themselves say."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from services.cli import COMMANDS, cli

HEAVY = ("sqlalchemy", "alembic", "psycopg", "flask", "gunicorn", "aiosmtpd", "dkim", "dns", "argon2", "passlib", "nacl")


def imported_by(tmp_path: Path, *arguments: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `beaconmail ARGUMENTS`."""
    script = (
        "import json, sys\n"
        "from services.cli import main\n"
        f"code = main({list(arguments)!r})\n"
        "print(json.dumps([code, sorted({name.split('.')[0] for name in sys.modules})]))\n"
    )
    environ = {"BEACONMAIL_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=environ, capture_output=True, text=True, check=True)
    code, modules = json.loads(result.stdout.splitlines()[-1])
    assert code == 0, result.stderr
    return set(modules)


def test_help_imports_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    assert imported_by(tmp_path, "--help") & set(HEAVY) == set()


def test_a_bad_command_is_refused_without_them_too(tmp_path: Path) -> None:
    script = "import sys\nfrom services.cli import main\ncode = main(['domian'])\nprint(code, 'sqlalchemy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["2", "False"]
    assert result.stderr == "beaconmail: No such command 'domian'.\n"


def test_a_command_on_sqlite_loads_neither_the_services_nor_the_postgresql_driver(tmp_path: Path) -> None:
    assert imported_by(tmp_path, "init") & {"flask", "gunicorn", "aiosmtpd", "psycopg"} == set()
    assert imported_by(tmp_path, "domain", "list") & {"flask", "gunicorn", "aiosmtpd", "dkim", "psycopg"} == set()


@pytest.mark.parametrize("width", [60, 80, 200])
def test_the_listing_is_the_one_the_loaded_commands_give(width: int) -> None:
    eager = click.Group("beaconmail", commands=[cli.get_command(click.Context(cli), name) for name in COMMANDS])
    lazy_help = cli.get_help(click.Context(cli, info_name="beaconmail", terminal_width=width, max_content_width=width))
    eager_help = eager.get_help(click.Context(eager, info_name="beaconmail", terminal_width=width, max_content_width=width))
    assert lazy_help.split("Commands:")[1] == eager_help.split("Commands:")[1]


def test_every_command_is_found_under_its_name() -> None:
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.name == name
