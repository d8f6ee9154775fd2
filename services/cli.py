"""The `beaconmail` command: provisioning through shared, and the service launchers.

Its commands, arguments and output are a contract that scripts and tests rely on.
Every failure prints one line on stderr and exits non-zero.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from services.launch import StartupError, serve
from shared import accounts
from shared.accounts import tokens as api_tokens
from shared.accounts.tokens import TokenView
from shared.accounts.views import CONSOLE, DomainView, MailboxView
from shared.config import ConfigError, Settings, load_settings, parse_size
from shared.errors import BeaconError
from shared.mail.addresses import parse_address
from shared.mail.quota import recalc_quota
from shared.storage.db import Database
from shared.storage.migrations import SchemaNotReady, ensure_at_head, upgrade_to_head

EXIT_FAILURE = 1
EXIT_STARTUP = 2


class Size(click.ParamType):
    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SIZE = Size()


def _settings() -> Settings:
    return load_settings()


def _database() -> Database:
    database = Database(_settings())
    ensure_at_head(database.engine)
    return database


def _print_records(records: Sequence[dict[str, Any]], columns: Iterable[str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(list(records), ensure_ascii=False, indent=None))
        return
    names = list(columns)
    for record in records:
        click.echo("\t".join(_cell(record[name]) for name in names))


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def _password(password: str | None, from_stdin: bool) -> str:
    if (password is None) == (not from_stdin):
        raise click.UsageError("give exactly one of --password or --password-stdin")
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.UsageError("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    assert password is not None
    return password


json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON array of objects.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Beacon Mail: provision domains, mailboxes, aliases and groups; run the services."""


@cli.command()
def init() -> None:
    """Create or upgrade the database schema and the data folders (safe to repeat)."""
    settings = _settings()
    settings.mail_root.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings)
    click.echo(f"database ready: {settings.database_url.split('@')[-1]}")


@cli.group()
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
        _database(),
        name,
        max_mailboxes=max_mailboxes,
        max_aliases=max_aliases,
        quota_bytes=quota,
        default_mailbox_quota=default_mailbox_quota,
        actor=CONSOLE,
    )
    click.echo(f"domain added: {created.name}")


def _domain_record(view: DomainView) -> dict[str, Any]:
    return asdict(view) | {"alias_domains": list(view.alias_domains)}


@domain.command("list")
@json_option
def domain_list(as_json: bool) -> None:
    records = [_domain_record(d) for d in accounts.list_domains(_database(), actor=CONSOLE)]
    _print_records(records, ["name", "active", "max_mailboxes", "max_aliases", "quota_bytes", "mailboxes"], as_json)


@domain.command("remove")
@click.argument("name")
def domain_remove(name: str) -> None:
    """Remove a domain with its mailboxes, aliases, groups and stored mail."""
    accounts.remove_domain(_database(), name, actor=CONSOLE)
    click.echo(f"domain removed: {name}")


@domain.command("alias-add")
@click.argument("alias_name")
@click.argument("target")
def domain_alias_add(alias_name: str, target: str) -> None:
    """Make ALIAS_NAME another name of the hosted domain TARGET."""
    accounts.add_alias_domain(_database(), alias_name, target, actor=CONSOLE)
    click.echo(f"alias domain added: {alias_name} -> {target}")


@domain.command("alias-remove")
@click.argument("alias_name")
def domain_alias_remove(alias_name: str) -> None:
    accounts.remove_alias_domain(_database(), alias_name, actor=CONSOLE)
    click.echo(f"alias domain removed: {alias_name}")


@cli.group()
def mailbox() -> None:
    """Mailboxes (user accounts)."""


password_options: list[Callable[[Any], Any]] = [
    click.option("--password", default=None, help="The password (visible in the process list; prefer stdin)."),
    click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin."),
]


