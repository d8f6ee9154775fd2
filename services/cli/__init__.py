"""The `beaconmail` command: provisioning through shared, and the service launchers.

Its commands, arguments and output are a contract that scripts and tests rely on.
Every failure prints one line on stderr and exits non-zero (see `output`).
"""
from __future__ import annotations

from collections.abc import Sequence

import click

from services.cli import (
    aliases,
    domains,
    groups,
    launchers,
    mailboxes,
    output,
    quota,
    tokens,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Beacon Mail: provision domains, mailboxes, aliases and groups; run the services."""


for command in (
    launchers.init, domains.domain, mailboxes.mailbox, aliases.alias, groups.group, tokens.token, quota.quota,
    launchers.smtp, launchers.pop3, launchers.imap, launchers.admin, launchers.up,
):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; every failure becomes one line on stderr."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="beaconmail", standalone_mode=False)
    except output.REPORTED as exc:
        return output.report_failure(exc)
    return 0
