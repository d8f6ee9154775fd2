"""What the command prints: records as tab-separated lines or as one JSON array on stdout, and
every failure as one `beaconmail: ...` line on stderr with the exit code of its kind."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from shared.config import ConfigError
from shared.errors import BeaconError
from shared.storage.migrations import SchemaNotReady

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
REPORTED = (click.exceptions.Abort, click.ClickException, ConfigError, SchemaNotReady, BeaconError, SQLAlchemyError)


def report_failure(exc: Exception) -> int:
    """Print one of the REPORTED failures as one line on stderr; return its exit code."""
    message, exit_code = _describe(exc)
    click.echo(f"beaconmail: {message}", err=True)
    return exit_code


def _describe(exc: Exception) -> tuple[str, int]:
    """The message and exit code of a failure; the first matching kind wins, as in REPORTED."""
    if isinstance(exc, click.exceptions.Abort):
        return "aborted", EXIT_FAILURE
    if isinstance(exc, click.ClickException):
        return exc.format_message(), exc.exit_code if exc.exit_code else EXIT_FAILURE
    if isinstance(exc, (ConfigError, SchemaNotReady)):
        return str(exc), EXIT_STARTUP
    if isinstance(exc, BeaconError):
        return str(exc), EXIT_FAILURE
    return f"database error: {str(getattr(exc, 'orig', None) or exc).splitlines()[0]}", EXIT_STARTUP
