"""The quarantine in the portal (self-service and per mailbox) and in the API."""
from __future__ import annotations

from flask import Flask

from shared.accounts import get_mailbox
from shared.accounts.quarantine import list_junk_messages
from shared.accounts.views import CONSOLE
from shared.storage.db import Database
from shared.storage.maildirs import disk_usage, list_messages
from tests.junkmail import MOVED_BY_IMAP, dovecot_seen, junk_file, maildir_of, put_in_junk

from .support import PortalClient, World, bearer, text_of


def junk_ids(db: Database, address: str) -> list[str]:
    return [message.id for message in list_junk_messages(db, address, actor=CONSOLE).messages]


def test_staff_see_their_junk_and_release_it(as_staff: PortalClient, db: Database, world: World) -> None:
    uid = put_in_junk(db, world.staff)
    dovecot_seen(junk_file(db, world.staff, uid))
    page = text_of(as_staff.get("/account/junk"))
    assert 'href="/account/junk"' in page  # in the self-service menu
    assert "You have wön" in page and "Prize Desk &lt;win@lottery.example&gt;" in page
    assert '<td class="score">12.5</td>' in page and "BAYES_SPAM, DMARC quarantine, MISSING_MID" in page
    released = as_staff.post(f"/account/junk/{uid}/release", token_page="/account/junk", follow_redirects=True)
    assert "The message was moved to your inbox." in text_of(released) and 'id="junk-empty"' in text_of(released)
    assert [message.uid for message in list_messages(maildir_of(db, world.staff))] == [uid]
    again = as_staff.post(f"/account/junk/{uid}/release", token_page="/account/junk")
    assert again.status_code == 404 and f"Not found: no junk message {uid}" in text_of(again)


def test_staff_delete_and_bad_ids_are_flashed(as_staff: PortalClient, db: Database, world: World) -> None:
    kept, gone = put_in_junk(db, world.staff, MOVED_BY_IMAP), put_in_junk(db, world.staff)
    deleted = as_staff.post(f"/account/junk/{gone}/delete", token_page="/account/junk", follow_redirects=True)
    assert "The message was deleted." in text_of(deleted) and "(no subject)" not in text_of(deleted)
    assert junk_ids(db, world.staff) == [kept]
    mailbox = get_mailbox(db, world.staff, actor=CONSOLE)
    assert (mailbox.used_bytes, mailbox.messages) == disk_usage(maildir_of(db, world.staff))
    bad = as_staff.post("/account/junk/..%5C..%5Cx/delete", token_page="/account/junk")
    assert bad.status_code == 400 and "Invalid value: not a junk message id" in text_of(bad)
    assert junk_ids(db, world.staff) == [kept]


def test_staff_reach_no_other_mailbox(as_staff: PortalClient, db: Database, world: World) -> None:
    other = put_in_junk(db, world.other)
    assert as_staff.get(f"/mailboxes/{world.other}/junk").status_code == 403
    refused = as_staff.post(f"/account/junk/{other}/delete", token_page="/account/junk")
    assert refused.status_code == 404 and f"no junk message {other}" in text_of(refused)
    assert junk_ids(db, world.other) == [other]
    assert as_staff.post(f"/mailboxes/{world.other}/junk/{other}/delete", token_page="/account/junk").status_code == 403


def test_managers_reach_their_domains_mailboxes_from_the_mailbox_page(as_manager: PortalClient, db: Database, world: World) -> None:
    uid, other = put_in_junk(db, world.staff), put_in_junk(db, world.other)
    assert f'href="/mailboxes/{world.staff}/junk"' in text_of(as_manager.get(f"/mailboxes/{world.staff}/edit"))
    page = text_of(as_manager.get(f"/mailboxes/{world.staff}/junk"))
    assert f"Junk of {world.staff}" in page and "You have wön" in page
    token_page = f"/mailboxes/{world.staff}/junk"
    deleted = as_manager.post(f"/mailboxes/{world.staff}/junk/{uid}/delete", token_page=token_page, follow_redirects=True)
    assert "The message was deleted." in text_of(deleted) and junk_ids(db, world.staff) == []
    assert as_manager.get(f"/mailboxes/{world.other}/junk").status_code == 404
    assert as_manager.post(f"/mailboxes/{world.other}/junk/{other}/release", token_page=token_page).status_code == 404
    assert junk_ids(db, world.other) == [other]


def test_the_page_speaks_chinese_and_has_an_empty_state(as_staff: PortalClient) -> None:
    page = text_of(as_staff.get("/account/junk", headers={"Accept-Language": "zh-CN"}))
    assert "垃圾邮件文件夹中没有邮件。" in page and "垃圾邮件评分" in page
    assert "No messages in Junk." in text_of(as_staff.get("/account/junk", headers={"Accept-Language": "en"}))


def test_api_lists_releases_and_deletes(app: Flask, db: Database, world: World) -> None:
    api, manager = app.test_client(), bearer(db, world.manager, read_only=False)
    released, deleted = put_in_junk(db, world.staff), put_in_junk(db, world.staff, MOVED_BY_IMAP)
    url = f"/api/v1/mailboxes/{world.staff}/junk"
    listing = api.get(url, headers=manager).get_json()
    assert listing["address"] == world.staff and listing["total"] == 2
    spam = next(item for item in listing["items"] if item["id"] == released)
    assert spam == {
        "id": released, "date": "2026-12-01T09:00:00+00:00", "sender": "Prize Desk <win@lottery.example>",
        "subject": "You have wön", "score": 12.5, "reasons": ["BAYES_SPAM", "DMARC quarantine", "MISSING_MID"],
        "size": spam["size"],
    }
    assert api.get(f"{url}?limit=1", headers=manager).get_json()["total"] == 2
    assert api.post(f"{url}/{released}/release", headers=manager).status_code == 204
    assert [message.uid for message in list_messages(maildir_of(db, world.staff))] == [released]
    assert api.delete(f"{url}/{deleted}", headers=manager).status_code == 204
    assert api.get(url, headers=manager).get_json() == {"address": world.staff, "items": [], "total": 0}
    gone = api.delete(f"{url}/{deleted}", headers=manager)
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "not_found"


def test_api_errors(app: Flask, db: Database, world: World) -> None:
    api, manager = app.test_client(), bearer(db, world.manager, read_only=False)
    uid, other = put_in_junk(db, world.staff), put_in_junk(db, world.other)
    url = f"/api/v1/mailboxes/{world.staff}/junk"
    malformed = api.post(f"{url}/..%5Cx/release", headers=manager)
    assert malformed.status_code == 400 and malformed.get_json()["error"]["code"] == "bad_request"
    assert api.get(f"/api/v1/mailboxes/{world.other}/junk", headers=manager).status_code == 404
    assert api.delete(f"/api/v1/mailboxes/{world.other}/junk/{other}", headers=manager).status_code == 404
    assert api.delete(f"{url}/{other}", headers=manager).status_code == 404  # another mailbox's id
    reader = bearer(db, world.manager, read_only=True)
    assert api.get(url, headers=reader).status_code == 200
    forbidden = api.delete(f"{url}/{uid}", headers=reader)
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "forbidden"
    assert api.get(url).status_code == 401
    assert junk_ids(db, world.staff) == [uid] and junk_ids(db, world.other) == [other]
    paths = api.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/mailboxes/{address}/junk", "/mailboxes/{address}/junk/{id}/release", "/mailboxes/{address}/junk/{id}"} <= set(paths)
