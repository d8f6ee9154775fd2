"""The first passwords a guesser tries are refused wherever a password comes from outside: the
API's new mailbox and password change, the portal's own-password form and the CSV import,
whatever their case. Without the common-password check each of these is accepted."""
from __future__ import annotations

import pytest
from integration.admin.support import bearer
from integration.pop3.support import ALICE, BOB, DOMAIN

from services.admin import create_app
from shared import accounts
from shared.accounts.mailbox_import import plan_import
from shared.accounts.views import CONSOLE
from shared.errors import AuthFailed
from shared.storage.db import Database

from .conftest import Hosted

COMMON = ["1234567890", "Qwertyuiop", "iloveyou12", "PASSWORD123"]


@pytest.mark.parametrize("password", COMMON)
def test_the_api_refuses_a_common_password(db: Database, hosted: Hosted, password: str) -> None:
    api, auth = create_app(db.settings, database=db).test_client(), bearer(db, ALICE, read_only=False)
    created = api.post("/api/v1/mailboxes", json={"address": f"new@{DOMAIN}", "password": password}, headers=auth)
    assert created.status_code == 422 and "common" in created.get_json()["error"]["fields"]["password"][0]
    changed = api.put(f"/api/v1/mailboxes/{BOB}/password", json={"password": password}, headers=auth)
    assert changed.status_code == 422
    with pytest.raises(AuthFailed):
        accounts.authenticate(db, BOB, password, "pop3", "192.0.2.9")
    assert f"new@{DOMAIN}" not in [m.address for m in accounts.list_mailboxes(db, DOMAIN, actor=CONSOLE)]


def test_the_import_refuses_a_common_password_per_row(db: Database, hosted: Hosted) -> None:
    rows = "".join(f"user{number}@{DOMAIN},{password}\n" for number, password in enumerate(COMMON))
    plan = plan_import(db, "address,password\n" + rows, actor=CONSOLE)
    assert all(any("most common" in str(error) for error in row.errors) for row in plan.rows)
