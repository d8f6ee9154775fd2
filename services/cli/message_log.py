"""`beaconmail log` and `beaconmail queue`: the message log, and the outbound queue's waiting
recipients (retry now, or give up and bounce; both audited as made by "cli")."""
from __future__ import annotations

import click

from services.cli.database import open_database
from services.cli.output import json_option, print_records
from shared.accounts import message_tracking
from shared.accounts.records import logged_message_record, queue_record
from shared.accounts.views import CONSOLE
from shared.mail.message_log import STATUSES

LOG_COLUMNS = ("id", "created_at", "via", "sender", "recipient", "status", "reply")
QUEUE_COLUMNS = ("id", "sender", "recipient", "attempts", "next_attempt_at", "last_reply")


@click.group("log")
def log() -> None:
    """The message log: every message accepted or refused, per recipient."""


@log.command("search")
@click.option("--sender", help="Envelope sender (<> is the empty address).")
@click.option("--recipient", help="A recipient's address.")
@click.option("--message-id", help="The Message-ID header, with or without <>.")
@click.option("--status", type=click.Choice(STATUSES), help="A recipient in this state.")
@click.option("--limit", type=click.IntRange(1, message_tracking.MAX_PAGE), default=50, show_default=True)
@json_option
def log_search(
    sender: str | None, recipient: str | None, message_id: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    """Newest first. One line per recipient: id, time, way in, sender, recipient, status, last reply."""
    filters = message_tracking.LogFilters(sender=sender, recipient=recipient, message_id=message_id, status=status)
    page = message_tracking.search_messages(open_database(), actor=CONSOLE, filters=filters, limit=limit)
    records = [logged_message_record(item) for item in page.items]
    if as_json:
        print_records(records, (), as_json=True)
        return
    lines = [
        {**record, "recipient": r["address"], "status": r["status"], "reply": r["reply"] or "-"}
        for record in records
        for r in record["recipients"]
    ]
    print_records(lines, LOG_COLUMNS, as_json=False)


@click.group("queue")
def queue() -> None:
    """The outbound queue: recipients waiting for their next try."""


@queue.command("list")
@json_option
def queue_list(as_json: bool) -> None:
    """Soonest first: id, sender, recipient, tries, next try, last reply."""
    waiting = message_tracking.list_queue(open_database(), actor=CONSOLE)
    print_records([queue_record(item) for item in waiting], QUEUE_COLUMNS, as_json)


@queue.command("retry")
@click.argument("log_id", metavar="ID")
def queue_retry(log_id: str) -> None:
    """Try the message's queued recipients now (at the worker's next round)."""
    count = message_tracking.retry_queued(open_database(), log_id, actor=CONSOLE)
    click.echo(f"{log_id}\t{count} recipients due now")


@queue.command("bounce")
@click.argument("log_id", metavar="ID")
def queue_bounce(log_id: str) -> None:
    """Give up on the message's queued recipients and bounce them to the sender."""
    count = message_tracking.bounce_queued(open_database(), log_id, actor=CONSOLE)
    click.echo(f"{log_id}\t{count} recipients bounced")
