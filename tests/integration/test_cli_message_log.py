"""`beaconmail log search` and `beaconmail queue list|retry|bounce`: the lines and JSON scripts
read, the bounce a give-up sends, the audit trail, and one-line failures."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.storage.db import Database
from shared.storage.maildirs import list_messages
from shared.storage.models import OutboundRecipient
from tests.integration.test_cli import fails, ok, run  # noqa: F401 - `run` is a fixture
from tests.messagelog import accept

ALICE, BOB = "alice@example.com", "bob@example.com"


@pytest.fixture
def seeded(run, db: Database) -> tuple[object, str, str]:  # type: ignore[no-untyped-def]  # noqa: F811
    ok(run("domain", "add", "example.com"))
    ok(run("mailbox", "add", ALICE, "--password", "x-password-1"))
    ok(run("mailbox", "add", BOB, "--password", "x-password-1"))
    inbound = accept(db, "Sender@Remote.example", local=[BOB], message_id="in@remote.example")
    outbound = accept(db, ALICE, remote=["far@remote.example", "near@remote.example"], via="submission")
    return run, inbound, outbound


def test_log_search_prints_one_line_per_recipient_or_json(seeded) -> None:  # type: ignore[no-untyped-def]
    cli, inbound, outbound = seeded
    lines = ok(cli("log", "search")).splitlines()
    fields = [line.split("\t") for line in lines]
    assert [(f[0], f[2], f[3], f[4], f[5], f[6]) for f in fields] == [
        (outbound, "submission", ALICE, "far@remote.example", "queued", "-"),
        (outbound, "submission", ALICE, "near@remote.example", "queued", "-"),
        (inbound, "mx", "sender@remote.example", BOB, "delivered", "-"),
    ]
    assert ok(cli("log", "search", "--recipient", BOB)).split("\t")[0] == inbound
    assert ok(cli("log", "search", "--sender", ALICE, "--status", "delivered")) == ""
    assert ok(cli("log", "search", "--message-id", "<in@remote.example>")).split("\t")[0] == inbound
    [record] = json.loads(ok(cli("log", "search", "--status", "delivered", "--json")))
    assert record["id"] == inbound and record["recipients"][0]["status"] == "delivered"
    assert "'sent' is not one of 'queued'" in fails(cli("log", "search", "--status", "sent"))


def test_queue_list_retry_and_bounce_are_audited(seeded, db: Database) -> None:  # type: ignore[no-untyped-def]
    cli, _inbound, outbound = seeded
    listed = [line.split("\t") for line in ok(cli("queue", "list")).splitlines()]
    assert [(f[0], f[1], f[2], f[3]) for f in listed] == [
        (outbound, ALICE, "far@remote.example", "0"),
        (outbound, ALICE, "near@remote.example", "0"),
    ]
    assert json.loads(ok(cli("queue", "list", "--json")))[0]["next_attempt_at"]
    assert ok(cli("queue", "retry", outbound)) == f"{outbound}\t2 recipients due now\n"
    assert ok(cli("queue", "bounce", outbound)) == f"{outbound}\t2 recipients bounced\n"
    assert ok(cli("queue", "list")) == ""
    with db.session.begin() as s:
        assert list(s.scalars(select(OutboundRecipient.id))) == []
    bounced = json.loads(ok(cli("log", "search", "--sender", ALICE, "--json")))[0]["recipients"]
    assert {(r["address"], r["status"]) for r in bounced} == {
        ("far@remote.example", "bounced"), ("near@remote.example", "bounced")
    }
    assert any(b"delivery given up by an administrator" in m for m in _mails(db, ALICE))
    actions = [entry.action for entry in accounts.list_audit(db, actor=CONSOLE)]
    assert actions[:2] == ["queue.bounce", "queue.retry"]
    assert "no queued message" in fails(cli("queue", "retry", outbound))
    assert "no queued message" in fails(cli("queue", "bounce", "not-an-id"))


def _mails(db: Database, address: str) -> list[bytes]:
    local, _at, domain = address.partition("@")
    return [message.path.read_bytes() for message in list_messages(db.settings.mail_root / domain / local)]