def with_password(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(password_options):
        command = option(command)
    return command


@mailbox.command("add")
@click.argument("address")
@with_password
@click.option("--quota", type=SIZE, default=None, help="Default: the domain's default mailbox quota.")
@click.option("--name", default="", help="Display name.")
def mailbox_add(address: str, password: str | None, password_stdin: bool, quota: int | None, name: str) -> None:
    secret = _password(password, password_stdin)
    created = accounts.create_mailbox(_database(), address, secret, quota_bytes=quota, name=name, actor=CONSOLE)
    click.echo(f"mailbox added: {created.address}")


def _mailbox_record(view: MailboxView) -> dict[str, Any]:
    return view.record(
        ("address", "name", "quota_bytes", "used_bytes", "messages", "active", "roles", "smtp_enabled", "pop3_enabled")
    )


@mailbox.command("list")
@click.argument("domain_name", required=False, metavar="[DOMAIN]")
@json_option
def mailbox_list(domain_name: str | None, as_json: bool) -> None:
    database = _database()
    if domain_name is not None:
        accounts.get_domain(database, domain_name, actor=CONSOLE)
    records = [_mailbox_record(m) for m in accounts.list_mailboxes(database, domain_name, actor=CONSOLE)]
    _print_records(records, ["address", "name", "quota_bytes", "used_bytes", "messages", "active", "roles"], as_json)


@mailbox.command("passwd")
@click.argument("address")
@with_password
def mailbox_passwd(address: str, password: str | None, password_stdin: bool) -> None:
    accounts.set_password(_database(), address, _password(password, password_stdin), actor=CONSOLE)
    click.echo(f"password changed: {address}")


@mailbox.command("remove")
@click.argument("address")
def mailbox_remove(address: str) -> None:
    """Remove a mailbox and its stored mail."""
    accounts.remove_mailbox(_database(), address, actor=CONSOLE)
    click.echo(f"mailbox removed: {address}")


def _role_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--domain", "domain_name", default=None, help="Manager of this domain.")(command)
    return click.option("--global", "global_admin", is_flag=True, help="Global admin.")(command)


@mailbox.command("grant")
@click.argument("address")
@_role_options
def mailbox_grant(address: str, global_admin: bool, domain_name: str | None) -> None:
    """Give a portal role."""
    view = accounts.grant_role(_database(), address, global_admin=global_admin, domain=domain_name, actor=CONSOLE)
    click.echo(f"roles of {view.address}: {','.join(view.roles) or 'none'}")


@mailbox.command("revoke")
@click.argument("address")
@_role_options
def mailbox_revoke(address: str, global_admin: bool, domain_name: str | None) -> None:
    """Take a portal role away."""
    view = accounts.revoke_role(_database(), address, global_admin=global_admin, domain=domain_name, actor=CONSOLE)
    click.echo(f"roles of {view.address}: {','.join(view.roles) or 'none'}")


@cli.group()
def alias() -> None:
    """Aliases and catch-alls (SOURCE `@domain`)."""


@alias.command("add")
@click.argument("source")
@click.argument("destinations", nargs=-1, required=True, metavar="DEST [DEST ...]")
def alias_add(source: str, destinations: tuple[str, ...]) -> None:
    created = accounts.create_alias(_database(), source, destinations, actor=CONSOLE)
    click.echo(f"alias added: {created.source} -> {', '.join(created.destinations)}")


@alias.command("list")
@click.argument("domain_name", required=False, metavar="[DOMAIN]")
@json_option
def alias_list(domain_name: str | None, as_json: bool) -> None:
    database = _database()
    if domain_name is not None:
        accounts.get_domain(database, domain_name, actor=CONSOLE)
    records = [{"source": a.source, "destinations": list(a.destinations)} for a in accounts.list_aliases(database, domain_name, actor=CONSOLE)]
    _print_records(records, ["source", "destinations"], as_json)


@alias.command("remove")
@click.argument("source")
def alias_remove(source: str) -> None:
    accounts.remove_alias(_database(), source, actor=CONSOLE)
    click.echo(f"alias removed: {source}")


@cli.group()
def group() -> None:
    """Group mailboxes."""


@group.command("add")
@click.argument("address")
@click.option("--member", "members", multiple=True, required=True, help="A member address (repeat).")
@click.option("--policy", type=click.Choice(["anyone", "domain", "members"]), default="anyone", help="Who may send to it.")
def group_add(address: str, members: tuple[str, ...], policy: str) -> None:
    created = accounts.create_group(_database(), address, members, policy=policy, actor=CONSOLE)
    click.echo(f"group added: {created.address} ({len(created.members)} members, policy {created.policy})")


@group.command("list")
@click.argument("domain_name", required=False, metavar="[DOMAIN]")
@json_option
def group_list(domain_name: str | None, as_json: bool) -> None:
    database = _database()
    if domain_name is not None:
        accounts.get_domain(database, domain_name, actor=CONSOLE)
    records = [
        {"address": g.address, "members": list(g.members), "policy": g.policy}
        for g in accounts.list_groups(database, domain_name, actor=CONSOLE)
    ]
    _print_records(records, ["address", "members", "policy"], as_json)


@group.command("remove")
@click.argument("address")
def group_remove(address: str) -> None:
    accounts.remove_group(_database(), address, actor=CONSOLE)
    click.echo(f"group removed: {address}")


@cli.group()
def token() -> None:
    """API tokens: bearer tokens for the JSON API, acting with their owner's rights."""


@token.command("create")
@click.option("--user", "owner", required=True, metavar="ADDRESS", help="Owner: a global admin or domain manager.")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True, help="Read only, or read and write.")
@click.option("--domain", "domains", multiple=True, help="Only this domain (repeat; none = all the owner manages).")
@click.option("--name", default="cli", show_default=True, help="Label shown in token lists and the audit log.")
@click.option("--expires", type=click.IntRange(min=1), default=None, metavar="DAYS", help="Expire after DAYS days (default: never).")
def token_create(owner: str, scope: str, domains: tuple[str, ...], name: str, expires: int | None) -> None:
    """Issue a token. Its secret is printed alone on stdout, once: only a hash is stored."""
    issued = api_tokens.create_token(
        _database(),
        str(parse_address(owner)),
        name=name,
        domains=domains,
        read_only=scope == "read",
        expires_at=datetime.now(UTC) + timedelta(days=expires) if expires else None,
        actor=CONSOLE,
    )
    click.echo(issued.secret)


