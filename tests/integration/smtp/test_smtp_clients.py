"""Real clients: swaks and curl submit over STARTTLS with AUTH, and every message of the shared
corpus lands byte-identical apart from the prepended trace headers, a Date or Message-ID
submission adds where the client left it out, and CRLF line ends."""

from __future__ import annotations

import re
import shutil
import subprocess
from email.parser import BytesHeaderParser

import pytest

from shared.runtime.tls import ensure_tls_pair

from .support import (
    ALICE,
    ALICE_PW,
    BOB,
    RunningSmtp,
    corpus_dir,
    maildir_messages,
    message_count,
    newest_message,
    submit,
)

pytestmark = pytest.mark.integration
_BARE_LF = re.compile(rb"(?<!\r)\n")
# Refused on purpose (RFC 5321 §4.5.3.1.6 line limit; bare CR), with the reply the client gets.
REFUSED = {
    "019-header-line-15k-unfolded.eml": (500, b"5.5.2"),
    "021-body-line-24k-chars.eml": (500, b"5.5.2"),
    "037-bare-cr-before-crlf.eml": (550, b"5.6.0"),
}
# What submission may put in front of a message (RFC 6409 §8.2, §8.3), each field once at most.
_COMPLETED = re.compile(rb"(Date: [^\r]+\r\n)?(Message-ID: <[0-9a-f]{32}@mx\.hosted\.example>\r\n)?")


def stored_body(message: bytes) -> bytes:
    """A stored message without what we prepend: Return-Path, then our folded Received."""
    return_path, rest = message.split(b"\r\n", 1)
    assert return_path.startswith(b"Return-Path: <")
    assert rest.startswith(b"Received: from ")
    received = re.match(rb"Received: [^\r]*\r\n(?:\t[^\r]*\r\n)*", rest)
    assert received is not None
    return rest[received.end() :]


def is_completed(stored: bytes, sent: bytes) -> bool:
    """`sent` byte for byte, after at most the two fields submission adds, and then with one of each."""
    if not stored.endswith(sent) or not _COMPLETED.fullmatch(stored[: len(stored) - len(sent)]):
        return False
    fields = BytesHeaderParser().parsebytes(stored.partition(b"\r\n\r\n")[0])
    return all(len(fields.get_all(name, ())) == 1 for name in ("Date", "Message-ID"))


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_submits_over_starttls_and_implicit_tls(shared_smtp: RunningSmtp) -> None:
    before = message_count(shared_smtp.settings, BOB)
    common = ["swaks", "--server", "127.0.0.1", "--from", ALICE, "--to", BOB, "--auth", "PLAIN"]
    credentials = ["--auth-user", ALICE, "--auth-password", ALICE_PW, "--header", "Subject: from swaks"]
    for mode, port in (("--tls", shared_smtp.submission), ("--tlsc", shared_smtp.submissions)):
        result = subprocess.run([*common, "--port", str(port), mode, *credentials], capture_output=True, timeout=30)
        assert result.returncode == 0, result.stdout.decode()[-500:]
        assert b"<~  235 2.7.0" in result.stdout and b"<~  250 2.0.0" in result.stdout
    stored = maildir_messages(shared_smtp.settings, BOB)[before:]
    assert len(stored) == 2 and all(b"Subject: from swaks" in m and b"with ESMTPSA" in m for m in stored)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_submits_over_starttls_with_auth(shared_smtp: RunningSmtp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    message = tmp_path / "message.eml"
    message.write_bytes(b"From: <alice@hosted.example>\r\nTo: <bob@hosted.example>\r\nSubject: from curl\r\n\r\nhi\r\n")
    cert, _key = ensure_tls_pair(shared_smtp.settings)
    result = subprocess.run(
        [
            "curl", "--silent", "--show-error", "--url", f"smtp://127.0.0.1:{shared_smtp.submission}",
            "--ssl-reqd", "--cacert", str(cert), "--user", f"{ALICE}:{ALICE_PW}",
            "--mail-from", ALICE, "--mail-rcpt", BOB, "--upload-file", str(message),
        ],
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert newest_message(shared_smtp.settings, BOB).endswith(message.read_bytes())


def test_every_corpus_message_arrives_byte_identical(start_smtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp()  # the default 25 MiB size limit: the corpus holds messages near 2 MB
    mismatched, wrongly_refused = [], []
    with submit(server) as client:
        for path in sorted(corpus_dir().glob("*.eml")):
            sent = _BARE_LF.sub(b"\r\n", path.read_bytes())  # what a client sends: CRLF lines
            client.mail(ALICE)
            client.rcpt(BOB)
            code, text = client.data(sent)
            if path.name in REFUSED:
                assert (code, text[:5]) == REFUSED[path.name], path.name
                continue
            if code != 250:
                wrongly_refused.append((path.name, code, text))
                continue
            expected = sent if sent.endswith(b"\r\n") else sent + b"\r\n"
            if not is_completed(stored_body(newest_message(server.settings, BOB)), expected):
                mismatched.append(path.name)
    assert wrongly_refused == [] and mismatched == []
    assert message_count(server.settings, BOB) == len(list(corpus_dir().glob("*.eml"))) - len(REFUSED)
