"""Mailbox search and pages (search_mailboxes) on both databases: substring semantics through
the search indexes of migration 0005 and without them, the indexes kept in step with every
change, keyset pages in both directions, and the bounded count."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from shared.accounts import (
    create_domain,
    create_mailbox,
    mailbox_search,
    remove_domain,
    remove_mailbox,
    update_mailbox,
)
from shared.accounts.mailbox_search import search_mailboxes
from shared.accounts.permissions import Scope
from shared.accounts.views import CONSOLE, Actor
from shared.errors import NotFound
from shared.storage.db import Database
from shared.storage.models.mailbox import SEARCH_INDEXES, SEARCH_TABLE

PEOPLE = [
    ("carol@example.com", "Carol King"),
    ("al@example.com", "Al"),
    ("bob@example.net", "Bob"),
    ("zoe.king@example.net", "Zoe"),
    ("a_b@example.com", "Percent 100% Sure"),
    ("axb@example.com", "Ax B"),
    ("quote@example.net", 'The "Q" Man'),
    ("o'brien@example.net", "Back\\slash"),
]


@pytest.fixture
def people(db: Database, fast_hashing: None) -> Database:
    create_domain(db, "example.com", actor=CONSOLE)
    create_domain(db, "example.net", actor=CONSOLE)
    for address, name in PEOPLE:
        create_mailbox(db, address, "pw", name=name, actor=CONSOLE)
    return db


def found(db: Database, search: str | None = None, *, actor: Actor = CONSOLE, **options: object) -> list[str]:
    return [m.address for m in search_mailboxes(db, search=search, actor=actor, **options).mailboxes]  # type: ignore[arg-type]


def drop_search_indexes(db: Database) -> None:
    """The database as migration 0005 leaves it without pg_trgm or FTS5 trigram."""
    with db.engine.begin() as connection:
        if db.is_sqlite:
            for name in ("insert", "update", "delete"):
                connection.execute(text(f"DROP TRIGGER {SEARCH_TABLE}_{name}"))
            connection.execute(text(f"DROP TABLE {SEARCH_TABLE}"))
        else:
            for name in SEARCH_INDEXES:
                connection.execute(text(f"DROP INDEX {name}"))


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "scanning"])
def test_search_is_a_case_insensitive_substring_of_address_or_name(people: Database, indexed: bool) -> None:
    if not indexed:
        drop_search_indexes(people)
    assert found(people, "KING") == ["carol@example.com", "zoe.king@example.net"]
    assert found(people, "ol@exa") == ["carol@example.com"]
    assert found(people, "  Car ") == ["carol@example.com"]
    assert found(people, "100% s") == ["a_b@example.com"]
    assert found(people, "a_b") == ["a_b@example.com"]  # not a LIKE wildcard
    assert found(people, '"q"') == ["quote@example.net"]  # not FTS5 syntax
    assert found(people, "o'b") == ["o'brien@example.net"]  # not SQL syntax either
    assert found(people, "k\\s") == ["o'brien@example.net"]
    assert found(people, "nobody") == []
    assert found(people, "king\x00") == []


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "scanning"])
def test_a_short_term_matches_the_start_of_the_address(people: Database, indexed: bool) -> None:
    if not indexed:
        drop_search_indexes(people)
    assert found(people, "a") == ["a_b@example.com", "al@example.com", "axb@example.com"]
    assert found(people, "A_") == ["a_b@example.com"]
    assert found(people, "ar") == []  # inside "carol", but no address starts with it
    assert found(people, "%") == []
    assert found(people, "O'") == ["o'brien@example.net"]


def test_many_matches_give_the_same_rows_along_the_addresses(people: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """With many matches SQLite tests rows along the address index, a bounded way, then sorts."""
    asked = [(term, cursor) for term in ("example.", "KING", "a_b", '"q"', "100% s", "o'b", "k\\s") for cursor in ("", "b")]

    def pages() -> list[list[str]]:
        return [found(people, term, after=cursor or None, limit=2) for term, cursor in asked]

    expected = pages()
    monkeypatch.setattr(mailbox_search, "COUNT_LIMIT", 0)  # every search has "many" matches
    assert pages() == expected
    monkeypatch.setattr(mailbox_search, "WALK_LIMIT", 1)  # too short a walk to fill a page
    assert pages() == expected


def test_the_search_index_follows_every_change(people: Database) -> None:
    update_mailbox(people, "carol@example.com", name="Carol Queen", actor=CONSOLE)
    assert found(people, "king") == ["zoe.king@example.net"]
    assert found(people, "queen") == ["carol@example.com"]
    update_mailbox(people, "carol@example.com", quota_bytes=1000, actor=CONSOLE)  # not a searched column
    assert found(people, "queen") == ["carol@example.com"]
    remove_mailbox(people, "carol@example.com", actor=CONSOLE)
    assert found(people, "queen") == []
    create_mailbox(people, "carol@example.com", "pw", name="Carol Again", actor=CONSOLE)
    assert found(people, "again") == ["carol@example.com"]
    remove_domain(people, "example.net", actor=CONSOLE)  # its mailboxes go by ON DELETE CASCADE
    assert found(people, "king") == []
    assert found(people, "quote@") == []


def test_search_within_domains(people: Database) -> None:
    manager = Actor(Scope("m@example.com", domains=frozenset({"example.com"})))
    assert found(people, "king", actor=manager) == ["carol@example.com"]
    assert found(people, "king", domain="Example.NET") == ["zoe.king@example.net"]
    with pytest.raises(NotFound):  # another domain is unknown to the manager
        found(people, "king", domain="example.net", actor=manager)
    assert found(people, actor=Actor(Scope("staff@example.com"))) == []


def test_pages_go_forwards_and_backwards_from_an_address(people: Database) -> None:
    everyone = sorted(address for address, _name in PEOPLE)
    first = search_mailboxes(people, limit=3, actor=CONSOLE)
    assert [m.address for m in first.mailboxes] == everyone[:3]
    assert (first.has_previous, first.has_next) == (False, True)
    second = search_mailboxes(people, after=everyone[2], limit=3, actor=CONSOLE)
    assert [m.address for m in second.mailboxes] == everyone[3:6]
    assert (second.has_previous, second.has_next) == (True, True)
    last = search_mailboxes(people, after=everyone[5], limit=3, actor=CONSOLE)
    assert [m.address for m in last.mailboxes] == everyone[6:]
    assert (last.has_previous, last.has_next) == (True, False)
    back = search_mailboxes(people, before=everyone[3], limit=3, actor=CONSOLE)
    assert [m.address for m in back.mailboxes] == everyone[:3]
    assert (back.has_previous, back.has_next) == (False, True)
    assert [m.address for m in search_mailboxes(people, before=everyone[5], limit=3, actor=CONSOLE).mailboxes] == everyone[2:5]
    skipped = search_mailboxes(people, offset=1, limit=2, actor=CONSOLE)
    assert [m.address for m in skipped.mailboxes] == everyone[1:3] and skipped.has_previous
    assert found(people, "example.net", after="o'brien@example.net") == ["quote@example.net", "zoe.king@example.net"]
    assert found(people, after="zzz") == [] and found(people, after="a\x00") == []


def test_matches_are_counted_up_to_a_limit(people: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    page = search_mailboxes(people, limit=2, actor=CONSOLE)
    assert (page.total, page.total_is_exact) == (len(PEOPLE), True)
    monkeypatch.setattr(mailbox_search, "COUNT_LIMIT", 5)
    page = search_mailboxes(people, limit=2, actor=CONSOLE)
    assert (page.total, page.total_is_exact, len(page.mailboxes)) == (5, False, 2)
    page = search_mailboxes(people, "example.com", limit=2, actor=CONSOLE)
    assert (page.total, page.total_is_exact) == (4, True)
    assert search_mailboxes(people, "example.com", limit=2, after="zzz", actor=CONSOLE).total == 4  # the count ignores the cursor
