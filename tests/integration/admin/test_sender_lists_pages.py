"""The domain page's sender lists and the edit form's inbound-checks switch."""
from __future__ import annotations

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, text_of

SHOW = "/domains/alpha.example"
LIMITS = {"max_mailboxes": "0", "max_aliases": "0", "quota": "0", "default_mailbox_quota": "0"}


def listed(db: Database, domain: str = "alpha.example") -> list[tuple[str, str]]:
    return [(view.sender, view.listing) for view in accounts.list_senders(db, domain, actor=CONSOLE)]


def test_a_manager_adds_replaces_and_removes_listings(as_manager: PortalClient, db: Database) -> None:
    added = as_manager.post(f"{SHOW}/senders", {"sender": "Partner@Bücher.example", "listing": "allow"}, token_page=SHOW)
    assert added.status_code == 302 and added.headers["Location"] == SHOW
    page = text_of(as_manager.get(SHOW))
    assert "partner@bücher.example is now allowed past the spam filter." in page
    assert 'title="partner@bücher.example">partner@bücher.example</span>' in page and "<td>allowed</td>" in page
    as_manager.post(f"{SHOW}/senders", {"sender": "partner@bücher.example", "listing": "block"}, token_page=SHOW)
    assert "Mail from partner@bücher.example is now refused." in text_of(as_manager.get(SHOW))
    assert listed(db) == [("partner@xn--bcher-kva.example", "block")]
    removed = as_manager.post(f"{SHOW}/senders/remove", {"sender": "partner@xn--bcher-kva.example"}, token_page=SHOW)
    assert removed.status_code == 302
    assert "partner@bücher.example was taken off the sender lists." in text_of(as_manager.get(SHOW))
    assert listed(db) == []


def test_bad_senders_are_explained_on_the_page(as_manager: PortalClient, db: Database) -> None:
    for sender, message in (
        ("", "This field is required."),
        ("*@spam.example", "Invalid address: invalid sender: &#39;*@spam.example&#39;: no wildcards"),
        ("two words@spam.example", "give local@domain, domain or @domain"),
        ("x" * 321, "Field cannot be longer than 320 characters."),
    ):
        page = as_manager.post(f"{SHOW}/senders", {"sender": sender, "listing": "block"}, token_page=SHOW)
        assert page.status_code == 422 and message in text_of(page), (sender, text_of(page)[:3000])
    page = as_manager.post(f"{SHOW}/senders", {"sender": "a@b.example", "listing": "maybe"}, token_page=SHOW)
    assert page.status_code == 422 and "Not a valid choice" in text_of(page)
    missing = as_manager.post(f"{SHOW}/senders/remove", {"sender": "nobody@b.example"}, token_page=SHOW)
    assert "Not found: sender not listed for alpha.example: nobody@b.example" in text_of(as_manager.get(missing.headers["Location"]))
    assert listed(db) == []


def test_a_manager_of_another_domain_sees_nothing(as_manager: PortalClient, db: Database, world: World) -> None:
    accounts.block_sender(db, world.beta, "x@spam.example", actor=CONSOLE)
    assert as_manager.post("/domains/beta.example/senders", {"sender": "y@s.example", "listing": "allow"}, token_page=SHOW).status_code == 404
    assert as_manager.post("/domains/beta.example/senders/remove", {"sender": "x@spam.example"}, token_page=SHOW).status_code == 404
    assert listed(db, world.beta) == [("x@spam.example", "block")]


def test_the_edit_form_switches_inbound_checks(as_admin: PortalClient, db: Database) -> None:
    checkbox = '<input checked id="inbound_checks" name="inbound_checks" type="checkbox" value="y">'
    assert checkbox in text_of(as_admin.get(f"{SHOW}/edit"))
    as_admin.post(f"{SHOW}/edit", {**LIMITS, "active": "y"}, token_page=f"{SHOW}/edit")
    assert accounts.get_domain(db, "alpha.example", actor=CONSOLE).inbound_checks is False
    assert checkbox.replace("checked ", "") in text_of(as_admin.get(f"{SHOW}/edit"))
    as_admin.post(f"{SHOW}/edit", {**LIMITS, "active": "y", "inbound_checks": "y"}, token_page=f"{SHOW}/edit")
    assert accounts.get_domain(db, "alpha.example", actor=CONSOLE).inbound_checks is True


def test_the_section_is_in_chinese(as_manager: PortalClient) -> None:
    as_manager.post("/language", {"lang": "zh_Hans", "next": "/"}, token_page="/")
    as_manager.post(f"{SHOW}/senders", {"sender": "x@spam.example", "listing": "block"}, token_page=SHOW)
    page = text_of(as_manager.get(SHOW))
    assert "发件人名单" in page and "来自 x@spam.example 的邮件现在将被拒收。" in page and "已阻止" in page
