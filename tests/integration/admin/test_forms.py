"""Every form explains what is wrong, on the page, and changes nothing when it refuses."""
from __future__ import annotations

from datetime import date, timedelta

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, text_of

LIMITS = {"max_mailboxes": "0", "max_aliases": "0", "quota": "0", "default_mailbox_quota": "0"}


def refused(client: PortalClient, url: str, data: dict[str, str], *messages: str) -> str:
    page = client.post(url, data, token_page="/")
    body = text_of(page)
    assert page.status_code == 422, body[:2000]
    for message in messages:
        assert message in body, (message, body[:4000])
    return body


def test_domain_forms(as_admin: PortalClient, db: Database, world: World) -> None:
    refused(as_admin, "/domains/new", {**LIMITS, "name": ""}, "This field is required.")
    refused(as_admin, "/domains/new", {**LIMITS, "name": "not a domain"}, "Invalid address: invalid domain")
    refused(as_admin, "/domains/new", {**LIMITS, "name": "alpha.example"}, "Already in use: domain already exists")
    refused(as_admin, "/domains/new", {**LIMITS, "name": "new.example", "quota": "lots"}, "Enter a size such as 500M or 2G.")
    refused(as_admin, "/domains/new", {**LIMITS, "name": "new.example", "max_mailboxes": "-1"}, "Number must be between 0 and 10000000.")
    refused(as_admin, "/domains/alpha.example/edit", {**LIMITS, "max_aliases": "many"}, "Not a valid integer value.")
    refused(as_admin, "/domains/alpha.example/alias-domains", {"alias_name": "beta.example"}, "domain already exists: beta.example")
    refused(as_admin, "/domains/beta.example/delete", {"confirmation": "alpha.example"}, "The name you typed does not match.")
    assert [d.name for d in accounts.list_domains(db, actor=CONSOLE)] == ["alpha.example", "beta.example"]


def test_mailbox_forms(as_admin: PortalClient, db: Database, world: World) -> None:
    base = {"local": "newbie", "domain": "alpha.example", "name": "", "quota": ""}
    refused(as_admin, "/mailboxes/new", base, "Type a password or let one be generated.")
    # The shortest password is shared's rule (test_app_passwords_pages.py checks it on these forms).
    refused(as_admin, "/mailboxes/new", {**base, "password": "x" * 1025}, "Field cannot be longer than 1024 characters.")
    refused(as_admin, "/mailboxes/new", {**base, "local": "bad local", "password": "long-enough-1"}, "Invalid address: invalid local part")
    refused(as_admin, "/mailboxes/new", {**base, "local": "staff", "password": "long-enough-1"}, "staff@alpha.example is already a mailbox")
    refused(as_admin, "/mailboxes/new", {**base, "domain": "nowhere.example", "password": "long-enough-1"}, "Not a valid choice.")
    refused(as_admin, "/mailboxes/new", {**base, "password": "long-enough-1", "quota": "11G"}, "Limit reached: the quota must not exceed")
    edit = {"name": "", "quota": "2 bananas", "active": "y"}
    refused(as_admin, f"/mailboxes/{world.staff}/edit", edit, "Enter a size such as 500M or 2G.")
    refused(as_admin, f"/mailboxes/{world.staff}/password", {"password": ""}, "Type a password or let one be generated.")
    refused(as_admin, f"/mailboxes/{world.staff}/delete", {"confirmation": "someone-else"}, "The name you typed does not match.")
    assert accounts.count_mailboxes(db, actor=CONSOLE) == 4


def test_mailbox_limit_of_the_domain_is_explained(as_admin: PortalClient, db: Database, world: World) -> None:
    accounts.update_domain(db, world.alpha, max_mailboxes=3, actor=CONSOLE)
    data = {"local": "one-more", "domain": "alpha.example", "password": "long-enough-1", "quota": "1G"}
    refused(as_admin, "/mailboxes/new", data, "Limit reached: alpha.example already has its maximum of 3 mailboxes")


def test_alias_and_group_forms(as_admin: PortalClient, db: Database, world: World) -> None:
    alias = {"local": "sales", "domain": "alpha.example", "destinations": ""}
    refused(as_admin, "/aliases/new", alias, "This field is required.")
    refused(as_admin, "/aliases/new", {**alias, "destinations": "not-an-address"}, "Invalid address")
    refused(as_admin, "/aliases/new", {**alias, "destinations": "sales@alpha.example"}, "sales@alpha.example cannot forward to itself")
    accounts.create_alias(db, "loop-b@alpha.example", [world.other], actor=CONSOLE)
    accounts.create_alias(db, "loop-a@alpha.example", ["loop-b@alpha.example"], actor=CONSOLE)
    refused(as_admin, "/aliases/loop-b@alpha.example/edit", {"destinations": "loop-a@alpha.example"}, "in a loop")
    accounts.update_domain(db, world.alpha, max_aliases=2, actor=CONSOLE)
    refused(as_admin, "/aliases/new", {**alias, "destinations": world.staff}, "Limit reached: alpha.example already has its maximum of 2 aliases")
    group = {"local": "team", "domain": "beta.example", "members": "", "policy": "members"}
    refused(as_admin, "/groups/new", group, "This field is required.")
    refused(as_admin, "/groups/new", {**group, "members": "x@beta.example", "policy": "nobody"}, "Not a valid choice.")
    refused(as_admin, "/groups/new", {**group, "members": "team@beta.example"}, "team@beta.example cannot be a member of itself")
    assert accounts.list_groups(db, actor=CONSOLE) == []


def test_own_password_form(as_staff: PortalClient, world: World) -> None:
    data = {"current_password": "s3cret-password", "new_password": "brand-new-pass", "repeat_password": "brand-new-pazz"}
    refused(as_staff, "/account/password", data, "The two passwords differ.")
    data.update(repeat_password="brand-new-pass", current_password="wrong-password")
    refused(as_staff, "/account/password", data, "The current password is wrong.")
    data.update(current_password="s3cret-password", new_password="x" * 1025, repeat_password="x" * 1025)
    refused(as_staff, "/account/password", data, "Field cannot be longer than 1024 characters.")


def test_token_form(as_manager: PortalClient, db: Database) -> None:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    refused(as_manager, "/tokens/", {"name": "", "access": "read"}, "This field is required.")
    refused(as_manager, "/tokens/", {"name": "x", "access": "read", "expires": yesterday}, "The expiry date must be in the future.")
    refused(as_manager, "/tokens/", {"name": "x", "access": "read", "domains": "beta.example"}, "is not a valid choice")
    refused(as_manager, "/tokens/", {"name": "x", "access": "admin"}, "Not a valid choice.")
