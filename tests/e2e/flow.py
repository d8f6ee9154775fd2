"""The end-to-end flow of issue 6, run against any deployment (the embedded `beaconmail up`
or the compose topology): provision through the JSON API, submit with swaks and msmtp,
receive on the MX port, relay to the smarthost with DKIM, collect with fetchmail, mpop and
curl, and take a small mailbox through full, emptied and used again."""
from __future__ import annotations

import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dkim

from shared.accounts.tokens import create_token
from shared.accounts.views import CONSOLE
from shared.config import load_settings
from shared.mail.dkimkeys import SELECTOR, dns_record, key_path
from shared.storage.db import Database
from shared.storage.maildirs import maildir_relative_path

from .mailclients import (
    HOST,
    Account,
    curl_list,
    curl_retrieve,
    fetchmail_collect,
    mpop_collect,
    msmtp_send,
    swaks_submit,
)
from .smarthost import Collector, Relayed

DOMAIN = "beacon.test"
ALICE = Account(f"alice@{DOMAIN}", "Alice-e2e-pass-1")
BOB = Account(f"bob@{DOMAIN}", "Bob-e2e-pass-2")
ALIAS, GROUP = f"sales@{DOMAIN}", f"team@{DOMAIN}"
REMOTE = "far@remote.test"
BOB_QUOTA = 64 * 1024
FILLER_SIZE = 12 * 1024
RELAY_TIMEOUT = 30.0
# What a server or a collecting client may put in front of a message: trace fields only.
# Added on the way in: Authentication-Results by our MX (RFC 8601), above its Received.
TRACE_FIELDS = {b"return-path", b"received", b"delivered-to", b"authentication-results"}


@dataclass(frozen=True)
class Deployment:
    admin_url: str
    database_url: str
    admin_address: str
    submission_port: int
    mx_port: int
    pop3_port: int
    mail_root: Path
    data_dir: Path  # the smtp service's, where its DKIM keys are
    ca_file: Path  # the self-signed certificate smtp and pop3 present


class AdminApi:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/api/v1{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, json.loads(raw) if raw else None

