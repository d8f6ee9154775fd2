"""CSV import with its dry run, and the audit log with its filters."""
from __future__ import annotations

import html
import io
import re

from flask import Flask

from shared import accounts
from shared.accounts import tokens
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, text_of

CSV = """address,name,password,quota
new1@alpha.example,New One,first-password,100M
new2@alpha.example,New Two,second-password,
staff@alpha.example,Taken,third-password,
bad address,Broken,fourth-password,
new3@beta.example,Elsewhere,fifth-password,
new1@alpha.example,Twice,sixth-password,
new4@alpha.example,No Password,,
new5@alpha.example,Odd Quota,seventh-password,lots
"""


def upload(client: PortalClient, text: str) -> str:
    data = {"csrf_token": client.csrf_token("/import/"), "csv_file": (io.BytesIO(text.encode()), "people.csv")}
    return text_of(client.client.post("/import/preview", data=data, content_type="multipart/form-data"))


def test_import_dry_run_then_apply(as_manager: PortalClient, db: Database, world: World) -> None:
    preview = upload(as_manager, CSV)
    assert "1 rows can be created, 7 rows are wrong." in preview
    for reason in (
        "staff@alpha.example is already a mailbox",
        "invalid address",
        "unknown domain: beta.example",
        "new1@alpha.example appears more than once in the file",
        "give exactly one of password and password_hash",
        "not a size",
    ):
        assert reason in preview, reason
    assert accounts.count_mailboxes(db, actor=CONSOLE) == 4
    csv_text = re.search(r'<textarea name="csv_text" hidden>(.*?)</textarea>', preview, re.DOTALL).group(1)  # type: ignore[union-attr]
    result = as_manager.post("/import/apply", {"csv_text": html.unescape(csv_text)}, token_page="/import/")
    assert "1 mailbox created." in text_of(result)
    assert accounts.authenticate(db, "new2@alpha.example", "second-password", "portal", "127.0.0.1").name == "New Two"
    assert accounts.count_mailboxes(db, actor=CONSOLE) == 5


def test_import_rejects_a_file_without_header(as_manager: PortalClient) -> None:
    assert "the first row must name the columns" in upload(as_manager, "new@alpha.example,x,y\n")
    assert "unknown columns: colour" in upload(as_manager, "address,colour\nnew@alpha.example,red\n")
    page = as_manager.post("/import/preview", token_page="/import/")
    assert page.status_code == 422 and "This field is required." in text_of(page)


def test_audit_records_who_what_and_where(proxied_client: PortalClient, db: Database, world: World) -> None:
    client = proxied_client
    token = client.csrf_token()
    client.client.post(
        "/login",
        data={"csrf_token": token, "address": world.manager, "password": "s3cret-password"},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    data = {"local": "audited", "domain": "alpha.example", "password": "long-enough-1", "quota": ""}
    client.client.post("/mailboxes/new", data={**data, "csrf_token": client.csrf_token("/")}, headers={"X-Forwarded-For": "198.51.100.7"})
    accounts.create_mailbox(db, "hidden@beta.example", "long-enough-2", actor=CONSOLE)
    page = text_of(client.get("/audit/"))
    assert "audited@alpha.example" in page and "198.51.100.7" in page and world.manager in page
    assert "hidden@beta.example" not in page
    assert "audited@alpha.example" not in text_of(client.get("/audit/?action=domain.create"))
    assert "audited@alpha.example" in text_of(client.get(f"/audit/?actor={world.manager}"))
    assert "audited@alpha.example" not in text_of(client.get("/audit/?actor=cli"))
    assert "audited@alpha.example" in text_of(client.get("/audit/?text=audited"))
    assert client.get("/audit/?domain=beta.example").status_code == 404


def test_the_audit_log_names_the_api_token_of_a_change_even_after_it_is_revoked(
    app: Flask, as_manager: PortalClient, db: Database, world: World
) -> None:
    issued = tokens.create_token(db, world.manager, name="deploy-bot", read_only=False, actor=CONSOLE)
    api, auth = app.test_client(), {"Authorization": f"Bearer {issued.secret}"}
    assert api.post("/api/v1/mailboxes", json={"address": "by-token@alpha.example"}, headers=auth).status_code == 201
    data = {"local": "by-hand", "domain": "alpha.example", "password": "long-enough-1", "quota": ""}
    as_manager.post("/mailboxes/new", data, token_page="/mailboxes/new")

    entries = {e["target"]: e for e in api.get("/api/v1/audit?action=mailbox.create", headers=auth).get_json()["items"]}
    assert entries["by-token@alpha.example"]["actor"] == world.manager
    assert entries["by-token@alpha.example"]["token"] == {"id": issued.token.id, "name": "deploy-bot"}
    assert entries["by-hand@alpha.example"]["actor"] == world.manager
    assert entries["by-hand@alpha.example"]["token"] is None

    tokens.revoke_token(db, issued.token.id, actor=CONSOLE)
    rows = {
        target: row
        for row in re.findall(r"<tr>.*?</tr>", html.unescape(text_of(as_manager.get("/audit/"))), re.DOTALL)
        for target in ("by-token@alpha.example", "by-hand@alpha.example")
        if f'title="{target}"' in row
    }
    assert f"with API token “deploy-bot” (#{issued.token.id})" in rows["by-token@alpha.example"]
    assert "API token" not in rows["by-hand@alpha.example"]
