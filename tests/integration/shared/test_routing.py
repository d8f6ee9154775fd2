"""Recipient resolution and send-as rules on both databases."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from shared.accounts import (
    add_alias_domain,
    create_alias,
    create_domain,
    create_group,
    create_mailbox,
    grant_role,
    update_alias,
    update_domain,
    update_group,
    update_mailbox,
)
from shared.accounts.forwarding import set_forwarding
from shared.accounts.passwords import hash_password
from shared.accounts.views import CONSOLE
from shared.errors import InvalidAddress, InvalidValue
from shared.mail.addresses import parse_address
from shared.mail.routing import (
    DeliveryPlan,
    LocalMailbox,
    Refusal,
    is_hosted_domain,
    may_send_as,
    resolve_recipient,
)
from shared.storage.db import Database

pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def hosted(db: Database) -> Database:
    """example.com with alice and bob, example.net with carol; example.org is an alias of example.com."""
    create_domain(db, "example.com", actor=CONSOLE)
    create_domain(db, "example.net", actor=CONSOLE)
    add_alias_domain(db, "example.org", "example.com", actor=CONSOLE)
    for address in ("alice@example.com", "bob@example.com", "carol@example.net"):
        create_mailbox(db, address, "pw", quota_bytes=1000, actor=CONSOLE)
    return db


def delivered_to(plan: DeliveryPlan) -> list[str]:
    return sorted(mailbox.address for mailbox in plan.mailboxes)


def test_mailbox(hosted: Database) -> None:
    plan = resolve_recipient(hosted, "Alice@Example.COM")
    assert plan.deliverable and plan.refusal is None
    assert plan.address == "alice@example.com" and plan.forwards == ()
    (mailbox,) = plan.mailboxes
    assert (mailbox.address, mailbox.quota_bytes, mailbox.used_bytes) == ("alice@example.com", 1000, 0)
    assert mailbox.has_room(1000) and not mailbox.has_room(1001)
    assert LocalMailbox(1, "x@example.com", 0, 10**12).has_room(10**9)
    assert resolve_recipient(hosted, parse_address("bob@example.com")).mailboxes[0].address == "bob@example.com"


def test_unknown_user_and_unhosted_domain(hosted: Database) -> None:
    assert resolve_recipient(hosted, "nobody@example.com").refusal is Refusal.NO_SUCH_USER
    assert not resolve_recipient(hosted, "nobody@example.com").deliverable
    assert resolve_recipient(hosted, "alice@elsewhere.example").refusal is Refusal.NOT_HOSTED
    with pytest.raises(InvalidAddress):
        resolve_recipient(hosted, "not an address")
    assert is_hosted_domain(hosted, "example.org") and is_hosted_domain(hosted, "example.net")
    assert not is_hosted_domain(hosted, "elsewhere.example")


def test_aliases_expand_recursively_to_mailboxes_and_forwards(hosted: Database) -> None:
    create_alias(hosted, "boss@example.net", ["carol@example.net", "partner@elsewhere.example", "ALICE@example.org"], actor=CONSOLE)
    create_alias(hosted, "sales@example.com", ["alice@example.com", "boss@example.net"], actor=CONSOLE)
    create_alias(hosted, "team@example.com", ["sales@example.com", "bob@example.com"], actor=CONSOLE)
    plan = resolve_recipient(hosted, "team@example.com")
    assert delivered_to(plan) == ["alice@example.com", "bob@example.com", "carol@example.net"]
    assert plan.forwards == ("partner@elsewhere.example",)


def test_alias_to_external_only_is_deliverable(hosted: Database) -> None:
    create_alias(hosted, "fwd@example.com", ["someone@elsewhere.example"], actor=CONSOLE)
    plan = resolve_recipient(hosted, "fwd@example.com")
    assert plan.deliverable and plan.mailboxes == () and plan.forwards == ("someone@elsewhere.example",)


def test_alias_loops_are_refused_when_saved(hosted: Database) -> None:
    # Destinations must exist, so a loop can only be closed by a change.
    create_alias(hosted, "c@example.com", ["alice@example.com"], actor=CONSOLE)
    create_alias(hosted, "b@example.com", ["c@example.com"], actor=CONSOLE)
    create_alias(hosted, "a@example.com", ["b@example.com"], actor=CONSOLE)
    with pytest.raises(InvalidValue):
        update_alias(hosted, "c@example.com", ["alice@example.com", "a@example.com"], actor=CONSOLE)
    with pytest.raises(InvalidValue):
        update_alias(hosted, "c@example.com", ["a@example.com"], actor=CONSOLE)
    create_group(hosted, "g@example.com", ["bob@example.com"], actor=CONSOLE)
    create_alias(hosted, "h@example.com", ["g@example.com"], actor=CONSOLE)
    with pytest.raises(InvalidValue):
        update_group(hosted, "g@example.com", members=["bob@example.com", "h@example.com"], actor=CONSOLE)
    with pytest.raises(InvalidValue):
        update_group(hosted, "g@example.com", members=["h@example.com"], actor=CONSOLE)
    assert delivered_to(resolve_recipient(hosted, "a@example.com")) == ["alice@example.com"]


def test_loop_through_an_alias_domain_is_survived(hosted: Database) -> None:
    """Saving checks exact addresses; resolution still stops on a loop it meets through an alias domain."""
    create_alias(hosted, "pong@example.com", ["alice@example.com"], actor=CONSOLE)
    create_alias(hosted, "ping@example.com", ["pong@example.org"], actor=CONSOLE)
    update_alias(hosted, "pong@example.com", ["ping@example.org"], actor=CONSOLE)
    plan = resolve_recipient(hosted, "ping@example.com")
    assert plan.refusal is Refusal.LOOP and not plan.deliverable


@pytest.fixture
def shallow(hosted: Database) -> Iterator[Database]:
    """The same database with an alias depth limit of 3."""
    database = Database(dataclasses.replace(hosted.settings, alias_depth_limit=3))
    yield database
    database.dispose()


def test_chains_up_to_the_depth_limit_deliver(shallow: Database) -> None:
    create_alias(shallow, "hop3@example.com", ["alice@example.com"], actor=CONSOLE)
    create_alias(shallow, "hop2@example.com", ["hop3@example.com"], actor=CONSOLE)
    create_alias(shallow, "hop1@example.com", ["hop2@example.com"], actor=CONSOLE)
    assert delivered_to(resolve_recipient(shallow, "hop1@example.com")) == ["alice@example.com"]
    with pytest.raises(InvalidValue):
        create_alias(shallow, "hop0@example.com", ["hop1@example.com"], actor=CONSOLE)


def test_chains_beyond_the_depth_limit_are_refused(shallow: Database) -> None:
    # Linked from the front, each save only sees a short chain; resolution must still stop.
    for n in range(6):
        create_alias(shallow, f"deep{n}@example.com", ["alice@example.com"], actor=CONSOLE)
    for n in range(5):
        update_alias(shallow, f"deep{n}@example.com", [f"deep{n + 1}@example.com"], actor=CONSOLE)
    plan = resolve_recipient(shallow, "deep0@example.com")
    assert plan.refusal is Refusal.LOOP and plan.mailboxes == ()
    assert delivered_to(resolve_recipient(shallow, "deep3@example.com")) == ["alice@example.com"]


def test_explicit_addresses_win_over_the_catch_all(hosted: Database) -> None:
    create_mailbox(hosted, "catcher@example.com", "pw", actor=CONSOLE)
    create_alias(hosted, "@example.com", ["catcher@example.com"], actor=CONSOLE)
    create_alias(hosted, "info@example.com", ["bob@example.com"], actor=CONSOLE)
    assert delivered_to(resolve_recipient(hosted, "alice@example.com")) == ["alice@example.com"]
    assert delivered_to(resolve_recipient(hosted, "info@example.com")) == ["bob@example.com"]
    assert delivered_to(resolve_recipient(hosted, "whoever@example.com")) == ["catcher@example.com"]
    assert delivered_to(resolve_recipient(hosted, "whoever@example.org")) == ["catcher@example.com"]
    assert delivered_to(resolve_recipient(hosted, "alice+news@example.com")) == ["alice@example.com"]
    assert resolve_recipient(hosted, "whoever@example.net").refusal is Refusal.NO_SUCH_USER


def test_plus_tag_addressing(hosted: Database) -> None:
    create_alias(hosted, "alice+special@example.com", ["bob@example.com"], actor=CONSOLE)
    assert delivered_to(resolve_recipient(hosted, "alice+news@example.com")) == ["alice@example.com"]
    assert delivered_to(resolve_recipient(hosted, "alice+a+b@example.org")) == ["alice@example.com"]
    assert delivered_to(resolve_recipient(hosted, "alice+special@example.com")) == ["bob@example.com"]
    assert resolve_recipient(hosted, "nobody+news@example.com").refusal is Refusal.NO_SUCH_USER
    assert resolve_recipient(hosted, "+alice@example.com").refusal is Refusal.NO_SUCH_USER


def test_alias_domains(hosted: Database) -> None:
    create_alias(hosted, "info@example.com", ["carol@example.net"], actor=CONSOLE)
    assert resolve_recipient(hosted, "alice@example.org").address == "alice@example.com"
    assert delivered_to(resolve_recipient(hosted, "alice@example.org")) == ["alice@example.com"]
    assert delivered_to(resolve_recipient(hosted, "info@example.org")) == ["carol@example.net"]
    assert resolve_recipient(hosted, "nobody@example.org").refusal is Refusal.NO_SUCH_USER


def test_group_with_policy_anyone(hosted: Database) -> None:
    create_group(hosted, "all@example.com", ["alice@example.com", "carol@example.net", "ext@elsewhere.example"], actor=CONSOLE)
    for sender in (None, "", "stranger@elsewhere.example", "alice@example.com"):
        plan = resolve_recipient(hosted, "all@example.com", sender=sender)
        assert delivered_to(plan) == ["alice@example.com", "carol@example.net"]
        assert plan.forwards == ("ext@elsewhere.example",)


def test_group_with_policy_domain(hosted: Database) -> None:
    create_group(hosted, "staff@example.com", ["alice@example.com"], policy="domain", actor=CONSOLE)
    assert delivered_to(resolve_recipient(hosted, "staff@example.com", sender="bob@example.com")) == ["alice@example.com"]
    for sender in ("carol@example.net", "x@elsewhere.example", None, "garbage"):
        assert resolve_recipient(hosted, "staff@example.com", sender=sender).refusal is Refusal.SENDER_NOT_ALLOWED


def test_group_with_policy_members(hosted: Database) -> None:
    create_group(hosted, "board@example.com", ["alice@example.com", "carol@example.net"], policy="members", actor=CONSOLE)
    plan = resolve_recipient(hosted, "board@example.com", sender="Carol@example.net")
    assert delivered_to(plan) == ["alice@example.com", "carol@example.net"]
    for sender in ("bob@example.com", None):
        assert resolve_recipient(hosted, "board@example.com", sender=sender).refusal is Refusal.SENDER_NOT_ALLOWED


def test_group_reached_through_an_alias_keeps_its_policy(hosted: Database) -> None:
    create_group(hosted, "board@example.com", ["alice@example.com"], policy="members", actor=CONSOLE)
    create_alias(hosted, "directors@example.com", ["board@example.com", "bob@example.com"], actor=CONSOLE)
    plan = resolve_recipient(hosted, "directors@example.com", sender="x@elsewhere.example")
    assert delivered_to(plan) == ["bob@example.com"]


def test_inactive_mailbox(hosted: Database) -> None:
    update_mailbox(hosted, "bob@example.com", active=False, actor=CONSOLE)
    create_alias(hosted, "pair@example.com", ["alice@example.com", "bob@example.com"], actor=CONSOLE)
    create_alias(hosted, "only-bob@example.com", ["bob@example.com"], actor=CONSOLE)
    assert resolve_recipient(hosted, "bob@example.com").refusal is Refusal.DISABLED
    assert delivered_to(resolve_recipient(hosted, "pair@example.com")) == ["alice@example.com"]
    assert not resolve_recipient(hosted, "only-bob@example.com").deliverable


def test_inactive_domain(hosted: Database) -> None:
    create_alias(hosted, "to-carol@example.com", ["carol@example.net", "alice@example.com"], actor=CONSOLE)
    update_domain(hosted, "example.net", active=False, actor=CONSOLE)
    assert resolve_recipient(hosted, "carol@example.net").refusal is Refusal.DISABLED
    assert delivered_to(resolve_recipient(hosted, "to-carol@example.com")) == ["alice@example.com"]
    update_domain(hosted, "example.com", active=False, actor=CONSOLE)
    assert resolve_recipient(hosted, "alice@example.org").refusal is Refusal.DISABLED


def test_postmaster_falls_back_to_managers_then_global_admins(hosted: Database) -> None:
    assert resolve_recipient(hosted, "postmaster@example.com").refusal is Refusal.NO_SUCH_USER
    grant_role(hosted, "carol@example.net", global_admin=True, actor=CONSOLE)
    assert delivered_to(resolve_recipient(hosted, "postmaster@example.com")) == ["carol@example.net"]
    grant_role(hosted, "bob@example.com", domain="example.com", actor=CONSOLE)
    grant_role(hosted, "alice@example.com", domain="example.com", actor=CONSOLE)
    assert delivered_to(resolve_recipient(hosted, "postmaster@example.org")) == ["alice@example.com", "bob@example.com"]
    update_mailbox(hosted, "alice@example.com", active=False, actor=CONSOLE)
    assert delivered_to(resolve_recipient(hosted, "postmaster@example.com")) == ["bob@example.com"]
    create_alias(hosted, "postmaster@example.com", ["carol@example.net"], actor=CONSOLE)
    assert delivered_to(resolve_recipient(hosted, "postmaster@example.com")) == ["carol@example.net"]


def test_may_send_as(hosted: Database) -> None:
    create_mailbox(hosted, "catcher@example.com", "pw", actor=CONSOLE)
    create_alias(hosted, "@example.com", ["catcher@example.com"], actor=CONSOLE)
    create_alias(hosted, "sales@example.com", ["alias-hop@example.com"], actor=CONSOLE)
    create_alias(hosted, "alias-hop@example.com", ["alice@example.com", "ext@elsewhere.example"], actor=CONSOLE)
    create_alias(hosted, "bobs@example.com", ["bob@example.com"], actor=CONSOLE)
    assert may_send_as(hosted, "alice@example.com", "Alice@example.com")
    assert may_send_as(hosted, "alice@example.com", "alice@example.org")
    assert may_send_as(hosted, "alice@example.com", "alice+tag@example.com")
    assert may_send_as(hosted, "alice@example.com", "sales@example.com")
    assert not may_send_as(hosted, "alice@example.com", "bob@example.com")
    assert not may_send_as(hosted, "alice@example.com", "bobs@example.com")
    assert not may_send_as(hosted, "alice@example.com", "carol@example.net")
    assert not may_send_as(hosted, "catcher@example.com", "anything@example.com")
    assert may_send_as(hosted, "catcher@example.com", "catcher@example.com")
    assert not may_send_as(hosted, "alice@example.com", "alice@elsewhere.example")
    assert not may_send_as(hosted, "nobody@example.com", "nobody@example.com")
    assert not may_send_as(hosted, "alice@example.com", "not an address")


def test_an_alias_owner_who_forwards_everything_may_still_send_as_the_alias(hosted: Database) -> None:
    create_alias(hosted, "sales@example.com", ["bob@example.com"], actor=CONSOLE)
    set_forwarding(hosted, "bob@example.com", ["bob@elsewhere.example"], keep_copy=False, actor=CONSOLE)
    assert delivered_to(resolve_recipient(hosted, "sales@example.com")) == []  # bob keeps no copy
    assert may_send_as(hosted, "bob@example.com", "sales@example.com")
    assert may_send_as(hosted, "bob@example.com", "bob+news@example.com")
    assert not may_send_as(hosted, "alice@example.com", "sales@example.com")


def test_may_send_as_a_group(hosted: Database) -> None:
    create_group(hosted, "open@example.com", ["carol@example.net"], actor=CONSOLE)
    create_group(hosted, "staff@example.com", ["carol@example.net"], policy="domain", actor=CONSOLE)
    create_group(hosted, "board@example.com", ["alice@example.com", "carol@example.net"], policy="members", actor=CONSOLE)
    assert may_send_as(hosted, "bob@example.com", "open@example.com")  # same domain
    assert may_send_as(hosted, "carol@example.net", "open@example.com")  # member
    assert may_send_as(hosted, "bob@example.com", "staff@example.com")
    assert not may_send_as(hosted, "carol@example.net", "staff@example.com")  # member, but other domain
    assert may_send_as(hosted, "alice@example.com", "board@example.com")
    assert may_send_as(hosted, "carol@example.net", "board@example.com")
    assert not may_send_as(hosted, "bob@example.com", "board@example.com")


Statement = tuple[str, Any]
PROBES = ("user5@example.com", "user5+tag@example.org", "team@example.com", "crew@example.com", "postmaster@example.com")


def statements_to_resolve(db: Database, address: str) -> list[Statement]:
    statements: list[Statement] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: Any, *_args: object) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert resolve_recipient(db, address).deliverable
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return statements


def add_mailboxes(db: Database, start: int, stop: int) -> None:
    stored = hash_password("pw")
    for n in range(start, stop):
        create_mailbox(db, f"user{n}@example.com", stored, password_is_hash=True, actor=CONSOLE)


def probe_world(db: Database) -> None:
    """10 mailboxes (user0 a global admin), an alias domain, an alias, a group; no domain managers."""
    create_domain(db, "example.com", actor=CONSOLE)
    add_alias_domain(db, "example.org", "example.com", actor=CONSOLE)
    add_mailboxes(db, 0, 10)
    grant_role(db, "user0@example.com", global_admin=True, actor=CONSOLE)
    create_group(db, "crew@example.com", ["user6@example.com", "user7@example.com"], actor=CONSOLE)
    create_alias(db, "team@example.com", ["user5@example.com", "crew@example.com"], actor=CONSOLE)


# Equal statement lists at 10 and at LARGE mailboxes show the cost does not depend on the count;
# LARGE stays at a few hundred because create_mailbox costs ~10 ms even with cheap hashing.
LARGE = 160


def test_resolution_cost_does_not_grow_with_the_number_of_mailboxes(db: Database) -> None:
    probe_world(db)
    small = {address: [text for text, _ in statements_to_resolve(db, address)] for address in PROBES}
    add_mailboxes(db, 10, LARGE)
    large = {address: [text for text, _ in statements_to_resolve(db, address)] for address in PROBES}
    assert large == small
    assert len(small["user5@example.com"]) <= 6
    assert max(len(statements) for statements in small.values()) <= 16  # a few per alias level, 3 levels


def test_resolution_uses_indexes_only(db: Database) -> None:
    """SQLite's plan names every table it reads without an index (PostgreSQL's planner
    prefers a scan on small tables, so its plans say nothing here)."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL scans tables this small by choice")
    probe_world(db)
    scans = []
    connection = db.engine.raw_connection()
    try:
        for address in PROBES:
            for text, parameters in statements_to_resolve(db, address):
                if text.lstrip().upper().startswith("SELECT"):
                    plan = connection.cursor().execute("EXPLAIN QUERY PLAN " + text, parameters).fetchall()
                    scans += [(address, row[3]) for row in plan if row[3].startswith("SCAN")]
    finally:
        connection.close()
    assert scans == []
