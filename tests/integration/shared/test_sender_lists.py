"""A hosted domain's sender allow and block lists: the use cases that keep them, who may use
them, and the rule (`shared.mail.sender_lists.listings`) that picks the listing a message meets."""
from __future__ import annotations

import pytest

from shared import accounts
from shared.accounts.audit import list_audit
from shared.accounts.permissions import Scope
from shared.accounts.views import CONSOLE, Actor
from shared.errors import InvalidAddress, NotFound, PermissionDenied
from shared.mail.addresses import parse_address
from shared.mail.sender_lists import listings
from shared.storage.db import Database
from shared.storage.models import SenderListing

ALPHA, BETA = "alpha.example", "beta.example"
MANAGER = Actor(Scope("boss@alpha.example", domains=frozenset({ALPHA})), "192.0.2.9")
STAFF = Actor(Scope("staff@alpha.example"))
READER = Actor(Scope("boss@alpha.example", domains=frozenset({ALPHA}), read_only=True))


@pytest.fixture
def hosted(db: Database) -> Database:
    for name in (ALPHA, BETA):
        accounts.create_domain(db, name, actor=CONSOLE)
    return db


def domain_id(db: Database, name: str) -> int:
    return accounts.get_domain(db, name, actor=CONSOLE).id


def listed(db: Database, domain: str) -> list[tuple[str, str]]:
    return [(view.sender, view.listing) for view in accounts.list_senders(db, domain, actor=CONSOLE)]


def test_senders_are_stored_as_the_keys_the_rule_matches(hosted: Database) -> None:
    accounts.allow_sender(hosted, ALPHA, " Partner@Bücher.Example ", actor=MANAGER)
    accounts.block_sender(hosted, ALPHA, "@Spam.Example.", actor=MANAGER)
    accounts.allow_sender(hosted, ALPHA, "news.example", actor=MANAGER)
    accounts.block_sender(hosted, ALPHA, "<o'brien@pub.example>", actor=MANAGER)
    assert listed(hosted, ALPHA) == [
        ("news.example", "allow"),
        ("o'brien@pub.example", "block"),
        ("partner@xn--bcher-kva.example", "allow"),
        ("spam.example", "block"),
    ]
    decided = listings(hosted, [domain_id(hosted, ALPHA)], [parse_address("partner@bücher.example")])
    assert decided == {domain_id(hosted, ALPHA): SenderListing.ALLOW}


def test_listing_a_sender_again_replaces_its_listing(hosted: Database) -> None:
    first = accounts.allow_sender(hosted, ALPHA, "x@spam.example", actor=MANAGER)
    second = accounts.block_sender(hosted, ALPHA, "X@SPAM.example", actor=MANAGER)
    assert (first.listing, second.listing) == ("allow", "block")
    assert listed(hosted, ALPHA) == [("x@spam.example", "block")]
    assert accounts.unlist_sender(hosted, ALPHA, "x@Spam.Example", actor=MANAGER) == "x@spam.example"
    assert listed(hosted, ALPHA) == []
    with pytest.raises(NotFound, match="^sender not listed for alpha.example: x@spam.example$"):
        accounts.unlist_sender(hosted, ALPHA, "x@spam.example", actor=MANAGER)


def test_every_change_is_audited_with_who_and_where(hosted: Database) -> None:
    accounts.allow_sender(hosted, ALPHA, "a@b.example", actor=MANAGER)
    accounts.block_sender(hosted, ALPHA, "a@b.example", actor=MANAGER)
    accounts.unlist_sender(hosted, ALPHA, "a@b.example", actor=MANAGER)
    entries = [(e.action, e.target, e.domain, e.actor, e.ip) for e in list_audit(hosted, actor=MANAGER)][:3]
    who = ("boss@alpha.example", "192.0.2.9")
    assert entries == [
        ("sender.unlist", "a@b.example", ALPHA, *who),
        ("sender.block", "a@b.example", ALPHA, *who),
        ("sender.allow", "a@b.example", ALPHA, *who),
    ]


@pytest.mark.parametrize(
    ("sender", "message"),
    [
        ("*@spam.example", "no wildcards"),
        ("*.spam.example", "no wildcards"),
        ("bad\r\nRCPT TO:<x@y.example>", "control characters"),
        ("a\x00@b.example", "control characters"),
        ("a" * 300 + "@" + "b" * 30 + ".example", "longer than 320 characters"),
        ("no-domain@", "give local@domain, domain or @domain"),
        ("two words@b.example", "give local@domain, domain or @domain"),
        ("localhost", "give local@domain, domain or @domain"),
        ("", "give local@domain, domain or @domain"),
    ],
)
def test_what_is_not_a_whole_address_or_domain_is_refused(hosted: Database, sender: str, message: str) -> None:
    with pytest.raises(InvalidAddress, match=f"^invalid sender: .*{message}"):
        accounts.block_sender(hosted, ALPHA, sender, actor=MANAGER)
    assert listed(hosted, ALPHA) == []


