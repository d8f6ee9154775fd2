"""Message ids of the quarantine from outside: a path out of the Junk folder, another mailbox's
message, an inbox message, a released id used again. Each must name nothing and touch nothing;
the files they aim at are planted so that a guard that lets one through loses a message."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from integration.admin.support import PASSWORD, PortalClient, World, bearer
from werkzeug.test import TestResponse

from services.admin import create_app
from shared import accounts
from shared.accounts.passwords import hash_password
from shared.accounts.quarantine import delete_junk_message, release_junk_message
from shared.accounts.views import CONSOLE
from shared.errors import InvalidValue, NotFound
from shared.storage import maildirs
from shared.storage.db import Database
from tests.junkmail import SPAM, maildir_of, put_in_junk

# Ids aimed at files outside the Junk folder, relative to .Junk/new/ or .Junk/cur/.
TRAVERSALS = ("../../new/{uid}", "..\\..\\new\\{uid}", "../../../someone/new/{uid}", "/{path}", "..", ".", "../cur")


@pytest.fixture
def world(db: Database) -> World:
    people = World()
    for domain in (people.alpha, people.beta):
        accounts.create_domain(db, domain, actor=CONSOLE)
    for address in (people.admin, people.staff, people.other):
        accounts.create_mailbox(db, address, hash_password(PASSWORD), password_is_hash=True, actor=CONSOLE)
    accounts.grant_role(db, people.admin, global_admin=True, actor=CONSOLE)
    return people


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app(db.settings, database=db)


def inbox_message(db: Database, address: str) -> Path:
    return maildirs.publish(maildirs.write_pending(maildir_of(db, address), SPAM))


def everything_on_disk(db: Database) -> list[str]:
    return sorted(str(path) for path in db.settings.mail_root.rglob("*") if path.is_file())


def attempts(app: Flask, db: Database, world: World, message_id: str) -> list[TestResponse]:
    """The id sent by the staff user's browser and by a global admin's API token, to release and delete."""
    portal = PortalClient(app.test_client())
    portal.login(world.staff)
    api, admin = app.test_client(), bearer(db, world.admin, read_only=False)
    quoted = message_id.replace("%", "%25").replace("/", "%2F").replace("?", "%3F").replace("#", "%23")
    base = f"/api/v1/mailboxes/{world.staff}/junk/{quoted}"
    return [
        portal.post(f"/account/junk/{quoted}/release", token_page="/account/junk"),
        portal.post(f"/account/junk/{quoted}/delete", token_page="/account/junk"),
        api.post(f"{base}/release", headers=admin),
        api.delete(base, headers=admin),
    ]


def test_ids_that_leave_the_junk_folder_touch_nothing(app: Flask, db: Database, world: World) -> None:
    """Over HTTP a `/` never reaches the view (the router takes it); a caller of the use case
    (the command line, a later service) passes ids as they are."""
    put_in_junk(db, world.staff)
    own_inbox, their_inbox = inbox_message(db, world.staff), inbox_message(db, world.other)
    before = everything_on_disk(db)
    for pattern in TRAVERSALS:
        for target in (own_inbox, their_inbox):
            message_id = pattern.format(uid=target.name, path=str(target).lstrip("/"))
            for response in attempts(app, db, world, message_id):
                assert response.status_code in (400, 404), (message_id, response.request.path)
            for change in (release_junk_message, delete_junk_message):
                with pytest.raises((InvalidValue, NotFound)):
                    change(db, world.staff, message_id, actor=CONSOLE)
    assert everything_on_disk(db) == before


def test_another_mailboxs_message_and_an_inbox_message_name_nothing(app: Flask, db: Database, world: World) -> None:
    theirs = put_in_junk(db, world.other)
    in_inbox = maildirs.uid_of(inbox_message(db, world.staff).name)
    before = everything_on_disk(db)
    for message_id in (theirs, in_inbox):
        for response in attempts(app, db, world, message_id):
            assert response.status_code == 404, (message_id, response.request.path)
    assert everything_on_disk(db) == before


def test_a_released_id_cannot_reach_the_inbox_copy(app: Flask, db: Database, world: World) -> None:
    uid = put_in_junk(db, world.staff)
    api, admin = app.test_client(), bearer(db, world.admin, read_only=False)
    assert api.post(f"/api/v1/mailboxes/{world.staff}/junk/{uid}/release", headers=admin).status_code == 204
    released = everything_on_disk(db)
    counters = accounts.get_mailbox(db, world.staff, actor=CONSOLE)
    for response in attempts(app, db, world, uid):
        assert response.status_code == 404, response.request.path
    assert everything_on_disk(db) == released
    assert [m.uid for m in maildirs.list_messages(maildir_of(db, world.staff))] == [uid]
    assert accounts.get_mailbox(db, world.staff, actor=CONSOLE) == counters
