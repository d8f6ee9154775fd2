"""The Junk folder of a Maildir on disk: its message files, the head of each, a release into
INBOX and a removal. No database and no rule here.

Junk is the Maildir++ folder `.Junk`, which Dovecot serves as IMAP's Junk and may rename
messages in (into cur/, with `:2,<flags>`). A message is named from outside by its id, the
UIDL its file name gives (maildirs.uid_of), which such renames keep. An id is only ever
compared with the ids of the names found in the folder, never joined into a path.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from shared.errors import N_, Conflict, NotFound
from shared.storage.maildirs import fsync_directory, message_files, uid_of

JUNK_FOLDER = ".Junk"
# The head of a message is read up to here: enough for any real header section, and a
# listing of many messages never reads a body or a pathological header whole.
HEAD_LIMIT = 64 * 1024
# What an id may hold: the characters of Maildir names (ours, Dovecot's, with its octal escapes)
# and of uid_of's digests, nothing a URL or a path gives a meaning to, and no leading dot.
_ID = re.compile(r"[A-Za-z0-9_=+\\-][A-Za-z0-9._=+\\-]{0,69}")


@dataclass(frozen=True)
class JunkFile:
    id: str
    location: str
    size: int
    stored_at: float  # the file's mtime, for a message whose Date: is missing or unreadable
    head: bytes  # the header section (at most HEAD_LIMIT bytes)


def is_junk_id(text: str) -> bool:
    return _ID.fullmatch(text) is not None


def junk_id(name: str) -> str:
    """The id of a message file: its UIDL (uid_of), or for the rare foreign name whose UIDL holds
    other characters, a digest of that UIDL."""
    uid = uid_of(name)
    return uid if is_junk_id(uid) else hashlib.sha1(uid.encode("ascii")).hexdigest()


def junk_folder(maildir: Path) -> Path:
    return maildir / JUNK_FOLDER


def list_junk(maildir: Path, limit: int) -> tuple[list[JunkFile], int]:
    """The newest `limit` messages of the Junk folder, newest first (names start with the
    delivery time in seconds, ours and Dovecot's alike), and how many it holds. Only the heads
    of the listed ones are read."""
    entries = sorted(message_files(junk_folder(maildir)), key=lambda entry: junk_id(entry.name), reverse=True)
    found = []
    for entry in entries[:limit]:
        try:
            found.append(_read_junk_file(entry.name, entry.path))
        except FileNotFoundError:  # released, deleted or renamed by Dovecot since the scandir
            continue
    return found, len(entries)


def _read_junk_file(name: str, location: str) -> JunkFile:
    with open(location, "rb") as file:
        info = os.fstat(file.fileno())
        return JunkFile(junk_id(name), location, info.st_size, info.st_mtime, read_head(file))


def read_head(file: BinaryIO) -> bytes:
    """The header section of an open message file, up to the empty line that ends it."""
    head = bytearray()
    while line := file.readline(HEAD_LIMIT - len(head)):
        if line in (b"\r\n", b"\n") or len(head) + len(line) >= HEAD_LIMIT:
            break
        head += line
    return bytes(head)


def find_junk(maildir: Path, message_id: str) -> Path:
    """The file of the Junk message with this id (in new/ or cur/, whatever its flags), or NotFound."""
    for entry in message_files(junk_folder(maildir)):
        if junk_id(entry.name) == message_id:
            return Path(entry.path)
    raise NotFound(N_("no junk message %(id)s"), id=message_id)


def release_to_inbox(maildir: Path, path: Path) -> Path:
    """Move a Junk message into the INBOX's new/ as an unread message, keeping its inode (and so
    the POP3 UIDL kept on it) and the unique part of its name (so its id and UIDL stay).

    A hard link then an unlink, not rename(2): a rename would silently replace a message of the
    same name in new/; this way the message is always in at least one folder and never
    replaces another. Both folders are fsynced, so a crash cannot bring it back to Junk."""
    target = maildir / "new" / path.name.split(":", 1)[0]  # new/ holds no flags (`:2,...`)
    try:
        os.link(path, target)
    except FileNotFoundError:
        raise NotFound(N_("junk message %(id)s is gone"), id=junk_id(path.name)) from None
    except FileExistsError:
        raise Conflict(N_("the inbox already holds a message named %(name)s"), name=target.name) from None
    fsync_directory(target.parent)
    try:
        path.unlink()
    except FileNotFoundError:  # deleted meanwhile: the released link is the message now
        pass
    fsync_directory(path.parent)
    return target


def remove_junk(path: Path) -> int:
    """Unlink a Junk message and fsync its folder; returns its size. NotFound when it is already gone."""
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        raise NotFound(N_("junk message %(id)s is gone"), id=junk_id(path.name)) from None
    fsync_directory(path.parent)
    return size
