"""`beaconmail suppression`: the sending domains' suppression lists (list; remove an entry,
audited as made by "cli")."""
from __future__ import annotations

import click

from services.cli.database import open_database
from services.cli.output import json_option, print_records
from shared.accounts import suppressions
from shared.accounts.records import suppression_record
from shared.accounts.views import CONSOLE

COLUMNS = ("domain", "address", "created_at", "expires_at", "reason")


@click.group("suppression")
def suppression() -> None:
    """Suppression lists: addresses a domain sends nothing to after a hard bounce."""


@suppression.command("list")
@click.option("--domain", help="Only this sending domain's entries.")
@click.option("--limit", type=click.IntRange(1, suppressions.MAX_PAGE), default=50, show_default=True)
@json_option
def suppression_list(domain: str | None, limit: int, as_json: bool) -> None:
    """Newest first: domain, address, since, until, the remote reply."""
    page = suppressions.list_suppressions(open_database(), actor=CONSOLE, domain=domain, limit=limit)
    print_records([suppression_record(item) for item in page.items], COLUMNS, as_json)


@suppression.command("remove")
@click.argument("domain")
@click.argument("address")
def suppression_remove(domain: str, address: str) -> None:
    """Send to ADDRESS from DOMAIN again."""
    suppressions.remove_suppression(open_database(), domain, address, actor=CONSOLE)
    click.echo(f"{address}\tno longer suppressed for {domain}")
