"""The portal's Webhooks page: a manager adds one (secret shown once), sees it, sees it
disabled when deliveries failed for a day, and deletes it after a confirmation."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from services.admin import create_app
from shared.accounts import webhooks
from shared.accounts.views import CONSOLE
from shared.config import Settings
from shared.storage.db import Database
from shared.storage.models import Webhook

from .support import PortalClient, World, text_of

PAGE = "/webhooks/"


def test_a_manager_adds_sees_and_deletes_a_webhook(settings: Settings, db: Database, world: World) -> None:
    allowing = Database(dataclasses.replace(settings, webhook_allow_private=True))
    browser = PortalClient(create_app(allowing.settings, database=allowing).test_client())
    assert browser.login(world.manager).status_code == 302
    form = {"domain": world.alpha, "url": "http://127.0.0.1:9/hook", "events": ["message.bounced", "message.failed"]}
    created = browser.post(PAGE, form, token_page=PAGE)
    assert created.status_code == 200
    secret = re.search(r'id="new-secret">(whsec_[^<]+)<', text_of(created))
    assert secret is not None
    listing = text_of(browser.get(PAGE))
    assert "http://127.0.0.1:9/hook" in listing and "message.bounced, message.failed" in listing
    assert secret.group(1) not in listing  # shown once
    (hook,) = webhooks.list_webhooks(db, actor=CONSOLE)
    confirm = browser.get(f"/webhooks/{hook.id}/delete")
    assert confirm.status_code == 200 and "will get no more events" in text_of(confirm)
    assert webhooks.list_webhooks(db, actor=CONSOLE) != []  # nothing deleted before the confirmation
    done = browser.post(f"/webhooks/{hook.id}/delete", token_page=f"/webhooks/{hook.id}/delete", follow_redirects=True)
    assert "was deleted" in text_of(done) and webhooks.list_webhooks(db, actor=CONSOLE) == []
    allowing.dispose()


def test_a_refused_url_is_explained_on_the_form(as_manager: PortalClient, db: Database, world: World) -> None:
    refused = as_manager.post(PAGE, {"domain": world.alpha, "url": "http://10.1.2.3/x", "events": ["message.bounced"]}, token_page=PAGE)
    assert refused.status_code == 422 and "non-public address" in text_of(refused)
    assert webhooks.list_webhooks(db, actor=CONSOLE) == []
    nothing_chosen = as_manager.post(PAGE, {"domain": world.alpha, "url": "https://hooks.example/x"}, token_page=PAGE)
    assert nothing_chosen.status_code == 422 and "Choose at least one event." in text_of(nothing_chosen)


def test_a_disabled_webhook_is_shown_so(as_manager: PortalClient, db: Database, world: World) -> None:
    allowing = Database(dataclasses.replace(db.settings, webhook_allow_private=True))
    issued = webhooks.create_webhook(allowing, world.alpha, "http://127.0.0.1:9/x", ["message.failed"], actor=CONSOLE)
    allowing.dispose()
    with db.session.begin() as s:
        hook = s.get(Webhook, issued.webhook.id)
        assert hook is not None
        hook.disabled_at, hook.last_error = webhooks.as_utc(hook.created_at), "HTTP 500"
    listing = text_of(as_manager.get(PAGE))
    assert "Disabled since" in listing and "Last error: HTTP 500" in listing


def test_staff_and_other_domains_see_no_webhooks(
    as_staff: PortalClient, client_factory: Callable[[], PortalClient], db: Database, world: World
) -> None:
    assert as_staff.get(PAGE).status_code == 403
    allowing = Database(dataclasses.replace(db.settings, webhook_allow_private=True))
    issued = webhooks.create_webhook(allowing, world.beta, "http://127.0.0.1:9/x", ["message.failed"], actor=CONSOLE)
    allowing.dispose()
    manager = client_factory()
    assert manager.login(world.manager).status_code == 302
    assert "127.0.0.1:9" not in text_of(manager.get(PAGE))
    assert manager.get(f"/webhooks/{issued.webhook.id}/delete").status_code == 404
