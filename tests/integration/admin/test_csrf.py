"""Every state-changing form needs a valid CSRF token; without one: 400 and nothing changes."""
from __future__ import annotations

from collections.abc import Callable

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PASSWORD, PortalClient, World, text_of

DOMAIN_FORM = {"name": "gamma.example", "max_mailboxes": "0", "max_aliases": "0", "quota": "0", "default_mailbox_quota": "0"}


def test_forms_without_a_valid_token_change_nothing(as_admin: PortalClient, db: Database, world: World) -> None:
    for token in (None, "forged-token"):
        data = {**DOMAIN_FORM, **({"csrf_token": token} if token else {})}
        response = as_admin.client.post("/domains/new", data=data)
        assert response.status_code == 400
        assert "The form was not sent from this site" in text_of(response)
    assert "gamma.example" not in [d.name for d in accounts.list_domains(db, actor=CONSOLE)]
    assert as_admin.client.post(f"/mailboxes/{world.staff}/delete", data={"confirmation": world.staff}).status_code == 400
    assert accounts.get_mailbox(db, world.staff, actor=CONSOLE).active
    assert as_admin.client.post("/logout").status_code == 400
    assert as_admin.get("/").status_code == 200


def test_tokens_do_not_travel_between_sessions(
    client_factory: Callable[[], PortalClient], as_admin: PortalClient, db: Database, world: World
) -> None:
    stranger = client_factory()
    stolen = stranger.csrf_token()
    form = {"csrf_token": stolen, "confirmation": world.staff}
    assert as_admin.client.post(f"/mailboxes/{world.staff}/delete", data=form).status_code == 400
    assert accounts.get_mailbox(db, world.staff, actor=CONSOLE).address == world.staff
    bare_login = stranger.client.post("/login", data={"address": world.admin, "password": PASSWORD})
    assert bare_login.status_code == 400
    with stranger.client.session_transaction() as session:
        assert "_user_id" not in session
