"""`beaconmail quota`: the quota counters."""
from __future__ import annotations

import click

from services.cli.database import open_database
from shared.mail.quota import recalc_quota


@click.group()
def quota() -> None:
    """Quota counters."""


@quota.command("recalc")
@click.argument("address", required=False)
def quota_recalc(address: str | None) -> None:
    """Recount used bytes and messages from the disk; prints one line per mailbox."""
    for repair in recalc_quota(open_database(), address):
        state = "fixed" if repair.changed else "ok"
        click.echo(
            f"{repair.address}\t{state}\t{repair.used_bytes_before}->{repair.used_bytes}\t"
            f"{repair.messages_before}->{repair.messages}"
        )
