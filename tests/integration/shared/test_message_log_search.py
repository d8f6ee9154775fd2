"""The message log search walks indexes chunk by chunk: following the cursors gives every
matching message once, newest first, however small the chunks and the per-page scan budget,
for each way a search is driven (key, sender, recipient, status, a manager's two streams)."""
from __future__ import annotations

import time

import pytest

from shared import accounts
from shared.accounts import message_tracking
from shared.accounts.message_tracking import LogFilters, search_messages
from shared.accounts.permissions import scope_of
from shared.accounts.views import CONSOLE, Actor
from shared.mail import message_log
from shared.storage.db import Database

DOMAINS = ("a.example", "b.example", "c.example")


def seed(db: Database) -> list[message_log.Entry]:
    entries = []
    for number in range(30):
        sender = f"s{number % 4}@{DOMAINS[number % 3]}"
        to = f"r{number % 5}@{DOMAINS[(number + 1) % 3]}"
        status = message_log.Status.BOUNCED if number % 7 == 0 else message_log.Status.DELIVERED
        entry = message_log.Entry(
            log_id=message_log.new_log_id(time.time() - 3600 + number),
            sender=sender,
            message_id=f"m{number}@x",
            size=1,
            origin=message_log.Origin("mx"),
            outcomes=(message_log.Outcome(to, status),),
        )
        message_log.record_refusal(db, entry)  # written on its own, as any entry can be
        entries.append(entry)
    return entries[::-1]  # newest first


def every_page(db: Database, actor: Actor, filters: LogFilters) -> list[str]:
    ids, cursor = [], None
    for _ in range(100):
        page = search_messages(db, actor=actor, filters=filters, cursor=cursor, limit=3)
        ids.extend(item.id for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return ids
    raise AssertionError("the cursors never ended")


@pytest.mark.parametrize("budget", [(2, 4), (1000, 20_000)])
def test_cursors_give_every_match_once_newest_first(db: Database, monkeypatch: pytest.MonkeyPatch, budget: tuple[int, int]) -> None:
    monkeypatch.setattr(message_tracking, "MAX_CHUNK", budget[0])
    monkeypatch.setattr(message_tracking, "MAX_SCANNED", budget[1])
    for domain in DOMAINS:
        accounts.create_domain(db, domain, actor=CONSOLE)
    entries = seed(db)
    manager = Actor(scope_of("boss@a.example", is_global_admin=False, managed_domains=["a.example"]))

    def expected(keep: object) -> list[str]:
        return [e.log_id for e in entries if keep(e)]  # type: ignore[operator]

    recipient = lambda e: e.outcomes[0].address  # noqa: E731
    assert every_page(db, CONSOLE, LogFilters()) == expected(lambda e: True)
    assert every_page(db, CONSOLE, LogFilters(sender="s1@b.example")) == expected(lambda e: e.sender == "s1@b.example")
    assert every_page(db, CONSOLE, LogFilters(recipient="r2@a.example")) == expected(lambda e: recipient(e) == "r2@a.example")
    assert every_page(db, CONSOLE, LogFilters(status="bounced")) == expected(
        lambda e: e.outcomes[0].status is message_log.Status.BOUNCED
    )
    in_a = lambda e: e.sender.endswith("@a.example") or recipient(e).endswith("@a.example")  # noqa: E731
    assert every_page(db, manager, LogFilters()) == expected(in_a)
    assert every_page(db, manager, LogFilters(status="delivered")) == expected(
        lambda e: in_a(e) and e.outcomes[0].status is message_log.Status.DELIVERED
    )


def test_an_idn_address_is_found_in_either_form_and_its_manager_sees_it(db: Database) -> None:
    """Paths keep the domain as the client wrote it: A-label, or Unicode with SMTPUTF8. Angle
    brackets are optional, and `<>` finds the null sender's messages."""
    written = {
        "utf8": ("anna@bücher.example", "x@müller.example"),
        "ascii": ("bob@xn--bcher-kva.example", "x@xn--mller-kva.example"),
        "null": ("", "anna@bücher.example"),
    }
    ids = {}
    for name, (sender, recipient) in written.items():
        entry = message_log.Entry(
            log_id=message_log.new_log_id(), sender=sender, message_id=f"{name}@x", size=1,
            origin=message_log.Origin("submission"), outcomes=(message_log.Outcome(recipient, message_log.Status.QUEUED),),
        )  # fmt: skip
        message_log.record_refusal(db, entry)
        ids[name] = entry.log_id
        time.sleep(0.002)

    def found(**terms: str) -> set[str]:
        return {item.id for item in search_messages(db, actor=CONSOLE, filters=LogFilters(**terms)).items}

    assert found(sender="<>") == {ids["null"]}
    for form in ("anna@bücher.example", "<ANNA@XN--BCHER-KVA.EXAMPLE>", "anna@BÜCHER.example"):
        assert found(sender=form) == {ids["utf8"]}, form
    for form in ("bob@bücher.example", "bob@xn--bcher-kva.example"):
        assert found(sender=form) == {ids["ascii"]}, form
    for form in ("x@müller.example", "x@xn--mller-kva.example"):
        assert found(recipient=form) == {ids["utf8"], ids["ascii"]}, form
    chef = Actor(scope_of("chef@xn--bcher-kva.example", is_global_admin=False, managed_domains=["xn--bcher-kva.example"]))
    assert {item.id for item in search_messages(db, actor=chef, filters=LogFilters()).items} == set(ids.values())
    assert message_tracking.get_message(db, ids["utf8"], actor=chef).sender == "anna@bücher.example"


def test_a_manager_finds_a_status_a_later_outcome_gave_outside_their_domains(db: Database) -> None:
    """The status bits skip messages: a state set after acceptance (record_outcome) must set its
    bit too, or the manager's streams would skip the message."""
    for domain in DOMAINS:
        accounts.create_domain(db, domain, actor=CONSOLE)
    Outcome, Status = message_log.Outcome, message_log.Status
    entry = message_log.Entry(
        log_id=message_log.new_log_id(),
        sender="someone@b.example",
        message_id="later@x",
        size=1,
        origin=message_log.Origin("submission"),
        outcomes=(Outcome("r@a.example", Status.DELIVERED), Outcome("far@c.example", Status.QUEUED)),
    )
    message_log.record_refusal(db, entry)
    manager = Actor(scope_of("boss@a.example", is_global_admin=False, managed_domains=["a.example"]))
    assert every_page(db, manager, LogFilters(status="failed")) == []
    with db.session.begin() as s:
        failed = Outcome("far@c.example", Status.FAILED, "550 5.1.1 gone")
        message_log.record_outcome(s, log_id=entry.log_id, sender=entry.sender, outcome=failed, attempts=1)
    assert every_page(db, manager, LogFilters(status="failed")) == [entry.log_id]
    assert every_page(db, manager, LogFilters(status="queued")) == []  # the recipients are checked still
    assert every_page(db, manager, LogFilters(status="delivered")) == [entry.log_id]