def test_a_manager_of_another_domain_is_refused_as_if_it_did_not_exist(hosted: Database) -> None:
    accounts.block_sender(hosted, BETA, "x@spam.example", actor=CONSOLE)
    for attempt in (
        lambda: accounts.allow_sender(hosted, BETA, "x@spam.example", actor=MANAGER),
        lambda: accounts.block_sender(hosted, BETA, "y@spam.example", actor=MANAGER),
        lambda: accounts.unlist_sender(hosted, BETA, "x@spam.example", actor=MANAGER),
        lambda: accounts.list_senders(hosted, BETA, actor=MANAGER),
    ):
        with pytest.raises(NotFound, match="^unknown domain: beta.example$"):
            attempt()
    assert listed(hosted, BETA) == [("x@spam.example", "block")]


def test_staff_and_read_only_tokens_may_not_change_the_lists(hosted: Database) -> None:
    with pytest.raises(NotFound):
        accounts.allow_sender(hosted, ALPHA, "x@spam.example", actor=STAFF)
    with pytest.raises(PermissionDenied, match="^this token may only read$"):
        accounts.allow_sender(hosted, ALPHA, "x@spam.example", actor=READER)
    accounts.allow_sender(hosted, ALPHA, "x@spam.example", actor=MANAGER)
    assert [view.sender for view in accounts.list_senders(hosted, ALPHA, actor=READER)] == ["x@spam.example"]


def test_inbound_checks_are_switched_by_global_admins_only(hosted: Database) -> None:
    assert accounts.get_domain(hosted, ALPHA, actor=CONSOLE).inbound_checks is True
    assert accounts.update_domain(hosted, ALPHA, inbound_checks=False, actor=CONSOLE).inbound_checks is False
    with pytest.raises(PermissionDenied, match="^only global admins may do this$"):
        accounts.update_domain(hosted, ALPHA, inbound_checks=True, actor=MANAGER)
    assert accounts.get_domain(hosted, ALPHA, actor=CONSOLE).inbound_checks is False
    assert accounts.get_domain(hosted, BETA, actor=CONSOLE).inbound_checks is True


class TestWhichListingApplies:
    """`listings`: per sender the address beats its domain; across the envelope sender and
    `From:`, block beats allow; only the recipient domains asked about count."""

    def test_an_address_listing_beats_its_domains(self, hosted: Database) -> None:
        accounts.block_sender(hosted, ALPHA, "spam.example", actor=CONSOLE)
        accounts.allow_sender(hosted, ALPHA, "friend@spam.example", actor=CONSOLE)
        alpha = domain_id(hosted, ALPHA)
        assert listings(hosted, [alpha], [parse_address("friend@spam.example")]) == {alpha: SenderListing.ALLOW}
        assert listings(hosted, [alpha], [parse_address("other@spam.example")]) == {alpha: SenderListing.BLOCK}

    def test_block_beats_allow_across_two_senders(self, hosted: Database) -> None:
        accounts.allow_sender(hosted, ALPHA, "partner.example", actor=CONSOLE)
        accounts.block_sender(hosted, ALPHA, "forger@evil.example", actor=CONSOLE)
        alpha = domain_id(hosted, ALPHA)
        envelope, header = parse_address("bounce@partner.example"), parse_address("forger@evil.example")
        assert listings(hosted, [alpha], [envelope, header]) == {alpha: SenderListing.BLOCK}
        assert listings(hosted, [alpha], [header, envelope]) == {alpha: SenderListing.BLOCK}
        assert listings(hosted, [alpha], [envelope, parse_address("someone@else.example")]) == {
            alpha: SenderListing.ALLOW
        }

    def test_other_domains_listings_are_ignored(self, hosted: Database) -> None:
        accounts.block_sender(hosted, BETA, "x@spam.example", actor=CONSOLE)
        alpha, beta = domain_id(hosted, ALPHA), domain_id(hosted, BETA)
        sender = [parse_address("x@spam.example")]
        assert listings(hosted, [alpha], sender) == {}
        assert listings(hosted, [alpha, beta], sender) == {beta: SenderListing.BLOCK}

    def test_an_unlisted_sender_has_no_listing(self, hosted: Database) -> None:
        accounts.allow_sender(hosted, ALPHA, "x@spam.example", actor=CONSOLE)
        alpha = domain_id(hosted, ALPHA)
        assert listings(hosted, [alpha], [parse_address("y@spam.example")]) == {}
        assert listings(hosted, [alpha], []) == {}
