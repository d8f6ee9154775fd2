"""IMAP logins an attacker tries: SQL in the login name, a right password on a mailbox that may
not log in, a password before TLS, a known local part at a domain that is not the mailbox's.
Dovecot runs the SQL of shared/accounts/imap_login.py."""
from __future__ import annotations

import uuid

import pytest

from shared.accounts import add_alias_domain, create_domain, create_mailbox, update_domain, update_mailbox
from shared.accounts.views import CONSOLE
from tests.integration.imap import conftest as imap_fixtures
from tests.integration.imap.conftest import ImapWorld
from tests.integration.imap.support import PASSWORD, can_login, login_refused_afresh

imap_world = imap_fixtures.imap_world  # one Dovecot for this module too
pytestmark = pytest.mark.integration

# Unescaped, each would turn the WHERE into "true" for the first mailbox, whose password is PASSWORD.
# The last two aim at the local part and the domain Dovecot puts in the alias-domain lookup.
INJECTIONS = [
    "x'OR'x'='x", "x'OR'1'='1'--@imap.example", 'x"OR"1"="1', "%Lu'OR'a'='a",
    "x'||'@imap.example", "x@x'OR'1'='1",
]


@pytest.mark.parametrize("name", INJECTIONS)
def test_sql_in_the_login_name_logs_in_nobody(imap_world: ImapWorld, name: str) -> None:
    imap_world.new_mailbox()  # at least one mailbox with PASSWORD
    assert login_refused_afresh(imap_world.settings, name, PASSWORD)


def test_the_right_password_of_a_mailbox_that_may_not_log_in_is_refused(imap_world: ImapWorld) -> None:
    switched_off, _id = imap_world.new_mailbox()
    update_mailbox(imap_world.db, switched_off, imap_enabled=False, actor=CONSOLE)
    disabled, _id = imap_world.new_mailbox()
    update_mailbox(imap_world.db, disabled, active=False, actor=CONSOLE)
    assert login_refused_afresh(imap_world.settings, switched_off, PASSWORD)
    assert login_refused_afresh(imap_world.settings, disabled, PASSWORD)


def test_a_disabled_domain_is_refused_even_with_an_active_mailbox(imap_world: ImapWorld) -> None:
    address, _id = imap_world.new_mailbox()
    update_domain(imap_world.db, imap_world.domain, active=False, actor=CONSOLE)
    try:
        assert login_refused_afresh(imap_world.settings, address, PASSWORD)
    finally:
        update_domain(imap_world.db, imap_world.domain, active=True, actor=CONSOLE)


def new_domain(world: ImapWorld, *, alias_of: str | None = None) -> str:
    name = f"d{uuid.uuid4().hex[:8]}.example"
    if alias_of is None:
        create_domain(world.db, name, actor=CONSOLE)
    else:
        add_alias_domain(world.db, name, alias_of, actor=CONSOLE)
    return name


def test_a_known_local_part_at_a_domain_not_its_own_is_refused(imap_world: ImapWorld) -> None:
    """Only the alias domains of the mailbox's own domain stand for it: not an unknown domain,
    not another hosted domain, not an alias domain of another domain."""
    address, _id = imap_world.new_mailbox()
    local = address.split("@")[0]
    own_alias = new_domain(imap_world, alias_of=imap_world.domain)
    other = new_domain(imap_world)
    others_alias = new_domain(imap_world, alias_of=other)
    assert can_login(imap_world.settings, f"{local}@{own_alias}", PASSWORD)  # the rule is on
    for domain in ("unrelated.example", other, others_alias, f"x.{own_alias}", own_alias.split(".")[0]):
        assert login_refused_afresh(imap_world.settings, f"{local}@{domain}", PASSWORD), domain


def test_an_alias_domain_of_a_disabled_domain_or_of_a_disabled_mailbox_is_refused(imap_world: ImapWorld) -> None:
    domain = new_domain(imap_world)
    alias = new_domain(imap_world, alias_of=domain)
    create_mailbox(imap_world.db, f"ann@{domain}", PASSWORD, actor=CONSOLE)
    create_mailbox(imap_world.db, f"bob@{domain}", PASSWORD, actor=CONSOLE)
    assert can_login(imap_world.settings, f"ann@{alias}", PASSWORD)
    update_mailbox(imap_world.db, f"ann@{domain}", imap_enabled=False, actor=CONSOLE)
    assert login_refused_afresh(imap_world.settings, f"ann@{alias}", PASSWORD)
    assert can_login(imap_world.settings, f"bob@{alias}", PASSWORD)
    update_domain(imap_world.db, domain, active=False, actor=CONSOLE)
    assert login_refused_afresh(imap_world.settings, f"bob@{alias}", PASSWORD)
