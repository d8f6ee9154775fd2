"""The send API and webhooks over real HTTP: `beaconmail up` (gunicorn, the smtp service and its
worker) on free loopback ports, curl and a Python client (httpx) sending, a smarthost receiving
the remote copy DKIM-signed, and a loopback receiver checking the webhooks' signatures."""
from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import dkim  # type: ignore[import-untyped]
import httpx
import pytest

from shared import accounts
from shared.accounts import tokens
from shared.accounts.views import CONSOLE
from shared.config import load_settings
from shared.mail.dkimkeys import dns_record
from shared.storage.db import Database
from tests.conftest import require_programs
from tests.webhook_receiver import Receiver, webhook_receiver

from .processes import ProcessTracker
from .smarthost import Collector
from .upmode import RunningUp, start_up

pytestmark = pytest.mark.e2e

DOMAIN, SHOP, CLERK, REMOTE = "shop.example", "orders@shop.example", "clerk@shop.example", "buyer@remote.example"
DEADLINE = 30.0


def wait_until(found: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not found():
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE:g} s"
        time.sleep(0.1)


def curl(url: str, secret: str, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {secret}", *args, url],
        capture_output=True, text=True, timeout=30, check=True,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def provision(database_url: str, data_dir: Path) -> tuple[str, str]:
    """The shop's mailboxes, a send token for its orders address and a manager's token, made with shared's use cases."""
    settings = load_settings({"BEACONMAIL_DATABASE_URL": database_url, "BEACONMAIL_DATA_DIR": str(data_dir),
                              "BEACONMAIL_SECRET_KEY": "unused-by-this-process"})
    db = Database(settings)
    try:
        accounts.create_domain(db, DOMAIN, actor=CONSOLE)
        for address in (SHOP, CLERK):
            accounts.create_mailbox(db, address, "a-password-1", actor=CONSOLE)
        accounts.grant_role(db, CLERK, domain=DOMAIN, actor=CONSOLE)
        sender = tokens.create_token(db, SHOP, name="shop app", sends_mail=True, actor=CONSOLE).secret
        manager = tokens.create_token(db, CLERK, name="hooks", read_only=False, actor=CONSOLE).secret
        return sender, manager
    finally:
        db.dispose()


def test_send_over_http_relay_signed_and_report_by_webhook(
    database_url: str, smarthost: tuple[Collector, int], processes: ProcessTracker, tmp_path: Path
) -> None:
    require_programs("curl", install_hint="apt install curl")
    collector, relay_port = smarthost
    variables = {"BEACONMAIL_DATABASE_URL": database_url, "BEACONMAIL_WEBHOOK_ALLOW_PRIVATE": "1"}
    running = start_up(processes, tmp_path / "up", relay_port=relay_port, variables=variables)
    deployment = running.deployment()
    sender, manager = provision(database_url, deployment.data_dir)
    api = f"{deployment.admin_url}/api/v1"

    with webhook_receiver() as receiver:
        status, body = curl(f"{api}/webhooks", manager, "-H", "Content-Type: application/json", "--data",
                            json.dumps({"domain": DOMAIN, "url": receiver.url, "events": ["message.received", "message.delivered"]}))
        assert status == 201, body
        receiver.secret = json.loads(body)["secret"]

        request = {"from": f"Shop <{SHOP}>", "to": [CLERK, REMOTE], "subject": "Order 1", "text": "Thank you",
                   "attachments": [{"filename": "o.txt", "content_type": "text/plain",
                                    "content_base64": base64.b64encode(b"order").decode()}]}
        status, body = curl(f"{api}/messages", sender, "-H", "Content-Type: application/json", "--data", json.dumps(request))
        assert status == 202, body
        sent = json.loads(body)
        assert sent["recipients"] == [{"address": CLERK, "status": "delivered"}, {"address": REMOTE, "status": "queued"}]

        check_relayed(collector, sent, deployment.data_dir)
        check_log_lines(running, sent, relay_port)
        check_webhooks(receiver, sent)
        check_python_client(api, sender)
        status, body = curl(f"{api}/messages", sender, "-H", "Content-Type: application/json",
                            "--data", json.dumps(request | {"from": CLERK}))
        assert status == 403 and json.loads(body)["field"] == "from"
    assert running.started.stop() == 0


def check_relayed(collector: Collector, sent: dict[str, Any], data_dir: Path) -> None:
    """The remote copy left through the smarthost with a DKIM signature that verifies."""
    wait_until(lambda: collector.messages(), "relayed message")
    (relayed,) = collector.messages()
    assert relayed.recipients == (REMOTE,)
    # the VERP return path naming the message's log entry, at the sender's domain
    assert relayed.sender.startswith(f"verp={sent['id']}=") and relayed.sender.endswith(f"@{DOMAIN}")
    assert sent["message_id"].encode() in relayed.content
    selector, record = dns_record(load_settings({"BEACONMAIL_DATA_DIR": str(data_dir), "BEACONMAIL_SECRET_KEY": "x"}), DOMAIN)
    published = {f"{selector}._domainkey.{DOMAIN}.": record.encode()}
    assert relayed.content.startswith(b"DKIM-Signature:")
    assert dkim.verify(relayed.content, dnsfunc=lambda name, timeout=5: published.get(name.decode()))


def check_log_lines(running: RunningUp, sent: dict[str, Any], relay_port: int) -> None:
    """One greppable line per recipient outcome under the answer's id: the admin process for the
    send (delivered here, queued for the remote one), the smtp worker for the relay."""
    lines = (
        f"shared.mail.message_log: {sent['id']}: from=<{SHOP}> to=<{CLERK}> status=delivered relay=local reply=-",
        f"shared.mail.message_log: {sent['id']}: from=<{SHOP}> to=<{REMOTE}> status=queued relay=none reply=-",
        f"shared.mail.message_log: {sent['id']}: from=<{SHOP}> to=<{REMOTE}> status=relayed relay=127.0.0.1:{relay_port} reply=250",
    )
    wait_until(lambda: all(line in running.started.errors() for line in lines), "log line of each outcome")


def check_webhooks(receiver: Receiver, sent: dict[str, Any]) -> None:
    wait_until(lambda: len(receiver.received) >= 2, "webhook deliveries")
    assert all(request.verified for request in receiver.received)
    kinds = sorted(request.event["type"] for request in receiver.received)
    assert kinds == ["message.delivered", "message.received"]
    assert {request.event["data"]["id"] for request in receiver.received} == {sent["id"]}


def check_python_client(api: str, sender: str) -> None:
    """An application's client: the same Idempotency-Key twice sends once."""
    headers = {"Authorization": f"Bearer {sender}", "Idempotency-Key": "order-2"}
    request = {"from": SHOP, "to": [CLERK], "subject": "Order 2", "html": "<p>Thanks</p>"}
    with httpx.Client(timeout=30) as client:
        first = client.post(f"{api}/messages", json=request, headers=headers)
        again = client.post(f"{api}/messages", json=request, headers=headers)
        bad = client.post(f"{api}/messages", json={"from": SHOP, "to": ["nope"], "text": "x"}, headers={"Authorization": headers["Authorization"]})
    assert first.status_code == again.status_code == 202 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json" and bad.json()["field"] == "to[0]"

