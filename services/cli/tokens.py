"""`beaconmail token`: bearer tokens for the JSON API."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from services.cli.database import open_database
from services.cli.output import json_option, print_records
from services.cli.params import checked_address
from shared import accounts
from shared.accounts import tokens as api_tokens
from shared.accounts.records import token_record
from shared.accounts.views import CONSOLE
from shared.mail.addresses import parse_address


@click.group()
def token() -> None:
    """API tokens: bearer tokens for the JSON API, acting with their owner's rights."""


@token.command("create")
@click.option("--user", "owner", required=True, metavar="ADDRESS", help="Owner: a global admin or domain manager; any mailbox for --scope send.")
@click.option(
    "--scope",
    type=click.Choice(["read", "write", "send"]),
    default="read",
    show_default=True,
    help="Read only, read and write, or send: only send mail as the owner (POST /api/v1/messages).",
)
@click.option("--domain", "domains", multiple=True, help="Only this domain (repeat; none = all the owner manages).")
@click.option("--name", default="cli", show_default=True, help="Label shown in token lists and the audit log.")
@click.option("--expires", type=click.IntRange(min=1), default=None, metavar="DAYS", help="Expire after DAYS days (default: never).")
def token_create(owner: str, scope: str, domains: tuple[str, ...], name: str, expires: int | None) -> None:
    """Issue a token. Its secret is printed alone on stdout, once: only a hash is stored."""
    issued = api_tokens.create_token(
        open_database(),
        str(parse_address(owner)),
        name=name,
        domains=domains,
        read_only=scope == "read",
        sends_mail=scope == "send",
        expires_at=datetime.now(UTC) + timedelta(days=expires) if expires else None,
        actor=CONSOLE,
    )
    click.echo(issued.secret)


@token.command("list")
@click.option("--user", "owner", default=None, metavar="ADDRESS", help="Only the tokens of this mailbox.", callback=checked_address)
@json_option
def token_list(owner: str | None, as_json: bool) -> None:
    database = open_database()
    if owner is not None:
        owner = accounts.get_mailbox(database, owner, actor=CONSOLE).address
    records = [token_record(view) for view in api_tokens.list_tokens(database, owner=owner, actor=CONSOLE)]
    if not as_json:  # plain text spells out what no domains and no expiry mean
        records = [r | {"domains": r["domains"] or ["*"], "expires_at": r["expires_at"] or "never"} for r in records]
    print_records(records, ["id", "owner", "name", "prefix", "access", "domains", "expires_at"], as_json)


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
def token_revoke(token_id: int) -> None:
    api_tokens.revoke_token(open_database(), token_id, actor=CONSOLE)
    click.echo(f"token revoked: {token_id}")
