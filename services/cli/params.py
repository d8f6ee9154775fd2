"""What the commands read besides plain strings: sizes and passwords."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from shared.config import parse_size
from shared.mail.addresses import normalise_domain, parse_address, parse_alias_source
from shared.mail.sender_lists import listed_sender_key


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

password_options: list[Callable[[Any], Any]] = [
    click.option("--password", default=None, help="The password (visible in the process list; prefer stdin)."),
    click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin."),
]


def with_password(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(password_options):
        command = option(command)
    return command


def read_password(password: str | None, from_stdin: bool) -> str:
    """The password of --password or --password-stdin, exactly one of which is given."""
    if (password is None) == (not from_stdin):
        raise click.UsageError("give exactly one of --password or --password-stdin")
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.UsageError("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    assert password is not None
    return password


def read_admin_password(address: str) -> str:
    """The first admin's password: prompted twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        entered: str = click.prompt(f"Password for {address}", hide_input=True, confirmation_prompt=True)
        return entered
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.UsageError("--admin: give the password on the first line of standard input")
    return line



def _checked_by(parse: Callable[[str], object]) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A parameter callback that refuses a malformed value with its own error ("invalid
    address: ..."), rather than the use case's "unknown ...": to the use cases a malformed
    name is one that does not exist, so a changed id in the portal's URLs tells nothing."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            parse(value)
        return value

    return check


checked_address = _checked_by(parse_address)
checked_domain = _checked_by(normalise_domain)
checked_alias_source = _checked_by(parse_alias_source)
checked_sender = _checked_by(listed_sender_key)

# The optional DOMAIN of a list command; a malformed one is refused as invalid, like any other.
domain_filter = click.argument("domain_name", required=False, metavar="[DOMAIN]", callback=checked_domain)