def _moment(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _token_record(view: TokenView) -> dict[str, Any]:
    return {
        "id": view.id,
        "owner": view.owner,
        "name": view.name,
        "prefix": view.prefix,
        "access": "read" if view.read_only else "write",
        "domains": list(view.domains),
        "expires_at": _moment(view.expires_at),
        "last_used_at": _moment(view.last_used_at),
        "created_at": _moment(view.created_at),
    }


@token.command("list")
@click.option("--user", "owner", default=None, metavar="ADDRESS", help="Only the tokens of this mailbox.")
@json_option
def token_list(owner: str | None, as_json: bool) -> None:
    database = _database()
    if owner is not None:
        owner = accounts.get_mailbox(database, owner, actor=CONSOLE).address
    records = [_token_record(view) for view in api_tokens.list_tokens(database, owner=owner, actor=CONSOLE)]
    if not as_json:  # plain text spells out what no domains and no expiry mean
        records = [r | {"domains": r["domains"] or ["*"], "expires_at": r["expires_at"] or "never"} for r in records]
    _print_records(records, ["id", "owner", "name", "prefix", "access", "domains", "expires_at"], as_json)


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
def token_revoke(token_id: int) -> None:
    api_tokens.revoke_token(_database(), token_id, actor=CONSOLE)
    click.echo(f"token revoked: {token_id}")


@cli.group()
def quota() -> None:
    """Quota counters."""


@quota.command("recalc")
@click.argument("address", required=False)
def quota_recalc(address: str | None) -> None:
    """Recount used bytes and messages from the disk; prints one line per mailbox."""
    for repair in recalc_quota(_database(), address):
        state = "fixed" if repair.changed else "ok"
        click.echo(
            f"{repair.address}\t{state}\t{repair.used_bytes_before}->{repair.used_bytes}\t"
            f"{repair.messages_before}->{repair.messages}"
        )


class StartupFailure(click.ClickException):
    """A service could not start (a port taken, an unreadable certificate): exit code 2."""

    exit_code = EXIT_STARTUP


def _serve(service: str, admin_workers: int | None = None) -> None:
    """Run one service in the foreground, after refusing a database that is not at head."""
    settings = _settings()
    database = Database(settings)
    try:
        ensure_at_head(database.engine)
    finally:
        database.dispose()
    try:
        serve(service, settings, admin_workers=admin_workers)
    except StartupError as exc:
        raise StartupFailure(str(exc)) from exc


@cli.command()
def smtp() -> None:
    """Run the SMTP service: MX, submission, submissions and the outbound queue."""
    _serve("smtp")


@cli.command()
def pop3() -> None:
    """Run the POP3 service: STLS and implicit-TLS listeners."""
    _serve("pop3")


@cli.command()
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: 2 per CPU, max 4).")
def admin(workers: int | None) -> None:
    """Run the admin portal and JSON API under gunicorn."""
    _serve("admin", workers)


def _admin_password(address: str) -> str:
    if sys.stdin.isatty():
        entered: str = click.prompt(f"Password for {address}", hide_input=True, confirmation_prompt=True)
        return entered
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.UsageError("--admin: give the password on the first line of standard input")
    return line


@cli.command()
@click.option("--admin", "admin_address", metavar="ADDRESS", help="First global admin; its password from stdin.")
def up(admin_address: str | None) -> None:
    """Run smtp, pop3 and admin here (SQLite and Maildir under ./data by default) until Ctrl-C.

    From an empty folder it creates the database, a self-signed TLS pair and a first global
    admin with a generated password, printed once with the endpoints.
    """
    started = time.monotonic()
    from services.embedded import run_embedded  # the supervisor is only needed here

    password = None
    if admin_address is not None:
        admin_address = str(parse_address(admin_address))
        password = _admin_password(admin_address)
    try:
        run_embedded(_settings(), admin_address, password, started)
    except StartupError as exc:
        raise StartupFailure(str(exc)) from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; every failure becomes one line on stderr."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="beaconmail", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("beaconmail: aborted", err=True)
        return EXIT_FAILURE
    except click.ClickException as exc:
        click.echo(f"beaconmail: {exc.format_message()}", err=True)
        return exc.exit_code if exc.exit_code else EXIT_FAILURE
    except (ConfigError, SchemaNotReady) as exc:
        click.echo(f"beaconmail: {exc}", err=True)
        return EXIT_STARTUP
    except BeaconError as exc:
        click.echo(f"beaconmail: {exc}", err=True)
        return EXIT_FAILURE
    except SQLAlchemyError as exc:
        click.echo(f"beaconmail: database error: {str(exc.orig or exc).splitlines()[0]}", err=True)
        return EXIT_STARTUP
    return 0


if __name__ == "__main__":
    sys.exit(main())
