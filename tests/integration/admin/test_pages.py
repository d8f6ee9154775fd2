"""The main flows of the pages: domains, mailboxes (search and pages), aliases, groups, account."""
from __future__ import annotations

import html
import re

import pytest

from services.admin import mailboxes as admin_mailboxes
from services.admin import pagination
from shared import accounts
from shared.accounts import mailbox_search
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, text_of

LIMITS = {"max_mailboxes": "10", "max_aliases": "5", "quota": "2G", "default_mailbox_quota": "100M"}


def addresses_on(page: str) -> list[str]:
    return re.findall(r'href="/mailboxes/([^/"]+)/edit"', page)


def test_domain_life(as_admin: PortalClient, db: Database, world: World) -> None:
    created = as_admin.post("/domains/new", {**LIMITS, "name": "Bücher.Example"}, token_page="/")
    assert created.headers["Location"] == "/domains/xn--bcher-kva.example"
    domain = accounts.get_domain(db, "xn--bcher-kva.example", actor=CONSOLE)
    assert (domain.max_mailboxes, domain.quota_bytes, domain.default_mailbox_quota) == (10, 2 * 1024**3, 100 * 1024**2)
    assert "bücher.example" in text_of(as_admin.get("/domains/"))
    edit = {"max_mailboxes": "20", "max_aliases": "5", "quota": "3G", "default_mailbox_quota": "100M"}
    assert as_admin.post("/domains/xn--bcher-kva.example/edit", edit, token_page="/").status_code == 302
    domain = accounts.get_domain(db, "xn--bcher-kva.example", actor=CONSOLE)
    assert (domain.active, domain.max_mailboxes, domain.quota_bytes) == (False, 20, 3 * 1024**3)
    as_admin.post("/domains/xn--bcher-kva.example/alias-domains", {"alias_name": "books.example"}, token_page="/")
    assert accounts.get_domain(db, "xn--bcher-kva.example", actor=CONSOLE).alias_domains == ("books.example",)
    as_admin.post("/domains/xn--bcher-kva.example/alias-domains/books.example/remove", token_page="/")
    assert accounts.get_domain(db, "xn--bcher-kva.example", actor=CONSOLE).alias_domains == ()
    warning = text_of(as_admin.get("/domains/xn--bcher-kva.example/delete"))
    assert "erased from the disk" in warning
    gone = as_admin.post("/domains/xn--bcher-kva.example/delete", {"confirmation": "xn--bcher-kva.example"}, token_page="/")
    assert gone.headers["Location"] == "/domains/"
    assert [d.name for d in accounts.list_domains(db, actor=CONSOLE)] == ["alpha.example", "beta.example"]


def test_dns_page_lists_the_records(as_manager: PortalClient) -> None:
    page = html.unescape(text_of(as_manager.get("/domains/alpha.example/dns")))
    for record in (
        "alpha.example. 3600 IN MX 10 mx.test.example.",
        '"v=spf1 mx -all"',
        'beacon._domainkey.alpha.example. 3600 IN TXT "v=DKIM1; k=rsa; p=MII',
        "_dmarc.alpha.example.",
        "_submissions._tcp.alpha.example.",
        "_pop3s._tcp.alpha.example.",
        "_imaps._tcp.alpha.example. 3600 IN SRV 0 1 0 mx.test.example.",
        "_imap._tcp.alpha.example. 3600 IN SRV 10 1 0 mx.test.example.",
        "autoconfig.alpha.example. 3600 IN CNAME mx.test.example.",
    ):
        assert record in page, record
    assert 'data-copy-target="zone-text"' in page


def pager_links(page: str) -> dict[str, str]:
    return {rel: html.unescape(url) for rel, url in re.findall(r'<a rel="(prev|next)" href="([^"]+)"', page)}


def test_mailbox_search_and_pages(as_manager: PortalClient, db: Database, world: World, password_hash: str) -> None:
    for number in range(60):
        accounts.create_mailbox(db, f"user{number:02d}@alpha.example", password_hash, password_is_hash=True, name=f"Person {number}", actor=CONSOLE)
    accounts.create_mailbox(db, "user99@beta.example", password_hash, password_is_hash=True, actor=CONSOLE)
    first = text_of(as_manager.get("/mailboxes/"))
    assert "63 mailboxes" in first and pager_links(first) == {"next": "/mailboxes/?after=user46@alpha.example"}
    assert len(addresses_on(first)) == 50 and addresses_on(first)[0] == world.manager
    second = text_of(as_manager.get(pager_links(first)["next"]))
    assert addresses_on(second)[-1] == "user59@alpha.example" and len(addresses_on(second)) == 13
    assert pager_links(second) == {"prev": "/mailboxes/?before=user47@alpha.example"}
    assert addresses_on(text_of(as_manager.get(pager_links(second)["prev"]))) == addresses_on(first)
    assert addresses_on(text_of(as_manager.get("/mailboxes/?page=2"))) == addresses_on(second)  # older links
    found = text_of(as_manager.get("/mailboxes/?q=user1"))
    assert addresses_on(found) == [f"user1{n}@alpha.example" for n in range(10)]
    by_name = text_of(as_manager.get("/mailboxes/?q=person+42"))
    assert addresses_on(by_name) == ["user42@alpha.example"]
    assert "user99@beta.example" not in text_of(as_manager.get("/mailboxes/?q=user9&page=9"))
    assert "user99@beta.example" not in text_of(as_manager.get("/mailboxes/?after=user90@alpha.example"))


