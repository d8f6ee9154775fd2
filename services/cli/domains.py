"""`beaconmail domain`: hosted domains and their alias domains."""
from __future__ import annotations

import click

from services.cli.database import open_database
from services.cli.output import json_option, print_records
from services.cli.params import SIZE, checked_domain
from shared import accounts
from shared.accounts.records import domain_record
from shared.accounts.views import CONSOLE


@click.group()
def domain() -> None:
    """Hosted domains."""


@domain.command("add")
@click.argument("name")
@click.option("--max-mailboxes", type=click.IntRange(min=0), default=0, help="0 = no limit.")
@click.option("--max-aliases", type=click.IntRange(min=0), default=0, help="0 = no limit.")
@click.option("--quota", type=SIZE, default=0, help="Total storage cap (0 = none).")
@click.option("--default-mailbox-quota", type=SIZE, default=0, help="Quota of new mailboxes (0 = none).")
def domain_add(name: str, max_mailboxes: int, max_aliases: int, quota: int, default_mailbox_quota: int) -> None:
    created = accounts.create_domain(
        open_database(),
        name,
        max_mailboxes=max_mailboxes,
        max_aliases=max_aliases,
        quota_bytes=quota,
        default_mailbox_quota=default_mailbox_quota,
        actor=CONSOLE,
    )
    click.echo(f"domain added: {created.name}")


@domain.command("list")
@json_option
def domain_list(as_json: bool) -> None:
    records = [domain_record(d) for d in accounts.list_domains(open_database(), actor=CONSOLE)]
    print_records(records, ["name", "active", "max_mailboxes", "max_aliases", "quota_bytes", "mailboxes"], as_json)


@domain.command("remove")
@click.argument("name", callback=checked_domain)
def domain_remove(name: str) -> None:
    """Remove a domain with its mailboxes, aliases, groups and stored mail."""
    accounts.remove_domain(open_database(), name, actor=CONSOLE)
    click.echo(f"domain removed: {name}")


@domain.command("alias-add")
@click.argument("alias_name", callback=checked_domain)
@click.argument("target", callback=checked_domain)
def domain_alias_add(alias_name: str, target: str) -> None:
    """Make ALIAS_NAME another name of the hosted domain TARGET."""
    accounts.add_alias_domain(open_database(), alias_name, target, actor=CONSOLE)
    click.echo(f"alias domain added: {alias_name} -> {target}")


@domain.command("alias-remove")
@click.argument("alias_name", callback=checked_domain)
def domain_alias_remove(alias_name: str) -> None:
    accounts.remove_alias_domain(open_database(), alias_name, actor=CONSOLE)
    click.echo(f"alias domain removed: {alias_name}")
