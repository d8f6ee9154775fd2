"""Guard rails of the account use cases, on both databases: destinations in a hosted domain
must exist, a domain's limits cannot drop below what it holds, and a domain may keep its
mailboxes' forwarding within hosted domains."""
from __future__ import annotations

import pytest

from shared.accounts import (
    add_alias_domain,
    create_alias,
    create_domain,
    create_group,
    create_mailbox,
    get_domain,
    grant_role,
    list_aliases,
    list_audit,
    remove_alias,
    update_alias,
    update_domain,
    update_group,
    update_mailbox,
)
from shared.accounts.forwarding import get_forwarding, set_forwarding
from shared.accounts.views import CONSOLE
from shared.errors import InvalidAddress, InvalidValue
from shared.mail.routing import resolve_recipient
from shared.storage.db import Database

pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def hosted(db: Database) -> Database:
    """acme.test with alice and bob, other.test with carol; acme.example is an alias domain of acme.test."""
    create_domain(db, "acme.test", actor=CONSOLE)
    create_domain(db, "other.test", actor=CONSOLE)
    add_alias_domain(db, "acme.example", "acme.test", actor=CONSOLE)
    for address in ("alice@acme.test", "bob@acme.test", "carol@other.test"):
        create_mailbox(db, address, "pw", actor=CONSOLE)
    return db


# -- destinations in hosted domains must exist ----------------------------------------------------


def test_an_alias_to_an_unknown_hosted_address_is_refused(hosted: Database) -> None:
    for destinations in (["nobody@acme.test"], ["alice@acme.test", "nobody@other.test"], ["nobody@acme.example"]):
        with pytest.raises(InvalidAddress, match="no mailbox, alias or group at nobody@"):
            create_alias(hosted, "sales@acme.test", destinations, actor=CONSOLE)
    assert list_aliases(hosted, actor=CONSOLE) == []
    create_alias(hosted, "sales@acme.test", ["alice@acme.test"], actor=CONSOLE)
    with pytest.raises(InvalidAddress, match="nobody@acme.test"):
        update_alias(hosted, "sales@acme.test", ["nobody@acme.test"], actor=CONSOLE)
    assert list_aliases(hosted, actor=CONSOLE)[0].destinations == ("alice@acme.test",)


def test_remote_and_resolving_destinations_are_accepted(hosted: Database) -> None:
    """Another domain's addresses are its own business; a hosted one that something answers
    for (an alias domain, a +tag, a group, a disabled mailbox, postmaster, a catch-all) passes."""
    create_group(hosted, "team@acme.test", ["bob@acme.test"], actor=CONSOLE)
    update_mailbox(hosted, "bob@acme.test", active=False, actor=CONSOLE)
    grant_role(hosted, "alice@acme.test", global_admin=True, actor=CONSOLE)  # postmaster's fallback
    destinations = [
        "partner@remote.example", "ALICE@acme.example", "alice+news@acme.test", "team@acme.test",
        "bob@acme.test", "postmaster@other.test",
    ]
    view = create_alias(hosted, "sales@acme.test", destinations, actor=CONSOLE)
    assert view.destinations[0] == "partner@remote.example"
    create_alias(hosted, "@other.test", ["carol@other.test"], actor=CONSOLE)
    assert create_alias(hosted, "anyone@acme.test", ["whoever@other.test"], actor=CONSOLE).destinations == (
        "whoever@other.test",
    )


def test_an_alias_does_not_vouch_for_its_own_destinations(hosted: Database) -> None:
    """A catch-all pointing into its own domain would answer for the address it names and loop."""
    with pytest.raises(InvalidAddress, match=r"alice\+x@acme.test"):
        set_forwarding(hosted, "alice@acme.test", ["alice+x@acme.test"], keep_copy=True, actor=CONSOLE)
    with pytest.raises(InvalidAddress, match="nobody@acme.test"):
        create_alias(hosted, "@acme.test", ["nobody@acme.test"], actor=CONSOLE)
    create_alias(hosted, "@acme.test", ["alice@acme.test"], actor=CONSOLE)
    with pytest.raises(InvalidAddress, match="nobody@acme.test"):
        update_alias(hosted, "@acme.test", ["nobody@acme.test"], actor=CONSOLE)


def test_group_members_and_forwards_to_unknown_hosted_addresses_are_refused(hosted: Database) -> None:
    with pytest.raises(InvalidAddress, match="nobody@acme.test"):
        create_group(hosted, "team@acme.test", ["alice@acme.test", "nobody@acme.test"], actor=CONSOLE)
    create_group(hosted, "team@acme.test", ["alice@acme.test", "partner@remote.example"], actor=CONSOLE)
    with pytest.raises(InvalidAddress, match="nobody@other.test"):
        update_group(hosted, "team@acme.test", members=["nobody@other.test"], actor=CONSOLE)
    with pytest.raises(InvalidAddress, match="nobody@acme.test"):  # named in its domain's own name
        set_forwarding(hosted, "alice@acme.test", ["nobody@acme.example"], keep_copy=True, actor=CONSOLE)
    assert get_forwarding(hosted, "alice@acme.test", actor=CONSOLE).destinations == ()


# -- limits ---------------------------------------------------------------------------------------


