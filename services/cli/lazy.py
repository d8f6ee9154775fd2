"""A click group that imports a command's module only when that command runs.

Each command module pulls in the parts of the suite it needs (SQLAlchemy, Alembic, argon2, ...):
importing all of them cost every call about a second, `beaconmail --help` included. The group
lists its commands from their one-line summaries, so listing them imports none (click's
"lazily loading subcommands" pattern; `tests/unit/test_cli_startup.py` checks that
each summary is its command's own).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (`module:attribute`) and the first line of its help."""

    location: str
    summary: str

    def load(self) -> click.Command:
        module_name, _colon, attribute = self.location.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command), self.location
        return command


class LazyGroup(click.Group):
    def __init__(self, *args: object, lazy_commands: dict[str, LazyCommand], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self.lazy_commands.get(cmd_name)
        return lazy.load() if lazy is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click.Group's listing, from the summaries: a command with only its help, shortened alike."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, click.Command(name, help=self.lazy_commands[name].summary).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
