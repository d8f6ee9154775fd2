"""Content scanning at the MX by a real rspamd (tests/rspamd/), and the domains' sender allow and
block lists: rspamd's action decides refusal (550), deferral (451), the Junk folder or the inbox;
every scanned message carries X-Spam-Score; rspamd down loses nothing and is counted."""

from __future__ import annotations

import functools
import json
import re
import smtplib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from services.admin import create_app
from services.smtp.replies import S451_SPAM_DEFERRED
from shared.mail import rspamd
from shared.mail.lineends import BARE_LF
from shared.storage.db import Database
from shared.storage.maildirs import JUNK_FOLDER, list_messages
from shared.storage.models import Domain, SenderListing, SenderRule
from tests.dnsserver import DnsServer
from tests.rspamd.stub import RspamdStub

from .conftest import StartSmtp
from .support import ALICE, BOB, RunningSmtp, corpus_dir, maildir_messages, mx_client, submit
from .test_smtp_clients import REFUSED, stored_body

pytestmark = pytest.mark.integration

GTUBE_TAIL = "*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# rspamd's test patterns (options.enable_test_patterns): the first letter picks the action.
GTUBE = "XJS" + GTUBE_TAIL  # reject
ADD_HEADER = "YJS" + GTUBE_TAIL
REWRITE_SUBJECT = "ZJS" + GTUBE_TAIL
NO_ACTION = "AJS" + GTUBE_TAIL
SENDER = "news@sender.example"


def message(body: str, sender: str = SENDER, subject: str = "hello") -> bytes:
    return (
        f"From: Sender <{sender}>\r\nTo: <{ALICE}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@sender.example>\r\n\r\n{body}\r\n"
    ).encode()


def send(server: RunningSmtp, content: bytes, sender: str = SENDER, source_ip: str = "127.0.0.2") -> tuple[int, bytes]:
    """(code, text) of the answer to the end of DATA, from an MX client at `source_ip`."""
    with smtplib.SMTP("127.0.0.1", server.mx, timeout=30, source_address=(source_ip, 0)) as client:
        client.ehlo("client.sender.example")
        client.mail(sender)
        assert client.rcpt(ALICE)[0] == 250
        return client.data(content)


def inbox(server: RunningSmtp) -> list[bytes]:
    return maildir_messages(server.settings, ALICE)


def junk(server: RunningSmtp) -> list[bytes]:
    local, _at, domain = ALICE.partition("@")
    return [m.path.read_bytes() for m in list_messages(server.settings.mail_root / domain / local / JUNK_FOLDER)]


def header_block(stored: bytes) -> bytes:
    return stored.split(b"\r\n\r\n", 1)[0]


@pytest.fixture
def start_mx(start_smtp: StartSmtp, tmp_path: Path) -> Iterator[StartSmtp]:
    """start_smtp with the suite's DNS on a test server that answers nothing (the client's reverse
    name is looked up for rspamd): no query leaves loopback."""
    with DnsServer([], tmp_path / "dns", zones=("invalid",)) as dns:
        yield functools.partial(start_smtp, dns_resolver=(dns.address,))


@pytest.fixture
def scanned(start_mx: StartSmtp, rspamd_url: str) -> RunningSmtp:
    return start_mx(rspamd_url=rspamd_url)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, never listening: connections are refused)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


def list_sender(db: Database, domain: str, sender: str, listing: SenderListing) -> None:
    with db.session.begin() as s:
        domain_id = s.scalar(select(Domain.id).where(Domain.name == domain))
        s.add(SenderRule(domain_id=domain_id, sender=sender, listing=listing))


def test_gtube_is_refused_with_550_and_nothing_is_kept(scanned: RunningSmtp) -> None:
    before = inbox(scanned), junk(scanned)
    code, text = send(scanned, message(GTUBE))
    assert (code, text[:5]) == (550, b"5.7.1")
    assert (inbox(scanned), junk(scanned)) == before


def test_a_clean_message_reaches_the_inbox_with_its_score(scanned: RunningSmtp) -> None:
    content = message("Lunch tomorrow at noon?", subject="lunch")
    assert send(scanned, content)[0] == 250
    stored = inbox(scanned)[-1]
    headers = header_block(stored)
    assert b"\r\nX-Spam-Score: " in b"\r\n" + headers
    assert b"X-Spam: Yes" not in headers and b"X-Spam-Reasons" not in headers
    assert stored.endswith(content)
    assert junk(scanned) == []


@pytest.mark.parametrize("pattern", [ADD_HEADER, REWRITE_SUBJECT])
def test_junk_verdicts_land_in_the_junk_folder_marked(scanned: RunningSmtp, pattern: str) -> None:
    inbox_before = inbox(scanned)
    content = message(pattern, subject="junk")
    assert send(scanned, content)[0] == 250
    assert inbox(scanned) == inbox_before
    [stored] = junk(scanned)
    headers = header_block(stored)
    assert b"X-Spam: Yes\r\n" in headers and b"X-Spam-Reasons: " in headers and b"X-Spam-Score: " in headers
    assert stored.endswith(content)


def test_no_action_is_the_inbox(scanned: RunningSmtp) -> None:
    assert send(scanned, message(NO_ACTION, subject="fine"))[0] == 250
    assert b"X-Spam-Score: " in header_block(inbox(scanned)[-1]) and junk(scanned) == []


def test_submission_is_not_scanned(scanned: RunningSmtp) -> None:
    with submit(scanned) as client:
        client.sendmail(ALICE, ["bob@hosted.example"], message(GTUBE, sender=ALICE))
    stored = maildir_messages(scanned.settings, "bob@hosted.example")[-1]
    assert b"X-Spam-Score" not in header_block(stored)


