"""A real sync client: Debian's mbsync (isync) keeps a local Maildir and a mailbox in step both
ways over implicit TLS, as a laptop would, and what it leaves on the server is what IMAP and POP3
then serve."""
from __future__ import annotations

import dataclasses
import re
import smtplib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.storage.db import Database
from shared.storage.maildirs import maildir_relative_path
from tests.conftest import require_programs
from tests.integration.pop3.support import RunningServer
from tests.integration.smtp.support import RunningSmtp

from .conftest import ImapWorld
from .support import PASSWORD, imap_messages, login, pop3_messages

pytestmark = pytest.mark.integration
TUID_LINE = re.compile(rb"\nX-TUID: [A-Za-z0-9+/]{12}\r?\n(?=\r?\n)")
MESSAGES = [f"Subject: synced {n}\r\nFrom: a@remote.example\r\n\r\nbody {n}\r\n".encode() for n in range(3)]


@pytest.fixture(scope="module")
def smtp(imap_world: ImapWorld) -> Iterator[RunningSmtp]:
    server = RunningSmtp(Database(dataclasses.replace(imap_world.settings, hostname="mx.imap.example")))
    yield server
    server.stop()
    server.db.dispose()


@dataclasses.dataclass
class Mbsync:
    """One local Maildir synced with one mailbox by a generated mbsyncrc."""

    config: Path
    local: Path

    def sync(self) -> None:
        result = subprocess.run(["mbsync", "-c", str(self.config), "-a"], capture_output=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr.decode()

    def folder(self, name: str) -> Path:
        return self.local / name


def mbsync_for(world: ImapWorld, address: str, folder: Path) -> Mbsync:
    require_programs("mbsync", install_hint="apt install isync")
    local = folder / "mail"
    local.mkdir()
    cert = world.settings.data_dir / "tls" / "cert.pem"
    config = folder / "mbsyncrc"
    config.write_text(
        f"IMAPAccount remote\nHost 127.0.0.1\nPort {world.settings.imaps_port}\n"
        f'User {address}\nPass "{PASSWORD}"\nSSLType IMAPS\nCertificateFile {cert}\n\n'
        "IMAPStore remote\nAccount remote\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        "Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n"
    )
    return Mbsync(config, local)


def deliver_over_smtp(smtp: RunningSmtp, address: str, *messages: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", smtp.mx, timeout=30) as client:
        for message in messages:
            assert not client.sendmail("sender@remote.example", [address], message)


def without_tuid(message: bytes) -> bytes:
    """The message without the one `X-TUID` line mbsync puts at the end of the header of every
    copy it makes, either way (its key to find the copy again should the server not say the new
    UID); every other byte is left as it was."""
    stripped, count = TUID_LINE.subn(b"\n", message)
    assert count == 1, message
    return stripped


def as_crlf(local: bytes) -> bytes:
    """mbsync keeps a Maildir in the local system's LF line ends and speaks CRLF over IMAP."""
    assert b"\r" not in local, local
    return local.replace(b"\n", b"\r\n")


def server_maildir(world: ImapWorld, address: str) -> Path:
    local, domain = address.split("@")
    return world.settings.mail_root / maildir_relative_path(domain, local)


def messages_in(maildir: Path) -> list[bytes]:
    return sorted(path.read_bytes() for sub in ("new", "cur") for path in (maildir / sub).iterdir())


def test_delivered_mail_arrives_locally_byte_for_byte(imap_world: ImapWorld, smtp: RunningSmtp, tmp_path: Path) -> None:
    address, _id = imap_world.new_mailbox()
    deliver_over_smtp(smtp, address, *MESSAGES)
    mbsync = mbsync_for(imap_world, address, tmp_path)
    mbsync.sync()
    local = messages_in(mbsync.folder("INBOX"))
    on_server = messages_in(server_maildir(imap_world, address))
    assert len(on_server) == len(MESSAGES)
    assert sorted(as_crlf(without_tuid(message)) for message in local) == on_server
    with login(imap_world.settings, address, PASSWORD) as client:
        assert sorted(imap_messages(client)) == on_server
    for folder in ("Sent", "Drafts", "Trash", "Junk"):  # Create Both made the server's folders here
        assert (mbsync.folder(folder) / "cur").is_dir()


def test_a_message_in_local_sent_is_uploaded_once(imap_world: ImapWorld, tmp_path: Path) -> None:
    address, _id = imap_world.new_mailbox()
    mbsync = mbsync_for(imap_world, address, tmp_path)
    mbsync.sync()
    written = b"Subject: from the laptop\nFrom: " + address.encode() + b"\nTo: b@remote.example\n\nhello\n"
    (mbsync.folder("Sent") / "cur" / "1700000000.P1Q1.laptop:2,S").write_bytes(written)
    mbsync.sync()
    mbsync.sync()  # nothing left to do: a second run that uploaded again would make two copies
    on_server = messages_in(server_maildir(imap_world, address) / ".Sent")
    assert [as_crlf(written)] == [without_tuid(message) for message in on_server]
    with login(imap_world.settings, address, PASSWORD) as client:
        assert imap_messages(client) == []
        assert imap_messages(client, "Sent") == on_server
        assert client.uid("FETCH", "1:*", "(FLAGS)")[1] == [b"1 (UID 1 FLAGS (\\Seen))"]


def test_local_flags_and_expunges_reach_the_server_and_pop3_agrees(
    imap_world: ImapWorld, smtp: RunningSmtp, pop3: RunningServer, tmp_path: Path
) -> None:
    address, _id = imap_world.new_mailbox()
    deliver_over_smtp(smtp, address, *MESSAGES)
    mbsync = mbsync_for(imap_world, address, tmp_path)
    mbsync.sync()
    inbox = mbsync.folder("INBOX")
    # In the order of delivery (their Subject lines), which is the order of the server's UIDs.
    read, deleted, untouched = sorted((inbox / "new").iterdir(), key=lambda path: path.read_bytes().split(b"Subject:")[1])
    kept = sorted(path.read_bytes() for path in (read, untouched))
    # What a local mail client does: reading moves a message to cur/ with the S flag in its
    # name; deleting adds T (trashed), which Expunge Both removes on both sides.
    read.rename(inbox / "cur" / (read.name + "S"))
    deleted.rename(inbox / "cur" / (deleted.name + "T"))
    mbsync.sync()
    on_server = messages_in(server_maildir(imap_world, address))
    assert messages_in(inbox) == kept
    assert on_server == sorted(as_crlf(without_tuid(message)) for message in kept)
    with login(imap_world.settings, address, PASSWORD) as client:
        assert sorted(imap_messages(client)) == on_server
        flags = client.uid("FETCH", "1:*", "(FLAGS)")[1]
    assert flags == [b"1 (UID 1 FLAGS (\\Seen))", b"2 (UID 3 FLAGS ())"]
    assert sorted(pop3_messages(pop3, address).values()) == on_server
