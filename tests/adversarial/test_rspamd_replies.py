"""rspamd's request and reply cross a network: what goes out must not be rewritable by the SMTP
client, and what comes back may be anything. A reply that is not a verdict (malformed, huge, late)
means "unscanned": the message is accepted, counted, and its content decides nothing."""

from __future__ import annotations

import dataclasses
import json
import smtplib

import pytest
from integration.smtp.support import newest_message

from shared.config import Settings
from shared.mail import rspamd
from shared.storage.db import Database
from tests.rspamd.stub import RspamdStub

from .conftest import StartSmtp

pytestmark = pytest.mark.integration

REJECT = {"action": "reject", "score": 20.0, "symbols": {}}
MALFORMED = [
    b"this is not json",
    b'{"action": "reject"}',
    b'{"action": "explode", "score": 20}',
    b'{"action": "reject", "score": "NaN"}',
    b"[" * 100_000 + b"]" * 100_000,
    # a verdict padded past any size a verdict has: the client stops reading
    json.dumps(REJECT | {"padding": "x" * (2 << 20)}).encode(),
]
CONTENT = b"From: <someone@remote.example>\r\nSubject: scanned by a stub\r\n\r\nbody\r\n"


@pytest.mark.parametrize("reply", MALFORMED, ids=["text", "no-score", "unknown-action", "nan", "deep", "huge"])
def test_a_reply_that_is_no_verdict_leaves_the_message_unscanned(start_smtp: StartSmtp, reply: bytes) -> None:
    with RspamdStub(reply) as stub:
        server = start_smtp(rspamd_url=stub.url)
        counted = rspamd.unscanned_count(server.settings)
        with smtplib.SMTP("127.0.0.1", server.mx, timeout=30) as client:
            client.sendmail("someone@remote.example", ["bob@hosted.example"], CONTENT)
        assert stub.requests, "the stub was not asked"
    stored = newest_message(server.settings, "bob@hosted.example")
    assert stored.endswith(CONTENT) and b"X-Spam" not in stored.split(b"\r\n\r\n", 1)[0]
    assert rspamd.unscanned_count(server.settings) == counted + 1


def test_a_reply_that_drips_past_the_deadline_is_cut_off(db: Database) -> None:
    with RspamdStub(json.dumps(REJECT).encode(), drip_seconds=0.2) as stub:
        settings = dataclasses.replace(db.settings, rspamd_url=stub.url)
        transaction = rspamd.Transaction("127.0.0.2", "client.example", "a@remote.example", ("b@hosted.example",), "q1")
        assert rspamd.scan(settings, CONTENT, transaction, timeout=1.0) is None
        assert stub.finished_replies == 0


@pytest.mark.parametrize(
    "field", ["helo", "sender", "recipients"],
)
def test_smtp_values_cannot_add_request_headers(db: Database, field: str) -> None:
    """A value with CR LF would end its header and start another (`Pass: all`, a forged `Rcpt`):
    such a value is left out, and the message is still scanned."""
    injected = "x.example\r\nPass: all\r\nRcpt: victim@hosted.example"
    values: dict[str, object] = {"helo": "client.example", "sender": "a@remote.example", "recipients": ("b@hosted.example",)}
    values[field] = (injected,) if field == "recipients" else injected
    with RspamdStub(json.dumps(REJECT).encode()) as stub:
        settings: Settings = dataclasses.replace(db.settings, rspamd_url=stub.url)
        transaction = rspamd.Transaction(ip="127.0.0.2", queue_id="q2", **values)  # type: ignore[arg-type]
        verdict = rspamd.scan(settings, CONTENT, transaction)
        [headers] = stub.requests
    assert verdict is not None and verdict.action is rspamd.Action.REJECT
    names = [name.lower() for name, _value in headers]
    assert "pass" not in names
    assert all("victim" not in value for _name, value in headers)