def test_rspamd_down_accepts_unscanned_and_counts_it(start_mx: StartSmtp, closed_port: int) -> None:
    server = start_mx(rspamd_url=f"http://127.0.0.1:{closed_port}", metrics_token="scrape-token")
    counted = rspamd.unscanned_count(server.settings)
    content = message(GTUBE, subject="while rspamd is down")
    assert send(server, content)[0] == 250
    stored = inbox(server)[-1]
    assert stored.endswith(content) and b"X-Spam-Score" not in header_block(stored)
    assert rspamd.unscanned_count(server.settings) == counted + 1
    portal = create_app(server.settings, database=server.db).test_client()
    scraped = portal.get("/metrics", headers={"Authorization": "Bearer scrape-token"}).get_data(as_text=True)
    assert f"\nbeaconmail_rspamd_unscanned_total {counted + 1}\n" in scraped


def test_a_blocked_sender_is_refused_at_the_end_of_data(start_mx: StartSmtp) -> None:
    """Without rspamd too: the lists are the domain's own."""
    server = start_mx()
    list_sender(server.db, "hosted.example", "sender.example", SenderListing.BLOCK)
    before = inbox(server)
    assert send(server, message("hi"))[:2] == (550, b"5.7.1 Sender blocked by the recipient's domain")
    assert inbox(server) == before


def test_a_blocked_from_address_is_refused_whatever_the_envelope(start_mx: StartSmtp) -> None:
    server = start_mx()
    list_sender(server.db, "hosted.example", "boss@fake.example", SenderListing.BLOCK)
    list_sender(server.db, "hosted.example", "bounces@mailer.example", SenderListing.ALLOW)
    assert send(server, message("hi", sender="boss@fake.example"), sender="bounces@mailer.example")[0] == 550


def test_an_allowed_sender_skips_the_junk_verdict_but_not_a_reject(start_mx: StartSmtp, rspamd_url: str) -> None:
    server = start_mx(rspamd_url=rspamd_url)
    list_sender(server.db, "hosted.example", SENDER, SenderListing.ALLOW)
    assert send(server, message(ADD_HEADER, subject="allowed"))[0] == 250
    assert junk(server) == [] and b"X-Spam-Score: " in header_block(inbox(server)[-1])
    assert send(server, message(GTUBE, subject="allowed gtube"))[0] == 550


def test_another_domain_allowing_the_sender_does_not_spare_this_one(start_mx: StartSmtp, rspamd_url: str) -> None:
    server = start_mx(rspamd_url=rspamd_url)
    list_sender(server.db, "second.example", SENDER, SenderListing.ALLOW)
    assert send(server, message(ADD_HEADER, subject="elsewhere"))[0] == 250
    assert len(junk(server)) == 1



@pytest.mark.parametrize("action", ["soft reject", "greylist"])
def test_deferring_actions_are_451(start_mx: StartSmtp, action: str) -> None:
    """A real rspamd greylists only with redis; a stub says it here."""
    with RspamdStub(json.dumps({"action": action, "score": 5.0, "symbols": {}}).encode()) as stub:
        server = start_mx(rspamd_url=stub.url)
        before = inbox(server)
        assert send(server, message("later"))[:2] == (451, b"4.7.1 Message deferred by the spam filter, try again later")
    assert inbox(server) == before


SPAM_FIELDS = re.compile(rb"(?:X-Spam(?:-Score|-Reasons)?: [^\r]*\r\n)+")
# Our MX's sender authentication (shared.mail.authentication) writes this below them.
OUR_RESULTS = re.compile(rb"Authentication-Results: mx\.hosted\.example; [^\r]*\r\n")


def test_the_corpus_arrives_byte_identical_apart_from_the_added_header_fields(scanned: RunningSmtp) -> None:
    """Every corpus message through the scanning MX: what is stored (inbox or Junk) is Return-Path,
    the X-Spam fields, our Received, then exactly what was sent. rspamd's rules judge some of the
    corpus's odd messages (raw 8-bit headers, ...) worth a greylisting: those may be deferred,
    with the spam filter's reply, and nothing else may happen to any message."""
    mismatched, refused, accepted = [], [], 0
    with mx_client(scanned) as client:
        client.ehlo("corpus.example")
        for path in sorted(corpus_dir().glob("*.eml")):
            sent = BARE_LF.sub(b"\r\n", path.read_bytes())
            client.mail("corpus@remote.example")
            client.rcpt(BOB)
            code, text = client.data(sent)
            if path.name in REFUSED:
                assert (code, text[:5]) == REFUSED[path.name], path.name
                continue
            if code != 250:
                refused.append((path.name, code, text))
                continue
            accepted += 1
            stored = max(
                [*list_messages(scanned.settings.mail_root / "hosted.example" / "bob"),
                 *list_messages(scanned.settings.mail_root / "hosted.example" / "bob" / JUNK_FOLDER)],
                key=lambda message: message.path.stat().st_mtime_ns,
            ).path.read_bytes()
            return_path, rest = stored.split(b"\r\n", 1)
            scored = SPAM_FIELDS.match(rest)
            expected = sent if sent.endswith(b"\r\n") else sent + b"\r\n"
            results = OUR_RESULTS.match(rest, scored.end()) if scored else None
            unscored = return_path + b"\r\n" + rest[results.end() :] if scored and results else b""
            if scored is None or b"X-Spam-Score: " not in scored.group() or stored_body(unscored) != expected:
                mismatched.append(path.name)
    assert mismatched == []
    assert {(code, text) for _name, code, text in refused} <= {(451, str(S451_SPAM_DEFERRED)[4:].encode())}, refused
    assert accepted >= 30  # of 39 accepted without rspamd: most of the corpus is ordinary mail
