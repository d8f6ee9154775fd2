"""`beaconmail mailbox`: mailboxes (user accounts), their passwords and portal roles."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from services.cli.app_passwords import app_password
from services.cli.database import open_database
from services.cli.output import json_option, print_records
from services.cli.params import (
    SIZE,
    checked_address,
    checked_domain,
    domain_filter,
    read_password,
    with_password,
)
from shared import accounts
from shared.accounts import second_factors
from shared.accounts.records import mailbox_record, pick
from shared.accounts.views import CONSOLE, MailboxView

# The roles as one list, not the API's is_global_admin and managed_domains.
MAILBOX_FIELDS = (
    "address", "name", "quota_bytes", "used_bytes", "messages", "active", "roles", "smtp_enabled", "pop3_enabled",
    "imap_enabled",
)


@click.group()
def mailbox() -> None:
    """Mailboxes (user accounts)."""


@mailbox.command("add")
@click.argument("address")
@with_password
@click.option("--quota", type=SIZE, default=None, help="Default: the domain's default mailbox quota.")
@click.option("--name", default="", help="Display name.")
def mailbox_add(address: str, password: str | None, password_stdin: bool, quota: int | None, name: str) -> None:
    secret = read_password(password, password_stdin)
    created = accounts.create_mailbox(open_database(), address, secret, quota_bytes=quota, name=name, actor=CONSOLE)
    click.echo(f"mailbox added: {created.address}")


@mailbox.command("list")
@domain_filter
@json_option
def mailbox_list(domain_name: str | None, as_json: bool) -> None:
    database = open_database(hosting=domain_name)
    records = [pick(mailbox_record(m), MAILBOX_FIELDS) for m in accounts.list_mailboxes(database, domain_name, actor=CONSOLE)]
    print_records(records, ["address", "name", "quota_bytes", "used_bytes", "messages", "active", "roles"], as_json)


@mailbox.command("passwd")
@click.argument("address", callback=checked_address)
@with_password
def mailbox_passwd(address: str, password: str | None, password_stdin: bool) -> None:
    accounts.set_password(open_database(), address, read_password(password, password_stdin), actor=CONSOLE)
    click.echo(f"password changed: {address}")


@mailbox.group("2fa")
def mailbox_2fa() -> None:
    """Second factors of the portal sign-in."""


@mailbox_2fa.command("reset")
@click.argument("address", callback=checked_address)
def mailbox_2fa_reset(address: str) -> None:
    """Remove every second factor of ADDRESS (authenticator app, passkeys, recovery codes)."""
    second_factors.remove_second_factors(open_database(), address, actor=CONSOLE)
    click.echo(f"second factors removed: {address}")


@mailbox.command("remove")
@click.argument("address", callback=checked_address)
def mailbox_remove(address: str) -> None:
    """Remove a mailbox and its stored mail."""
    accounts.remove_mailbox(open_database(), address, actor=CONSOLE)
    click.echo(f"mailbox removed: {address}")


def _role_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--domain", "domain_name", default=None, help="Manager of this domain.", callback=checked_domain)(command)
    return click.option("--global", "global_admin", is_flag=True, help="Global admin.")(command)


def _echo_roles(view: MailboxView) -> None:
    click.echo(f"roles of {view.address}: {','.join(view.roles) or 'none'}")


@mailbox.command("grant")
@click.argument("address", callback=checked_address)
@_role_options
def mailbox_grant(address: str, global_admin: bool, domain_name: str | None) -> None:
    """Give a portal role."""
    view = accounts.grant_role(open_database(), address, global_admin=global_admin, domain=domain_name, actor=CONSOLE)
    _echo_roles(view)


@mailbox.command("revoke")
@click.argument("address", callback=checked_address)
@_role_options
def mailbox_revoke(address: str, global_admin: bool, domain_name: str | None) -> None:
    """Take a portal role away."""
    view = accounts.revoke_role(open_database(), address, global_admin=global_admin, domain=domain_name, actor=CONSOLE)
    _echo_roles(view)


mailbox.add_command(app_password)
