"""`beaconmail group`: group mailboxes and who may send to them."""
from __future__ import annotations

import click

from services.cli.database import open_database
from services.cli.output import json_option, print_records
from services.cli.params import checked_address, domain_filter
from shared import accounts
from shared.accounts.records import group_record
from shared.accounts.views import CONSOLE


@click.group()
def group() -> None:
    """Group mailboxes."""


@group.command("add")
@click.argument("address")
@click.option("--member", "members", multiple=True, required=True, help="A member address (repeat).")
@click.option("--policy", type=click.Choice(["anyone", "domain", "members"]), default="anyone", help="Who may send to it.")
def group_add(address: str, members: tuple[str, ...], policy: str) -> None:
    created = accounts.create_group(open_database(), address, members, policy=policy, actor=CONSOLE)
    click.echo(f"group added: {created.address} ({len(created.members)} members, policy {created.policy})")


@group.command("list")
@domain_filter
@json_option
def group_list(domain_name: str | None, as_json: bool) -> None:
    database = open_database(hosting=domain_name)
    records = [group_record(g) for g in accounts.list_groups(database, domain_name, actor=CONSOLE)]
    print_records(records, ["address", "members", "policy"], as_json)


@group.command("remove")
@click.argument("address", callback=checked_address)
def group_remove(address: str) -> None:
    accounts.remove_group(open_database(), address, actor=CONSOLE)
    click.echo(f"group removed: {address}")
