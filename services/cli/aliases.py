"""`beaconmail alias`: aliases and catch-alls."""
from __future__ import annotations

import click

from services.cli.database import open_database
from services.cli.output import json_option, print_records
from services.cli.params import checked_alias_source, domain_filter
from shared import accounts
from shared.accounts.records import alias_record
from shared.accounts.views import CONSOLE


@click.group()
def alias() -> None:
    """Aliases and catch-alls (SOURCE `@domain`)."""


@alias.command("add")
@click.argument("source")
@click.argument("destinations", nargs=-1, required=True, metavar="DEST [DEST ...]")
def alias_add(source: str, destinations: tuple[str, ...]) -> None:
    created = accounts.create_alias(open_database(), source, destinations, actor=CONSOLE)
    click.echo(f"alias added: {created.source} -> {', '.join(created.destinations)}")


@alias.command("list")
@domain_filter
@json_option
def alias_list(domain_name: str | None, as_json: bool) -> None:
    database = open_database(hosting=domain_name)
    records = [alias_record(a) for a in accounts.list_aliases(database, domain_name, actor=CONSOLE)]
    print_records(records, ["source", "destinations"], as_json)


@alias.command("remove")
@click.argument("source", callback=checked_alias_source)
def alias_remove(source: str) -> None:
    accounts.remove_alias(open_database(), source, actor=CONSOLE)
    click.echo(f"alias removed: {source}")
