"""What any local process may send to the auth policy endpoint of `beaconmail imap`'s listener
(services/imap/policy.py): only a request on the secret path is answered; a malformed one is
refused and counts nothing; a report that Dovecot's own refusal caused (policy_reject) is no
new failure; and a reported failure or success moves the one lockout that every service reads."""
from __future__ import annotations

import dataclasses
import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from services.imap.changes import ChangeListener
from shared.accounts import authenticate, create_domain, create_mailbox, get_mailbox
from shared.accounts.views import CONSOLE
from shared.errors import AuthFailed
from shared.storage.db import Database
from shared.storage.models import LoginFailure

ADDRESS, PASSWORD, GUESSER = "alice@policy.example", "alice's password", "198.51.100.9"


@pytest.fixture
def listener(db: Database) -> Iterator[ChangeListener]:
    strict = Database(dataclasses.replace(db.settings, login_max_failures=3))
    create_domain(strict, "policy.example", actor=CONSOLE)
    create_mailbox(strict, ADDRESS, PASSWORD, actor=CONSOLE)
    with ChangeListener(strict) as running:
        yield running
    strict.dispose()


def ask(listener: ChangeListener, command: str, fields: object, *, path: str | None = None) -> tuple[int, object]:
    url = urlsplit(listener.url)
    connection = http.client.HTTPConnection(str(url.hostname), url.port, timeout=10)
    try:
        body = fields if isinstance(fields, bytes) else json.dumps(fields).encode()
        connection.request("POST", path or f"{url.path}/policy?command={command}", body,
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if response.status == 200 else None
    finally:
        connection.close()


def failures(listener: ChangeListener) -> int:
    with listener.db.session.begin() as s:
        return s.scalar(select(func.coalesce(func.sum(LoginFailure.failures), 0))) or 0


def test_only_the_secret_path_is_answered(listener: ChangeListener) -> None:
    request = {"login": ADDRESS, "remote": GUESSER, "success": False}
    assert ask(listener, "report", request, path="/policy?command=report")[0] == 404
    assert ask(listener, "report", request, path="/wrong-secret/policy?command=report")[0] == 404
    assert failures(listener) == 0


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"login": 5, "remote": "1.2.3.4"}', b'{"login": "a@b.c"}'])
def test_malformed_requests_are_refused_and_count_nothing(listener: ChangeListener, body: bytes) -> None:
    assert ask(listener, "report", body)[0] == 400
    assert ask(listener, "launch", {"login": ADDRESS, "remote": GUESSER})[0] == 400
    assert failures(listener) == 0


def test_reports_move_the_shared_lockout_and_allow_answers_from_it(listener: ChangeListener) -> None:
    for _ in range(2):
        assert ask(listener, "report", {"login": ADDRESS, "remote": GUESSER, "success": False}) == (200, {"status": 0, "msg": ""})
    assert ask(listener, "report", {"login": ADDRESS, "remote": GUESSER, "success": False, "policy_reject": True})[0] == 200
    assert failures(listener) == 2  # Dovecot's report of our own refusal is not a new failure
    assert ask(listener, "allow", {"login": ADDRESS.upper(), "remote": GUESSER}) == (200, {"status": 0, "msg": ""})
    with pytest.raises(AuthFailed):  # a third failure, over POP3 this time
        authenticate(listener.db, ADDRESS, "guess", "pop3", GUESSER)
    assert ask(listener, "allow", {"login": ADDRESS, "remote": GUESSER}) == (200, {"status": -1, "msg": ""})
    assert ask(listener, "allow", {"login": ADDRESS, "remote": "192.0.2.1"}) == (200, {"status": 0, "msg": ""})
    with pytest.raises(AuthFailed):
        authenticate(listener.db, ADDRESS, PASSWORD, "smtp", GUESSER)


def test_a_reported_success_is_the_imap_last_login(listener: ChangeListener) -> None:
    ask(listener, "report", {"login": ADDRESS, "remote": "192.0.2.77", "success": True, "app_password": ""})
    login = get_mailbox(listener.db, ADDRESS, actor=CONSOLE).last_login("imap")
    assert login is not None and login.client_ip == "192.0.2.77"
