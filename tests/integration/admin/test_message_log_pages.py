"""The portal's Message log (search, cursor pages, a message's timeline) and Queue (retry now,
give up and bounce, each behind a confirm step and audited), scoped like the API."""
from __future__ import annotations

import time

import pytest

from shared import accounts
from shared.accounts.message_tracking import get_message
from shared.accounts.views import CONSOLE
from shared.storage.db import Database
from tests.messagelog import accept

from .support import PortalClient, World, text_of


@pytest.fixture
def logged(db: Database, world: World) -> dict[str, str]:
    ids = {"to_alpha": accept(db, "sender@remote.example", local=[world.staff], message_id="one@remote.example")}
    time.sleep(0.002)
    ids["from_beta"] = accept(db, world.other, remote=["friend@remote.example"], via="submission")
    time.sleep(0.002)
    ids["from_alpha"] = accept(db, world.staff, remote=["x@remote.example"], via="submission")
    return ids


def rows(page: str) -> list[str]:
    return [chunk.split('"', 1)[0] for chunk in page.split('<tr data-id="')[1:]]


def test_admins_search_page_and_open_a_timeline(
    as_admin: PortalClient, logged: dict[str, str], monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    page = text_of(as_admin.get("/messages/"))
    assert rows(page) == [logged["from_alpha"], logged["from_beta"], logged["to_alpha"]]
    assert 'href="/messages/"' in page and 'href="/queue/"' in page  # in the menu
    assert rows(text_of(as_admin.get(f"/messages/?recipient={world.staff}"))) == [logged["to_alpha"]]
    assert rows(text_of(as_admin.get("/messages/?status=queued&sender=" + world.other))) == [logged["from_beta"]]
    monkeypatch.setattr("services.admin.message_log.PER_PAGE", 2)
    first = text_of(as_admin.get("/messages/?status="))
    assert rows(first) == [logged["from_alpha"], logged["from_beta"]]
    assert f'href="/messages/?cursor={logged["from_beta"]}"' in first
    older = text_of(as_admin.get(f"/messages/?cursor={logged['from_beta']}"))
    assert rows(older) == [logged["to_alpha"]] and 'rel="next"' not in older and 'rel="first"' in older
    detail = text_of(as_admin.get(f"/messages/{logged['to_alpha']}"))
    assert f'data-recipient="{world.staff}"' in detail and "one@remote.example" in detail
    assert "<td>delivered</td><td>local</td>" in detail


def test_bad_search_input_is_shown_on_the_form(as_admin: PortalClient, logged: dict[str, str]) -> None:
    response = as_admin.get("/messages/?status=sent")
    assert response.status_code == 422 and 'class="field has-error"' in text_of(response)
    response = as_admin.get("/messages/?cursor=zzz")
    assert response.status_code == 422 and "Invalid value" in text_of(response)


def test_managers_see_their_domains_only_and_staff_nothing(
    as_manager: PortalClient, logged: dict[str, str], client_factory, world: World  # type: ignore[no-untyped-def]
) -> None:
    assert rows(text_of(as_manager.get("/messages/"))) == [logged["from_alpha"], logged["to_alpha"]]
    assert as_manager.get(f"/messages/{logged['from_beta']}").status_code == 404
    assert rows(text_of(as_manager.get("/queue/"))) == [logged["from_alpha"]]
    assert as_manager.get(f"/queue/{logged['from_beta']}/retry").status_code == 404
    staff = client_factory()
    staff.login(world.staff)
    assert staff.get("/messages/").status_code == 403 and staff.get("/queue/").status_code == 403


def test_retry_and_bounce_need_a_confirmation_and_are_audited(
    as_admin: PortalClient, logged: dict[str, str], db: Database
) -> None:
    queued = logged["from_alpha"]
    confirm = text_of(as_admin.get(f"/queue/{queued}/retry"))
    assert "x@remote.example" in confirm and 'id="confirm"' in confirm
    done = as_admin.post(f"/queue/{queued}/retry", token_page=f"/queue/{queued}/retry", follow_redirects=True)
    assert "1 recipients of" in text_of(done) and "will be tried again now" in text_of(done)
    gone = as_admin.post(f"/queue/{queued}/bounce", token_page=f"/queue/{queued}/bounce", follow_redirects=True)
    assert "given up and bounced" in text_of(gone) and rows(text_of(gone)) == [logged["from_beta"]]
    assert [r.status for r in get_message(db, queued, actor=CONSOLE).recipients] == ["bounced"]
    assert [e.action for e in accounts.list_audit(db, actor=CONSOLE)][:2] == ["queue.bounce", "queue.retry"]
    assert as_admin.get(f"/queue/{queued}/bounce").status_code == 404  # nothing left to act on
    assert as_admin.get(f"/queue/{logged['from_beta']}/delete").status_code == 404


def test_the_pages_speak_chinese(as_admin: PortalClient, logged: dict[str, str]) -> None:
    page = text_of(as_admin.get("/messages/", headers={"Accept-Language": "zh-CN"}))
    assert "邮件日志" in page and "任意状态" in page
    assert "发送队列" in text_of(as_admin.get("/queue/", headers={"Accept-Language": "zh-CN"}))
