"""Real clients against the server: curl (STLS and implicit TLS), fetchmail and mpop,
each keeping mail on the server and then taking it off. Plaintext login is refused,
so every client has to go through STLS or implicit TLS."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.runtime.tls import ensure_tls_pair
from shared.storage.db import Database

from .conftest import Accounts, StartServer
from .support import ALICE, ALICE_PW, RunningServer, deliver_to, login

pytestmark = pytest.mark.integration

MESSAGES = [b"Subject: first\r\n\r\n.dot line\r\nbody one\r\n", b"Subject: second\r\n\r\nbody two\r\n"]
STORED = [b"Return-Path: <sender@remote.example>\r\n" + message for message in MESSAGES]


def needs(program: str) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed")


def run(args: list[str], home: Path) -> bytes:
    done = subprocess.run(args, capture_output=True, timeout=60, env=os.environ | {"HOME": str(home)})
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def message_count(server: RunningServer) -> int:
    client = login(server)
    count = client.stat()[0]
    client.quit()
    return count


@pytest.fixture
def mailed(db: Database, accounts: Accounts) -> None:
    deliver_to(db, accounts.alice_id, *MESSAGES)


def test_curl_retrieves_over_stls_and_implicit_tls_and_deletes(mailed: None, start_pop3: StartServer,
                                                              tmp_path: Path) -> None:
    needs("curl")
    server = start_pop3()
    cert = str(ensure_tls_pair(server.settings)[0])
    curl = ["curl", "-sS", "--cacert", cert, "-u", f"{ALICE}:{ALICE_PW}"]
    assert run([*curl, "--ssl-reqd", f"pop3://127.0.0.1:{server.port}/1"], tmp_path) == STORED[0]
    assert run([*curl, f"pop3s://127.0.0.1:{server.tls_port}/2"], tmp_path) == STORED[1]
    listing = run([*curl, f"pop3s://127.0.0.1:{server.tls_port}/"], tmp_path)
    assert listing == b"1 %d\r\n2 %d\r\n" % (len(STORED[0]), len(STORED[1]))
    run([*curl, "--ssl-reqd", "-X", "DELE", "-I", f"pop3://127.0.0.1:{server.port}/1"], tmp_path)
    assert message_count(server) == 1


def fetchmail_rc(server: RunningServer, home: Path, keep: str) -> Path:
    rc = home / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\n"
        f"poll localhost with proto POP3 port {server.port} and options uidl\n"
        f'  user "{ALICE}" there with password "{ALICE_PW}" is "nobody" here\n'
        f'  sslproto "tls1.2+" sslcertck sslcertfile "{ensure_tls_pair(server.settings)[0]}"\n'
        f"  {keep}\n"
        f"  mda \"/bin/sh -c 'cat > {home}/fetched.$$'\"\n"
    )
    rc.chmod(0o600)
    return rc


def fetched(home: Path, pattern: str) -> list[bytes]:
    return sorted(path.read_bytes() for path in home.rglob(pattern) if path.is_file())


def test_fetchmail_keeps_then_takes_the_mail(mailed: None, start_pop3: StartServer, tmp_path: Path) -> None:
    needs("fetchmail")
    server = start_pop3()
    fetchmail = ["fetchmail", "--nodetach", "--fetchmailrc"]
    run([*fetchmail, str(fetchmail_rc(server, tmp_path, "keep"))], tmp_path)
    assert len(kept := fetched(tmp_path, "fetched.*")) == 2
    both = kept[0] + kept[1]
    assert b"body one" in both and b"\n.dot line" in both and b"..dot" not in both  # un-stuffed
    assert message_count(server) == 2
    run([*fetchmail, str(fetchmail_rc(server, tmp_path, "nokeep fetchall"))], tmp_path)
    assert len(fetched(tmp_path, "fetched.*")) == 4
    assert message_count(server) == 0


def mpop_rc(server: RunningServer, home: Path, keep: str, auth: str) -> Path:
    maildir = home / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    rc = home / "mpoprc"
    rc.write_text(
        f"account default\nhost localhost\nport {server.port}\ntls on\ntls_starttls on\n"
        f"tls_trust_file {ensure_tls_pair(server.settings)[0]}\nauth {auth}\nuser {ALICE}\npassword {ALICE_PW}\n"
        f"delivery maildir {maildir}\nkeep {keep}\nonly_new off\nuidls_file {home}/uidls\n"
    )
    rc.chmod(0o600)
    return rc


def test_mpop_keeps_then_takes_the_mail(mailed: None, start_pop3: StartServer, tmp_path: Path) -> None:
    needs("mpop")
    server = start_pop3()
    run(["mpop", "-C", str(mpop_rc(server, tmp_path, "on", "user"))], tmp_path)
    kept = fetched(tmp_path / "Maildir", "*")
    unix_form = {message.replace(b"\r\n", b"\n") for message in STORED}  # mpop's maildir has LF line ends
    assert len(kept) == 2 and {message[message.index(b"Return-Path"):] for message in kept} == unix_form
    assert message_count(server) == 2
    run(["mpop", "-C", str(mpop_rc(server, tmp_path, "off", "plain"))], tmp_path)
    assert len(fetched(tmp_path / "Maildir", "*")) == 4
    assert message_count(server) == 0
