"""International domains: one form for people (Unicode) in the portal, its audit log, the API's
records and the command line's; every input takes the Unicode and the A-label (xn--) form."""
from __future__ import annotations

import re
from urllib.parse import quote

from flask import Flask

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, bearer, text_of

UNICODE, ASCII = "bücher.example", "xn--bcher-kva.example"


def test_the_api_takes_both_forms_and_answers_in_unicode(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    created = api.post("/api/v1/domains", json={"name": UNICODE}, headers=auth).get_json()
    assert (created["name"], created["display_name"]) == (UNICODE, UNICODE)
    mailbox = api.post("/api/v1/mailboxes", json={"address": f"jill@{ASCII}", "password": "long-enough-1"}, headers=auth)
    assert mailbox.status_code == 201, mailbox.get_json()
    created_mailbox = mailbox.get_json()["mailbox"]
    assert (created_mailbox["address"], created_mailbox["domain"]) == (f"jill@{UNICODE}", UNICODE)
    for form in (f"jill@{ASCII}", quote(f"jill@{UNICODE}")):
        assert api.get(f"/api/v1/mailboxes/{form}", headers=auth).get_json()["address"] == f"jill@{UNICODE}"
    alias = api.post("/api/v1/aliases", json={"source": f"info@{UNICODE}", "destinations": [f"jill@{ASCII}"]}, headers=auth)
    assert alias.get_json() == {"source": f"info@{UNICODE}", "destinations": [f"jill@{UNICODE}"]}
    for domain in (ASCII, quote(UNICODE)):
        entries = api.get(f"/api/v1/audit?domain={domain}", headers=auth).get_json()["items"]
        assert {(e["action"], e["target"], e["domain"]) for e in entries} >= {
            ("mailbox.create", f"jill@{UNICODE}", UNICODE),
            ("alias.create", f"info@{UNICODE}", UNICODE),
        }
        assert "xn--" not in str(entries)


def test_the_portal_and_its_audit_log_show_unicode(as_admin: PortalClient, db: Database, world: World) -> None:
    accounts.create_domain(db, ASCII, actor=CONSOLE)
    accounts.create_mailbox(db, f"jill@{UNICODE}", "long-enough-1", actor=CONSOLE)
    accounts.grant_role(db, f"jill@{UNICODE}", domain=ASCII, actor=CONSOLE)
    accounts.create_alias(db, f"@{ASCII}", [f"jill@{ASCII}"], actor=CONSOLE)
    pages = ("/audit/", f"/mailboxes/?domain={ASCII}", f"/aliases/?domain={ASCII}", f"/mailboxes/jill@{ASCII}/edit")
    for page in (*pages, f"/mailboxes/{quote('jill@' + UNICODE)}/edit"):
        body = text_of(as_admin.get(page))
        assert f"jill@{UNICODE}" in body, page
        assert "xn--" not in _visible(body), page
    filtered = text_of(as_admin.get(f"/audit/?actor=jill@{quote(UNICODE)}"))
    assert "No changes recorded." in filtered  # jill made no change; the filter itself is accepted in Unicode
    by_target = text_of(as_admin.get(f"/audit/?text={quote('jill@' + UNICODE)}"))
    assert "mailbox.create" in by_target


def _visible(page: str) -> str:
    """The page without its tags' attributes (links keep the stored form, which URLs accept)."""
    return re.sub(r"<[^>]*>", " ", page)

