"""The out-of-office reply: the self-service page and the mailbox's API field."""
from __future__ import annotations

from datetime import date

from flask import Flask

from shared.accounts.out_of_office import get_out_of_office
from shared.accounts.views import CONSOLE
from shared.mail.autoreply import Notice
from shared.storage.db import Database

from .support import PortalClient, World, bearer, text_of

AWAY = {"enabled": "y", "subject": "On holiday", "text": "Back on the 14th.", "starts_on": "2026-12-01", "ends_on": "2026-12-14"}


def test_staff_set_their_reply_on_their_page(as_staff: PortalClient, db: Database, world: World) -> None:
    page = text_of(as_staff.get("/account/"))
    assert 'id="out-of-office"' in page and 'name="starts_on"' in page
    saved = as_staff.post("/account/out-of-office", AWAY, token_page="/account/")
    assert saved.status_code == 302
    notice = get_out_of_office(db, world.staff, actor=CONSOLE)
    assert notice == Notice(True, "On holiday", "Back on the 14th.", date(2026, 12, 1), date(2026, 12, 14))
    assert "On holiday" in text_of(as_staff.get("/account/"))
    turned_off = as_staff.post("/account/out-of-office", AWAY | {"enabled": ""}, token_page="/account/")
    assert turned_off.status_code == 302 and not get_out_of_office(db, world.staff, actor=CONSOLE).enabled


def test_form_errors_are_shown_on_the_page(as_staff: PortalClient, db: Database, world: World) -> None:
    backwards = as_staff.post("/account/out-of-office", AWAY | {"ends_on": "2026-11-30"}, token_page="/account/")
    assert backwards.status_code == 422
    assert "The last day must not come before the first." in text_of(backwards)
    no_text = as_staff.post("/account/out-of-office", AWAY | {"text": ""}, token_page="/account/")
    assert no_text.status_code == 422 and "needs a text" in text_of(no_text)
    chinese = as_staff.post(
        "/account/out-of-office", AWAY | {"ends_on": "2026-11-30"}, token_page="/account/", headers={"Accept-Language": "zh-CN"}
    )
    assert "结束日期不能早于开始日期。" in text_of(chinese)
    assert get_out_of_office(db, world.staff, actor=CONSOLE) == Notice()


def test_api_reads_and_changes_the_reply_on_the_mailbox(app: Flask, db: Database, world: World) -> None:
    api, manager = app.test_client(), bearer(db, world.manager, read_only=False)
    url = f"/api/v1/mailboxes/{world.staff}"
    empty = {"enabled": False, "subject": "", "text": "", "starts_on": None, "ends_on": None}
    assert api.get(url, headers=manager).get_json()["out_of_office"] == empty
    away = {"enabled": True, "subject": "Away", "text": "Back soon.", "starts_on": "2026-12-01", "ends_on": None}
    changed = api.patch(url, json={"name": "Staff", "out_of_office": away}, headers=manager)
    assert changed.status_code == 200
    assert changed.get_json()["out_of_office"] == away and changed.get_json()["name"] == "Staff"
    assert api.get(url, headers=manager).get_json()["out_of_office"] == away
    for wrong in ({"starts_on": "1 Dec"}, {"ends_on": "2026-11-01", "starts_on": "2026-12-01"}, {"colour": "red"}, {"enabled": "yes"}):
        refused = api.patch(url, json={"name": "Changed", "out_of_office": wrong}, headers=manager)
        assert refused.status_code == 422, wrong
    assert api.get(url, headers=manager).get_json()["name"] == "Staff"  # checked before anything is written
    assert "out_of_office" in api.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["MailboxDetail"]["properties"]
