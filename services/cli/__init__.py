"""The `beaconmail` command: provisioning through shared, and the service launchers.

Its commands, arguments and output are a contract that scripts and tests rely on.
Every failure prints one line on stderr and exits non-zero (see `output`).
"""
from __future__ import annotations

from collections.abc import Sequence

import click

from services.cli import output
from services.cli.lazy import LazyCommand, LazyGroup

COMMANDS = {
    "init": LazyCommand("services.cli.launchers:init", "Create or upgrade the database schema and the data folders (safe to repeat)."),
    "domain": LazyCommand("services.cli.domains:domain", "Hosted domains."),
    "mailbox": LazyCommand("services.cli.mailboxes:mailbox", "Mailboxes (user accounts)."),
    "alias": LazyCommand("services.cli.aliases:alias", "Aliases and catch-alls (SOURCE `@domain`)."),
    "group": LazyCommand("services.cli.groups:group", "Group mailboxes."),
    "token": LazyCommand("services.cli.tokens:token", "API tokens: bearer tokens for the JSON API, acting with their owner's rights."),
    "quota": LazyCommand("services.cli.quota:quota", "Quota counters."),
    "log": LazyCommand("services.cli.message_log:log", "The message log: every message accepted or refused, per recipient."),
    "queue": LazyCommand("services.cli.message_log:queue", "The outbound queue: recipients waiting for their next try."),
    "suppression": LazyCommand(
        "services.cli.suppressions:suppression", "Suppression lists: addresses a domain sends nothing to after a hard bounce."
    ),
    "smtp": LazyCommand("services.cli.launchers:smtp", "Run the SMTP service: MX, submission, submissions and the outbound queue."),
    "pop3": LazyCommand("services.cli.launchers:pop3", "Run the POP3 service: STLS and implicit-TLS listeners."),
    "imap": LazyCommand("services.cli.launchers:imap", "Run Dovecot for IMAP (STARTTLS and implicit TLS) on our accounts and Maildirs."),
    "admin": LazyCommand("services.cli.launchers:admin", "Run the admin portal and JSON API under gunicorn."),
    "web": LazyCommand("services.cli.launchers:web", "Run the front door: the portal over HTTPS, the HTTP redirect and ACME certificates."),
    "up": LazyCommand("services.cli.launchers:up", "Run smtp, pop3, imap, admin and web here (SQLite and Maildir under ./data by default) until Ctrl-C."),
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Beacon Mail: provision domains, mailboxes, aliases and groups; run the services."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; every failure becomes one line on stderr."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="beaconmail", standalone_mode=False)
    except Exception as exc:
        if not output.is_reported(exc):
            raise
        return output.report_failure(exc)
    return 0
