"""A mailbox's own forwarding: saving it (validation, loops, audit) and how routing follows it."""
from __future__ import annotations

import pytest

from shared.accounts import (
    add_alias_domain,
    create_alias,
    create_domain,
    create_mailbox,
    list_audit,
    remove_mailbox,
)
from shared.accounts.forwarding import ForwardingView, get_forwarding, set_forwarding
from shared.accounts.permissions import Scope
from shared.accounts.views import CONSOLE, Actor
from shared.errors import InvalidAddress, InvalidValue, NotFound
from shared.mail.routing import Refusal, resolve_recipient
from shared.storage.db import Database

pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def hosted(db: Database) -> Database:
    """example.com with alice and bob; example.org is an alias domain of example.com."""
    create_domain(db, "example.com", actor=CONSOLE)
    add_alias_domain(db, "example.org", "example.com", actor=CONSOLE)
    for address in ("alice@example.com", "bob@example.com"):
        create_mailbox(db, address, "pw", actor=CONSOLE)
    return db


def delivered_to(db: Database, address: str) -> list[str]:
    return sorted(mailbox.address for mailbox in resolve_recipient(db, address).mailboxes)


def test_no_forwarding_by_default(hosted: Database) -> None:
    assert get_forwarding(hosted, "Alice@Example.com", actor=CONSOLE) == ForwardingView("alice@example.com", (), True)
    plan = resolve_recipient(hosted, "alice@example.com")
    assert delivered_to(hosted, "alice@example.com") == ["alice@example.com"] and plan.forwards == ()


def test_keep_copy_on_delivers_to_mailbox_and_forwards(hosted: Database) -> None:
    view = set_forwarding(hosted, "alice@example.com", ["Bob@Example.ORG", " partner@Elsewhere.example "], keep_copy=True, actor=CONSOLE)
    assert view == ForwardingView("alice@example.com", ("bob@example.com", "partner@elsewhere.example"), True)
    plan = resolve_recipient(hosted, "alice@example.com")
    assert delivered_to(hosted, "alice@example.com") == ["alice@example.com", "bob@example.com"]
    assert plan.forwards == ("partner@elsewhere.example",) and plan.deliverable


def test_keep_copy_off_skips_the_mailbox(hosted: Database) -> None:
    set_forwarding(hosted, "alice@example.com", ["partner@elsewhere.example"], keep_copy=False, actor=CONSOLE)
    plan = resolve_recipient(hosted, "alice@example.com")
    assert plan.mailboxes == () and plan.forwards == ("partner@elsewhere.example",) and plan.deliverable
    assert get_forwarding(hosted, "alice@example.com", actor=CONSOLE).keep_copy is False
    set_forwarding(hosted, "alice@example.com", [], keep_copy=False, actor=CONSOLE)
    assert delivered_to(hosted, "alice@example.com") == ["alice@example.com"]


def test_forward_to_an_alias_expands_it(hosted: Database) -> None:
    create_alias(hosted, "team@example.com", ["bob@example.com", "outside@elsewhere.example"], actor=CONSOLE)
    set_forwarding(hosted, "alice@example.com", ["team@example.com"], keep_copy=False, actor=CONSOLE)
    plan = resolve_recipient(hosted, "alice@example.com")
    assert delivered_to(hosted, "alice@example.com") == ["bob@example.com"]
    assert plan.forwards == ("outside@elsewhere.example",)
    create_alias(hosted, "to-alice@example.com", ["alice@example.com"], actor=CONSOLE)
    assert delivered_to(hosted, "to-alice@example.com") == ["bob@example.com"]


def test_loops_and_own_address_are_refused(hosted: Database) -> None:
    with pytest.raises(InvalidValue, match="itself"):
        set_forwarding(hosted, "alice@example.com", ["ALICE@example.org"], keep_copy=True, actor=CONSOLE)
    set_forwarding(hosted, "alice@example.com", ["bob@example.com"], keep_copy=False, actor=CONSOLE)
    with pytest.raises(InvalidValue, match="loop"):
        set_forwarding(hosted, "bob@example.com", ["alice@example.com"], keep_copy=True, actor=CONSOLE)
    create_alias(hosted, "team@example.com", ["alice@example.com"], actor=CONSOLE)
    with pytest.raises(InvalidValue, match="loop"):
        set_forwarding(hosted, "bob@example.com", ["team@example.com"], keep_copy=True, actor=CONSOLE)
    create_alias(hosted, "bob-alias@example.com", ["bob@example.com"], actor=CONSOLE)
    with pytest.raises(InvalidValue, match="loop"):
        set_forwarding(hosted, "bob@example.com", ["bob-alias@example.com"], keep_copy=True, actor=CONSOLE)
    assert get_forwarding(hosted, "bob@example.com", actor=CONSOLE).destinations == ()
    assert resolve_recipient(hosted, "alice@example.com").refusal is None


def test_invalid_destinations_and_unknown_mailbox(hosted: Database) -> None:
    with pytest.raises(InvalidAddress, match="not an address"):
        set_forwarding(hosted, "alice@example.com", ["not an address"], keep_copy=True, actor=CONSOLE)
    with pytest.raises(NotFound):
        set_forwarding(hosted, "nobody@example.com", ["bob@example.com"], keep_copy=True, actor=CONSOLE)
    assert get_forwarding(hosted, "alice@example.com", actor=CONSOLE).destinations == ()


def test_audited_and_removed_with_the_mailbox(hosted: Database) -> None:
    set_forwarding(hosted, "alice@example.com", ["bob@example.com"], keep_copy=False, actor=Actor(Scope("admin@example.com", is_global_admin=True)))
    (entry,) = [e for e in list_audit(hosted, actor=CONSOLE) if e.action == "mailbox.forwarding"]
    assert (entry.actor, entry.target, entry.detail) == ("admin@example.com", "alice@example.com", "keep_copy=False bob@example.com")
    remove_mailbox(hosted, "alice@example.com", actor=CONSOLE)
    assert resolve_recipient(hosted, "alice@example.com").refusal is Refusal.NO_SUCH_USER
