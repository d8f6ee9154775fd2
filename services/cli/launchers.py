"""`beaconmail init`, `smtp`, `pop3`, `imap`, `admin`, `web` and `up`: the schema, and the services in the foreground."""
from __future__ import annotations

import time

import click

from services.cli.output import StartupFailure
from services.cli.params import read_admin_password
from services.launch import StartupError, serve
from shared.config import hostname_warning, load_settings
from shared.mail.addresses import parse_address
from shared.storage.db import Database
from shared.storage.migrations import upgrade_to_head
from shared.storage.schema_version import ensure_at_head
from shared.storage.uidl_stamping import keep_uidls_of_old_messages


def warn_about_hostname(hostname: str) -> None:
    """Once per start: a placeholder or short host name works on a laptop and fails on the internet."""
    warning = hostname_warning(hostname)
    if warning:
        click.echo(f"beaconmail: warning: {warning}", err=True)


@click.command()
def init() -> None:
    """Create or upgrade the database schema and the data folders (safe to repeat)."""
    settings = load_settings()
    settings.mail_root.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings)
    click.echo(f"database ready: {settings.database_url.split('@')[-1]}")
    # Once per mail root, at the upgrade that brought the UIDL attribute; silent when there was nothing to do.
    kept = keep_uidls_of_old_messages(settings.mail_root)
    if kept:
        click.echo(f"uidls kept on {kept} messages")


def _serve(service: str, admin_workers: int | None = None) -> None:
    """Run one service in the foreground, after refusing a database that is not at head."""
    settings = load_settings()
    warn_about_hostname(settings.hostname)
    database = Database(settings)
    try:
        ensure_at_head(database.engine)
    finally:
        database.dispose()
    try:
        serve(service, settings, admin_workers=admin_workers)
    except StartupError as exc:
        raise StartupFailure(str(exc)) from exc


@click.command()
def smtp() -> None:
    """Run the SMTP service: MX, submission, submissions and the outbound queue."""
    _serve("smtp")


@click.command()
def pop3() -> None:
    """Run the POP3 service: STLS and implicit-TLS listeners."""
    _serve("pop3")


@click.command()
def imap() -> None:
    """Run Dovecot for IMAP (STARTTLS and implicit TLS) on our accounts and Maildirs."""
    _serve("imap")


@click.command()
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: 2 per CPU, max 4).")
def admin(workers: int | None) -> None:
    """Run the admin portal and JSON API under gunicorn."""
    _serve("admin", workers)


@click.command()
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: 2 per CPU, max 4).")
def web(workers: int | None) -> None:
    """Run the front door: the portal over HTTPS, the HTTP redirect and ACME certificates."""
    _serve("web", workers)


@click.command()
@click.option("--admin", "admin_address", metavar="ADDRESS", help="First global admin; its password from stdin.")
def up(admin_address: str | None) -> None:
    """Run smtp, pop3, imap, admin and web here (SQLite and Maildir under ./data by default) until Ctrl-C.

    From an empty folder it creates the database, a self-signed TLS pair and a first global
    admin with a generated password, printed once with the endpoints.
    """
    started = time.monotonic()
    from services.embedded import run_embedded  # the supervisor is only needed here

    password = None
    if admin_address is not None:
        admin_address = str(parse_address(admin_address))
        password = read_admin_password(admin_address)
    try:
        run_embedded(load_settings(), admin_address, password, started)
    except StartupError as exc:
        raise StartupFailure(str(exc)) from exc