def test_mailbox_pages_keep_the_search_and_count_only_so_far(
    as_manager: PortalClient, db: Database, password_hash: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(12):
        accounts.create_mailbox(db, f"user{number:02d}@alpha.example", password_hash, password_is_hash=True, actor=CONSOLE)
    monkeypatch.setattr(mailbox_search, "COUNT_LIMIT", 10)
    monkeypatch.setattr(pagination, "PAGE_SIZE", 5)
    monkeypatch.setattr(admin_mailboxes, "PAGE_SIZE", 5)
    first = text_of(as_manager.get("/mailboxes/?q=user&domain=alpha.example"))
    assert "10+ mailboxes" in first
    assert pager_links(first) == {"next": "/mailboxes/?q=user&domain=alpha.example&after=user04@alpha.example"}
    assert "12 mailboxes" not in text_of(as_manager.get("/mailboxes/"))
    assert "10 mailboxes" in text_of(as_manager.get("/mailboxes/?q=user0"))  # exactly the limit
    chinese = text_of(as_manager.get("/mailboxes/", headers={"Accept-Language": "zh-CN"}))
    assert "10+ 个邮箱" in chinese


def test_mailbox_life(as_manager: PortalClient, db: Database, world: World) -> None:
    data = {"local": "Newbie", "domain": "alpha.example", "name": "New Person", "generate_password": "y", "quota": "50M"}
    created = text_of(as_manager.post("/mailboxes/new", data, token_page="/"))
    password = re.search(r'id="generated-password">([^<]+)<', created).group(1)  # type: ignore[union-attr]
    assert accounts.authenticate(db, "newbie@alpha.example", password, "pop3", "127.0.0.1").quota_bytes == 50 * 1024**2
    assert 'name="imap_enabled"' in text_of(as_manager.get("/mailboxes/newbie@alpha.example/edit"))
    edit = {"name": "Renamed", "quota": "200M", "active": "y", "pop3_enabled": "y"}
    assert as_manager.post("/mailboxes/newbie@alpha.example/edit", edit, token_page="/").status_code == 302
    mailbox = accounts.get_mailbox(db, "newbie@alpha.example", actor=CONSOLE)
    assert (mailbox.name, mailbox.quota_bytes, mailbox.smtp_enabled, mailbox.pop3_enabled) == ("Renamed", 200 * 1024**2, False, True)
    assert mailbox.imap_enabled is False  # an unticked box: the form sends nothing for it
    assert "0 B / 200 MiB" in text_of(as_manager.get("/mailboxes/newbie@alpha.example/edit"))
    reset = as_manager.post("/mailboxes/newbie@alpha.example/password", {"password": "typed-password-1"}, token_page="/")
    assert "generated-password" not in text_of(reset)
    assert accounts.authenticate(db, "newbie@alpha.example", "typed-password-1", "portal", "127.0.0.1")
    deleted = as_manager.post("/mailboxes/newbie@alpha.example/delete", {"confirmation": "newbie@alpha.example"}, token_page="/")
    assert deleted.status_code == 302
    assert accounts.count_mailboxes(db, "alpha.example", actor=CONSOLE) == 3


def test_aliases_and_groups(as_manager: PortalClient, db: Database, world: World) -> None:
    alias = {"local": "", "domain": "alpha.example", "destinations": f"{world.staff}\nexternal@remote.example"}
    assert as_manager.post("/aliases/new", alias, token_page="/").status_code == 302
    assert accounts.get_alias(db, "@alpha.example", actor=CONSOLE).destinations == (world.staff, "external@remote.example")
    assert "catch-all" in text_of(as_manager.get("/aliases/"))
    as_manager.post("/aliases/@alpha.example/edit", {"destinations": world.manager}, token_page="/")
    assert accounts.get_alias(db, "@alpha.example", actor=CONSOLE).destinations == (world.manager,)
    as_manager.post("/aliases/@alpha.example/remove", {"confirmation": "@alpha.example"}, token_page="/")
    assert accounts.list_aliases(db, actor=CONSOLE) == []
    group = {"local": "team", "domain": "alpha.example", "members": f"{world.staff}, {world.manager}", "policy": "members"}
    assert as_manager.post("/groups/new", group, token_page="/").status_code == 302
    assert accounts.get_group(db, "team@alpha.example", actor=CONSOLE).policy == "members"
    assert "Members only" in text_of(as_manager.get("/groups/"))
    as_manager.post("/groups/team@alpha.example/edit", {"members": world.staff, "policy": "domain"}, token_page="/")
    assert accounts.get_group(db, "team@alpha.example", actor=CONSOLE).members == (world.staff,)
    as_manager.post("/groups/team@alpha.example/remove", {"confirmation": "team@alpha.example"}, token_page="/")
    assert accounts.list_groups(db, actor=CONSOLE) == []


def test_dashboard_figures(as_admin: PortalClient, db: Database, world: World) -> None:
    accounts.create_alias(db, "info@alpha.example", [world.staff], actor=CONSOLE)
    page = text_of(as_admin.get("/"))
    assert 'id="count-mailboxes">4<' in page and 'id="count-domains">2<' in page and 'id="count-aliases">1<' in page
    assert "No mailbox is more than 90% full." in page
    assert "alias.create" in page


def test_staff_changes_own_password(as_staff: PortalClient, db: Database, world: World) -> None:
    page = text_of(as_staff.get("/account/"))
    assert world.staff in page and "0 B / 1 GiB" in page and "mx.test.example" in page
    data = {"current_password": "s3cret-password", "new_password": "brand-new-pass", "repeat_password": "brand-new-pass"}
    assert as_staff.post("/account/password", data, token_page="/account/").status_code == 302
    assert accounts.authenticate(db, world.staff, "brand-new-pass", "portal", "127.0.0.1")
    assert "Your password was changed." in text_of(as_staff.get("/account/"))
