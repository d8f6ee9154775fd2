"""`beaconmail mailbox app-password`: generated passwords for SMTP, POP3 and IMAP clients."""
from __future__ import annotations

import click

from services.cli.database import open_database
from services.cli.output import json_option, print_records
from services.cli.params import checked_address
from shared.accounts import app_passwords
from shared.accounts.records import APP_PASSWORD_KEYS, app_password_record
from shared.accounts.views import CONSOLE


@click.group("app-password")
def app_password() -> None:
    """App passwords: each logs in to the protocols it names (smtp, pop3, imap), never the portal."""


@app_password.command("add")
@click.argument("address", callback=checked_address)
@click.option("--name", required=True, help="What it is for (a device or program), shown in lists and the audit log.")
@click.option(
    "--protocol", "protocols", multiple=True, type=click.Choice(app_passwords.PROTOCOLS),
    help="A protocol it may log in to (repeat; default: all three).",
)
@click.option("--expires", type=click.IntRange(min=1, max=app_passwords.MAX_DAYS), default=None, metavar="DAYS",
              help="Expire after DAYS days (default: never).")
def app_password_add(address: str, name: str, protocols: tuple[str, ...], expires: int | None) -> None:
    """Make one. The password is printed alone on stdout, once: only a hash is kept."""
    issued = app_passwords.create_app_password(
        open_database(), address, name=name, protocols=protocols, expires_days=expires, actor=CONSOLE
    )
    click.echo(issued.password)


@app_password.command("list")
@click.argument("address", callback=checked_address)
@json_option
def app_password_list(address: str, as_json: bool) -> None:
    records = [app_password_record(view) for view in app_passwords.list_app_passwords(open_database(), address, actor=CONSOLE)]
    if not as_json:  # plain text spells out what no expiry and no use mean
        records = [r | {"expires_at": r["expires_at"] or "never", "last_used_at": r["last_used_at"] or "never",
                        "last_used_from": r["last_used_from"] or "-"} for r in records]
    print_records(records, APP_PASSWORD_KEYS, as_json)


@app_password.command("revoke")
@click.argument("address", callback=checked_address)
@click.argument("app_password_id", metavar="ID", type=int)
def app_password_revoke(address: str, app_password_id: int) -> None:
    """Delete one: the next login with it is refused."""
    app_passwords.revoke_app_password(open_database(), address, app_password_id, actor=CONSOLE)
    click.echo(f"app password revoked: {app_password_id}")
