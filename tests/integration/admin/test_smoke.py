"""Every page renders for a global admin, in English and in Chinese (a broken translation
placeholder would fail here)."""
from __future__ import annotations

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, text_of

PAGES = [
    "/", "/domains/", "/domains/alpha.example", "/domains/alpha.example/dns", "/domains/new",
    "/domains/alpha.example/edit", "/domains/alpha.example/delete", "/mailboxes/", "/mailboxes/new",
    "/mailboxes/staff@alpha.example/edit", "/mailboxes/staff@alpha.example/password",
    "/mailboxes/staff@alpha.example/delete", "/aliases/", "/aliases/new", "/aliases/@alpha.example/edit",
    "/groups/", "/groups/new", "/groups/team@alpha.example/edit", "/audit/", "/tokens/", "/import/",
    "/account/", "/nowhere",
]


def test_every_page_renders(as_admin: PortalClient, db: Database, world: World) -> None:
    accounts.create_alias(db, "@alpha.example", [world.staff], actor=CONSOLE)
    accounts.create_group(db, "team@alpha.example", [world.staff], actor=CONSOLE)
    for language in ("en", "zh_Hans"):
        as_admin.post("/language", {"lang": language}, token_page="/")
        for url in PAGES:
            page = as_admin.get(url)
            assert page.status_code == (404 if url == "/nowhere" else 200), (url, text_of(page)[:2000])
            assert f'<html lang="{language.replace("_", "-")}">' in text_of(page), url