    def create(self, path: str, body: dict[str, Any]) -> Any:
        status, reply = self.call("POST", path, body)
        assert status == 201, (path, status, reply)
        return reply


def issue_token(deployment: Deployment) -> str:
    """The API token of the deployment's first admin, made with shared's token functions (the
    portal's token page needs a browser; there is no CLI command for it)."""
    settings = load_settings(
        {"BEACONMAIL_DATABASE_URL": deployment.database_url, "BEACONMAIL_DATA_DIR": str(deployment.data_dir),
         "BEACONMAIL_SECRET_KEY": "unused-by-this-process"}
    )
    database = Database(settings)
    try:
        return create_token(database, deployment.admin_address, name="e2e", read_only=False, actor=CONSOLE).secret
    finally:
        database.dispose()


def message(subject: str, sender: str, to: str, *extra_body: str) -> bytes:
    """A message with a leading-dot line (dot-stuffing), a `From ` line (mbox quoting) and UTF-8."""
    lines = [
        f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Message-ID: <{uuid.uuid4().hex}@e2e.test>",
        "Date: Thu, 26 Nov 2026 10:00:00 +0000", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit", "", f"{subject}: the body.", ".a line that starts with a dot",
        "..and one with two", "From the start of a line", "Grüße aus Köln", *extra_body,
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def message_id(content: bytes) -> bytes:
    for line in content.replace(b"\r\n", b"\n").split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip()
        if not line:
            break
    raise AssertionError(f"no Message-ID in {content[:300]!r}")


def assert_intact(
    retrieved: bytes, original: bytes, line_end: bytes = b"\r\n", allowed: set[bytes] = TRACE_FIELDS
) -> None:
    """`retrieved` is `original` byte for byte, after trace fields (or other `allowed` ones) only."""
    expected = original.replace(b"\r\n", line_end)
    assert retrieved.endswith(expected), f"content changed:\n{retrieved!r}\nexpected to end with\n{expected!r}"
    prefix = retrieved[: len(retrieved) - len(expected)]
    assert not prefix or prefix.endswith(line_end), prefix
    for line in prefix.split(line_end)[:-1]:
        assert line[:1] in (b" ", b"\t") or line.split(b":", 1)[0].lower() in allowed, line


def provision(api: AdminApi) -> None:
    """Step 1: a domain, two mailboxes (Bob's small), an alias to Bob, a group of both."""
    assert api.create("/domains", {"name": DOMAIN})["name"] == DOMAIN
    api.create("/mailboxes", {"address": ALICE.address, "password": ALICE.password})
    created = api.create("/mailboxes", {"address": BOB.address, "password": BOB.password, "quota_bytes": BOB_QUOTA})
    assert created["mailbox"]["quota_bytes"] == BOB_QUOTA
    assert api.create("/aliases", {"source": ALIAS, "destinations": [BOB.address]})["destinations"] == [BOB.address]
    assert sorted(api.create("/groups", {"address": GROUP, "members": [ALICE.address, BOB.address]})["members"]) == [
        ALICE.address, BOB.address
    ]


def wait_for_relayed(smarthost: Collector, content: bytes) -> Relayed:
    wanted = message_id(content)
    deadline = time.monotonic() + RELAY_TIMEOUT
    while time.monotonic() < deadline:
        for relayed in smarthost.messages():
            if message_id(relayed.content) == wanted:
                return relayed
        time.sleep(0.2)
    raise AssertionError(f"the smarthost got nothing with Message-ID {wanted!r} in {RELAY_TIMEOUT:g} s")


def check_relayed(deployment: Deployment, smarthost: Collector, content: bytes) -> None:
    """Step 6: the remote copy reached the smarthost intact, with a valid DKIM signature."""
    relayed = wait_for_relayed(smarthost, content)
    # the VERP return path of the message's log entry, at the sender's domain
    assert relayed.sender.startswith("verp=") and relayed.sender.endswith(f"@{DOMAIN}") and relayed.recipients == (REMOTE,)
    assert_intact(relayed.content, content, allowed=TRACE_FIELDS | {b"dkim-signature"})
    settings = load_settings({"BEACONMAIL_DATA_DIR": str(deployment.data_dir), "BEACONMAIL_SECRET_KEY": "unused"})
    assert key_path(settings, DOMAIN).exists(), "no DKIM key in the smtp service's data folder"
    selector, record = dns_record(settings, DOMAIN)
    published = {f"{selector}._domainkey.{DOMAIN}.": record.encode()}
    assert b"DKIM-Signature:" in relayed.content and f"s={SELECTOR}".encode() in relayed.content
    assert dkim.verify(relayed.content, dnsfunc=lambda name, timeout=5: published.get(name.decode()))


def receive_on_mx(port: int) -> bytes:
    """Step 3b: an unauthenticated client may deliver to a hosted address, not relay elsewhere."""
    content = message("from outside", "someone@outside.test", ALICE.address)
    with smtplib.SMTP(HOST, port, timeout=30) as client:
        client.ehlo("outside.test")
        assert client.mail("someone@outside.test")[0] == 250
        assert client.rcpt(ALICE.address)[0] == 250
        refused, reply = client.rcpt("victim@foreign.test")
        assert 500 <= refused < 600, (refused, reply)
        code, reply = client.data(content)
        assert code == 250, reply
    return content


def collect_and_compare(deployment: Deployment, folder: Path, expected: dict[str, list[bytes]]) -> None:
    """Step 4: fetchmail and mpop (kept on the server) and curl see every message intact."""
    for account in (ALICE, BOB):
        originals = {message_id(content): content for content in expected[account.address]}
        fetched = fetchmail_collect(deployment.pop3_port, account, folder / f"fetchmail-{account.address}")
        mpopped = mpop_collect(deployment.pop3_port, account, folder / f"mpop-{account.address}", keep=True)
        listing = curl_list(deployment.pop3_port, account, deployment.ca_file)
        curled = [curl_retrieve(deployment.pop3_port, account, deployment.ca_file, n) for n, _size in listing]
        for retrieved, line_end in [(m, b"\n") for m in fetched + mpopped] + [(m, b"\r\n") for m in curled]:
            assert_intact(retrieved, originals[message_id(retrieved)], line_end)
        for copies in (fetched, mpopped, curled):
            assert sorted(message_id(m) for m in copies) == sorted(originals), account.address
        assert [size for _n, size in listing] == [len(m) for m in curled]


def submit(port: int, content: bytes, recipient: str) -> int:
    """One submission over STARTTLS with AUTH; the reply code (250, or why it was refused)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP(HOST, port, timeout=30) as client:
        client.starttls(context=context)
        client.login(ALICE.address, ALICE.password)
        try:
            client.sendmail(ALICE.address, [recipient], content)
        except smtplib.SMTPRecipientsRefused as refused:
            return refused.recipients[recipient][0]
        except smtplib.SMTPDataError as error:
            return error.smtp_code
    return 250


def fill_empty_and_reuse(deployment: Deployment, folder: Path) -> None:
    """Step 5: fill Bob's mailbox until SMTP refuses, delete over POP3, send again."""
    filler = "x" * 76
    codes: list[int] = []
    while not codes or codes[-1] == 250:
        assert len(codes) < 2 * BOB_QUOTA // FILLER_SIZE, f"never refused: {codes}"
        big = message(f"filler {len(codes)}", ALICE.address, BOB.address, *[filler] * (FILLER_SIZE // 78))
        codes.append(submit(deployment.submission_port, big, BOB.address))
    assert codes[-1] in (452, 552), codes
    mpop_collect(deployment.pop3_port, BOB, folder / "mpop-empty", keep=False)
    assert curl_list(deployment.pop3_port, BOB, deployment.ca_file) == []
    assert submit(deployment.submission_port, message("after", ALICE.address, BOB.address), BOB.address) == 250


def assert_usage_matches_disk(api: AdminApi, deployment: Deployment, account: Account) -> None:
    status, mailbox = api.call("GET", f"/mailboxes/{account.address}")
    assert status == 200, mailbox
    local, domain = account.address.split("@")
    maildir = deployment.mail_root / maildir_relative_path(domain, local)
    files = [path for part in ("new", "cur") for path in (maildir / part).iterdir()]
    assert (mailbox["used_bytes"], mailbox["messages"]) == (sum(f.stat().st_size for f in files), len(files))


def run_end_to_end(deployment: Deployment, smarthost: Collector, folder: Path) -> None:
    api = AdminApi(deployment.admin_url, issue_token(deployment))
    provision(api)
    first = message("first", ALICE.address, f"{ALIAS}, {GROUP}, {REMOTE}")
    transcript = swaks_submit(deployment.submission_port, ALICE, [ALIAS, GROUP, REMOTE], first, folder)
    assert "STARTTLS" in transcript and "235 " in transcript, transcript
    second = message("second", ALICE.address, BOB.address)
    msmtp_send(deployment.submission_port, ALICE, [BOB.address], second, folder)
    from_outside = receive_on_mx(deployment.mx_port)
    collect_and_compare(
        deployment, folder, {ALICE.address: [first, from_outside], BOB.address: [first, second]}
    )
    check_relayed(deployment, smarthost, first)
    fill_empty_and_reuse(deployment, folder)
    for account in (ALICE, BOB):
        assert_usage_matches_disk(api, deployment, account)
