"""`beaconmail domain`: hosted domains and their alias domains."""
from __future__ import annotations

import click

from services.cli.database import open_database
from services.cli.output import json_option, print_records
from services.cli.params import SIZE, checked_domain, checked_sender
from shared import accounts
from shared.accounts.records import dns_check_record, domain_record, sender_record
from shared.accounts.views import CONSOLE
from shared.errors import InvalidAddress, NotFound


@click.group()
def domain() -> None:
    """Hosted domains."""


@domain.command("add")
@click.argument("name")
@click.option("--max-mailboxes", type=click.IntRange(min=0), default=0, help="0 = no limit.")
@click.option("--max-aliases", type=click.IntRange(min=0), default=0, help="0 = no limit.")
@click.option("--quota", type=SIZE, default=0, help="Total storage cap (0 = none).")
@click.option("--default-mailbox-quota", type=SIZE, default=0, help="Quota of new mailboxes (0 = none).")
@click.option("--require-2fa", is_flag=True, help="Its users must sign in to the portal with a second factor.")
def domain_add(
    name: str, max_mailboxes: int, max_aliases: int, quota: int, default_mailbox_quota: int, require_2fa: bool
) -> None:
    created = accounts.create_domain(
        open_database(),
        name,
        max_mailboxes=max_mailboxes,
        max_aliases=max_aliases,
        quota_bytes=quota,
        default_mailbox_quota=default_mailbox_quota,
        require_2fa=require_2fa,
        actor=CONSOLE,
    )
    click.echo(f"domain added: {created.name}")


@domain.command("set")
@click.argument("name", callback=checked_domain, metavar="DOMAIN")
@click.option(
    "--require-2fa/--no-require-2fa",
    default=None,
    help="Whether its users must enrol a second factor at their next portal sign-in and use it from then on.",
)
def domain_set(name: str, require_2fa: bool | None) -> None:
    """Change a setting of the hosted domain DOMAIN."""
    if require_2fa is None:
        raise click.UsageError("give --require-2fa or --no-require-2fa")
    updated = accounts.update_domain(open_database(), name, require_2fa=require_2fa, actor=CONSOLE)
    click.echo(f"two-factor sign-in {'required' if require_2fa else 'not required'}: {updated.name}")


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


@domain.command("checks")
@click.argument("name", callback=checked_domain)
@click.argument("switch", type=click.Choice(["on", "off"]))
def domain_checks(name: str, switch: str) -> None:
    """Switch the MX policy on SPF, DKIM, DMARC and own-domain forgery for NAME on or off."""
    accounts.update_domain(open_database(), name, inbound_checks=switch == "on", actor=CONSOLE)
    click.echo(f"inbound checks {switch}: {name}")


@domain.command("forwarding")
@click.argument("name", callback=checked_domain)
@click.argument("reach", type=click.Choice(["external", "internal"]))
def domain_forwarding(name: str, reach: str) -> None:
    """Let NAME's mailboxes forward to any domain (external, the default) or only to hosted
    domains (internal: saved forwards elsewhere are left unused and their mail stays in the
    mailbox). Aliases and groups are not governed by it."""
    updated = accounts.update_domain(open_database(), name, forbid_external_forwarding=reach == "internal", actor=CONSOLE)
    click.echo(f"forwarding {reach}: {updated.name}")


@domain.command("allow")
@click.argument("name", callback=checked_domain, metavar="DOMAIN")
@click.argument("sender", callback=checked_sender)
def domain_allow(name: str, sender: str) -> None:
    """Let SENDER (local@domain, or a whole domain) past the content filter's junk verdict."""
    listed = accounts.allow_sender(open_database(), name, sender, actor=CONSOLE)
    click.echo(f"sender allowed for {name}: {listed.sender}")


@domain.command("block")
@click.argument("name", callback=checked_domain, metavar="DOMAIN")
@click.argument("sender", callback=checked_sender)
def domain_block(name: str, sender: str) -> None:
    """Refuse mail from SENDER (local@domain, or a whole domain)."""
    listed = accounts.block_sender(open_database(), name, sender, actor=CONSOLE)
    click.echo(f"sender blocked for {name}: {listed.sender}")


@domain.command("unlist")
@click.argument("name", callback=checked_domain, metavar="DOMAIN")
@click.argument("sender", callback=checked_sender)
def domain_unlist(name: str, sender: str) -> None:
    """Take SENDER off the domain's allow or block list."""
    unlisted = accounts.unlist_sender(open_database(), name, sender, actor=CONSOLE)
    click.echo(f"sender unlisted for {name}: {unlisted}")


@domain.command("senders")
@click.argument("name", callback=checked_domain, metavar="DOMAIN")
@json_option
def domain_senders(name: str, as_json: bool) -> None:
    """The domain's allowed and blocked senders."""
    records = [sender_record(s) for s in accounts.list_senders(open_database(), name, actor=CONSOLE)]
    print_records(records, ["sender", "listing", "created"], as_json)


@domain.command("check")
@click.argument("name")
@json_option
def domain_check(name: str, as_json: bool) -> None:
    """Compare the DNS records of NAME with what the resolver returns: the records, then exit 0
    when all match, or one line on stderr and exit 1 when some do not."""
    try:
        checks = accounts.check_domain_dns(open_database(), name, actor=CONSOLE)
    except (InvalidAddress, NotFound) as exc:
        # Exit 1 means a record is wrong; a name that is not a hosted domain is a usage error (2).
        raise click.BadParameter(str(exc), param_hint="'NAME'") from None
    print_records([dns_check_record(check) for check in checks], ["ok", "type", "name", "expected", "found"], as_json)
    wrong = sum(not check.ok for check in checks)
    if wrong:
        raise click.ClickException(f"{wrong} of {len(checks)} DNS records of {name} do not match")
