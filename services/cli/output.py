"""What the command prints: records as tab-separated lines or as one JSON array on stdout, and
every failure as one `beaconmail: ...` line on stderr with the exit code of its kind."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click

from shared.config import ConfigError
from shared.errors import BeaconError

EXIT_FAILURE = 1
EXIT_STARTUP = 2

json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON array of objects.")


def print_records(records: Sequence[dict[str, Any]], columns: Iterable[str], as_json: bool) -> None:
    """All of each record as JSON, or the named columns of each as one tab-separated line."""
    if as_json:
        click.echo(json.dumps(list(records), ensure_ascii=False, indent=None))
        return
    names = list(columns)
    for record in records:
        click.echo("\t".join(_cell(record[name]) for name in names))


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


class StartupFailure(click.ClickException):
    """A service could not start (a port taken, an unreadable certificate): exit code 2."""

    exit_code = EXIT_STARTUP


# The failures that main() reports as one line; any other exception is a bug and keeps its traceback.
REPORTED = (click.exceptions.Abort, click.ClickException, ConfigError, BeaconError)
# The database's failures, by module and class name: a command raises them only after importing
# that module, so they are looked up among the imported modules rather than imported here, which
# would load SQLAlchemy and Alembic into every command (`beaconmail --help` included).
SCHEMA_NOT_READY = ("shared.storage.schema_version", "SchemaNotReady")
DATABASE_ERROR = ("sqlalchemy.exc", "SQLAlchemyError")


def is_reported(exc: Exception) -> bool:
    """Whether main() reports `exc` as one line (else it is a bug and keeps its traceback)."""
    return isinstance(exc, REPORTED) or _is_a(exc, SCHEMA_NOT_READY) or _is_a(exc, DATABASE_ERROR)


def _is_a(exc: Exception, kind: tuple[str, str]) -> bool:
    module = sys.modules.get(kind[0])
    return module is not None and isinstance(exc, getattr(module, kind[1]))


def report_failure(exc: Exception) -> int:
    """Print a failure that `is_reported` as one line on stderr; return its exit code."""
    message, exit_code = _describe(exc)
    click.echo(f"beaconmail: {message}", err=True)
    return exit_code


def _describe(exc: Exception) -> tuple[str, int]:
    """The message and exit code of a failure; the first matching kind wins."""
    if isinstance(exc, click.exceptions.Abort):
        return "aborted", EXIT_FAILURE
    if isinstance(exc, click.ClickException):
        return exc.format_message(), exc.exit_code if exc.exit_code else EXIT_FAILURE
    if isinstance(exc, ConfigError) or _is_a(exc, SCHEMA_NOT_READY):
        return str(exc), EXIT_STARTUP
    if isinstance(exc, BeaconError):
        return str(exc), EXIT_FAILURE
    return f"database error: {str(getattr(exc, 'orig', None) or exc).splitlines()[0]}", EXIT_STARTUP