def test_a_limit_below_what_the_domain_holds_is_refused(hosted: Database) -> None:
    create_alias(hosted, "one@acme.test", ["alice@acme.test"], actor=CONSOLE)
    create_group(hosted, "two@acme.test", ["bob@acme.test"], actor=CONSOLE)
    with pytest.raises(InvalidValue, match="^acme.test holds 2 mailboxes; the limit cannot be 1$"):
        update_domain(hosted, "acme.test", max_mailboxes=1, actor=CONSOLE)
    with pytest.raises(InvalidValue, match="^acme.test holds 2 aliases and groups; the limit cannot be 1$"):
        update_domain(hosted, "acme.test", max_aliases=1, actor=CONSOLE)
    domain = get_domain(hosted, "acme.test", actor=CONSOLE)
    assert (domain.max_mailboxes, domain.max_aliases) == (0, 0)
    assert "max_mailboxes=1" not in " ".join(entry.detail for entry in list_audit(hosted, actor=CONSOLE))
    changed = update_domain(hosted, "acme.test", max_mailboxes=2, max_aliases=2, actor=CONSOLE)
    assert (changed.max_mailboxes, changed.max_aliases) == (2, 2)
    assert update_domain(hosted, "acme.test", max_mailboxes=0, actor=CONSOLE).max_mailboxes == 0  # no limit


def test_an_unchanged_limit_already_exceeded_does_not_block_other_changes(hosted: Database) -> None:
    create_alias(hosted, "one@acme.test", ["alice@acme.test"], actor=CONSOLE)
    update_domain(hosted, "acme.test", max_aliases=1, actor=CONSOLE)
    create_alias(hosted, "two@other.test", ["carol@other.test"], actor=CONSOLE)
    remove_alias(hosted, "two@other.test", actor=CONSOLE)
    update_domain(hosted, "acme.test", max_aliases=2, actor=CONSOLE)
    create_alias(hosted, "two@acme.test", ["alice@acme.test"], actor=CONSOLE)
    with pytest.raises(InvalidValue, match="holds 2 aliases and groups; the limit cannot be 1"):
        update_domain(hosted, "acme.test", max_aliases=1, actor=CONSOLE)
    assert update_domain(hosted, "acme.test", active=False, max_aliases=2, actor=CONSOLE).active is False


# -- forwarding within hosted domains -------------------------------------------------------------


def delivered_to(db: Database, address: str) -> list[str]:
    return sorted(mailbox.address for mailbox in resolve_recipient(db, address).mailboxes)


def test_forwarding_is_allowed_anywhere_by_default(hosted: Database) -> None:
    assert get_domain(hosted, "acme.test", actor=CONSOLE).forbid_external_forwarding is False
    set_forwarding(hosted, "alice@acme.test", ["out@remote.example"], keep_copy=False, actor=CONSOLE)
    assert resolve_recipient(hosted, "alice@acme.test").forwards == ("out@remote.example",)


def test_a_domain_that_forbids_it_refuses_forwards_to_other_domains(hosted: Database) -> None:
    assert update_domain(hosted, "acme.test", forbid_external_forwarding=True, actor=CONSOLE).forbid_external_forwarding
    with pytest.raises(InvalidValue, match="^acme.test does not allow forwarding to other domains: out@remote.example$"):
        set_forwarding(hosted, "alice@acme.test", ["bob@acme.test", "out@remote.example"], keep_copy=True, actor=CONSOLE)
    assert get_forwarding(hosted, "alice@acme.test", actor=CONSOLE).destinations == ()
    view = set_forwarding(hosted, "alice@acme.test", ["bob@acme.example", "carol@other.test"], keep_copy=False, actor=CONSOLE)
    assert view.destinations == ("bob@acme.test", "carol@other.test")  # hosted domains stay allowed
    assert delivered_to(hosted, "alice@acme.test") == ["bob@acme.test", "carol@other.test"]
    set_forwarding(hosted, "carol@other.test", ["out@remote.example"], keep_copy=True, actor=CONSOLE)  # its own rule


def test_saved_outside_forwards_stop_and_their_mail_stays_in_the_mailbox(hosted: Database) -> None:
    set_forwarding(hosted, "alice@acme.test", ["out@remote.example"], keep_copy=False, actor=CONSOLE)
    set_forwarding(hosted, "bob@acme.test", ["out@remote.example", "carol@other.test"], keep_copy=False, actor=CONSOLE)
    update_domain(hosted, "acme.test", forbid_external_forwarding=True, actor=CONSOLE)
    alice = resolve_recipient(hosted, "alice@acme.test")
    assert alice.forwards == () and delivered_to(hosted, "alice@acme.test") == ["alice@acme.test"]  # nothing lost
    bob = resolve_recipient(hosted, "bob@acme.test")
    assert bob.forwards == () and delivered_to(hosted, "bob@acme.test") == ["carol@other.test"]  # the hosted forward holds
    assert get_forwarding(hosted, "alice@acme.test", actor=CONSOLE).destinations == ("out@remote.example",)  # kept, unused
    update_domain(hosted, "acme.test", forbid_external_forwarding=False, actor=CONSOLE)
    assert resolve_recipient(hosted, "alice@acme.test").forwards == ("out@remote.example",)


def test_aliases_and_groups_are_not_governed_by_the_switch(hosted: Database) -> None:
    update_domain(hosted, "acme.test", forbid_external_forwarding=True, actor=CONSOLE)
    create_alias(hosted, "sales@acme.test", ["partner@remote.example"], actor=CONSOLE)
    create_group(hosted, "team@acme.test", ["alice@acme.test", "partner@remote.example"], actor=CONSOLE)
    assert resolve_recipient(hosted, "sales@acme.test").forwards == ("partner@remote.example",)
    assert resolve_recipient(hosted, "team@acme.test").forwards == ("partner@remote.example",)
    assert "forbid_external_forwarding=True" in list_audit(hosted, actor=CONSOLE, action="domain.update")[0].detail
