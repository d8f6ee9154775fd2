"""IMAP logins an attacker tries: SQL in the login name, a right password on a mailbox that may
not log in, a password before TLS. Dovecot runs the SQL of shared/accounts/imap_login.py."""
from __future__ import annotations

import pytest

from shared.accounts import update_domain, update_mailbox
from shared.accounts.views import CONSOLE
from tests.integration.imap import conftest as imap_fixtures
from tests.integration.imap.conftest import ImapWorld
from tests.integration.imap.support import PASSWORD, can_login

imap_world = imap_fixtures.imap_world  # one Dovecot for this module too
pytestmark = pytest.mark.integration

# Unescaped, each would turn the WHERE into "true" for the first mailbox, whose password is PASSWORD.
INJECTIONS = ["x'OR'x'='x", "x'OR'1'='1'--@imap.example", 'x"OR"1"="1', "%Lu'OR'a'='a"]


@pytest.mark.parametrize("name", INJECTIONS)
def test_sql_in_the_login_name_logs_in_nobody(imap_world: ImapWorld, name: str) -> None:
    imap_world.new_mailbox()  # at least one mailbox with PASSWORD
    assert not can_login(imap_world.settings, name, PASSWORD)


def test_the_right_password_of_a_mailbox_that_may_not_log_in_is_refused(imap_world: ImapWorld) -> None:
    switched_off, _id = imap_world.new_mailbox()
    update_mailbox(imap_world.db, switched_off, imap_enabled=False, actor=CONSOLE)
    disabled, _id = imap_world.new_mailbox()
    update_mailbox(imap_world.db, disabled, active=False, actor=CONSOLE)
    assert not can_login(imap_world.settings, switched_off, PASSWORD)
    assert not can_login(imap_world.settings, disabled, PASSWORD)


def test_a_disabled_domain_is_refused_even_with_an_active_mailbox(imap_world: ImapWorld) -> None:
    address, _id = imap_world.new_mailbox()
    update_domain(imap_world.db, imap_world.domain, active=False, actor=CONSOLE)
    try:
        assert not can_login(imap_world.settings, address, PASSWORD)
    finally:
        update_domain(imap_world.db, imap_world.domain, active=True, actor=CONSOLE)
