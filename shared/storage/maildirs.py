"""Maildir on disk: write durably, list, open, remove. No database here.

A message becomes visible only by rename(2) from tmp/ into new/, after its bytes are
fsynced, and the directory is fsynced after the rename, so a crash at any moment leaves
either no message or a whole one. Unique names sort by delivery time and end in
`,S=<size>` (as Dovecot does) so listing needs no stat. A message's POP3 UIDL is its
name's, and is also kept on its inode (UIDL_ATTRIBUTE) for when Dovecot gives it another name.
"""
from __future__ import annotations

import errno
import hashlib
import itertools
import os
import pwd
import re
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

SUBDIRS = ("tmp", "new", "cur")
# The Maildir convention (cr.yp.to/proto/maildir.html): a file in tmp/ untouched for 36 hours is
# a delivery whose process died before the rename into new/. Any younger one may be in progress.
STALE_TMP_SECONDS = 36 * 3600
_SEQUENCE = itertools.count(1)
_SIZE_IN_NAME = re.compile(r",S=(\d+)")
# Maildir forbids '/' and ':' in the host part (they are escaped as octal).
# The host part is kept short and plain: the name (without `,S=`) is the POP3 UIDL, at most 70 characters.
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0])[:16] or "localhost"
MAX_UID_LENGTH = 70
_AS_ROOT = os.geteuid() == 0
# The UIDL a message got when it was stored, kept on its inode. Dovecot's MOVE and COPY hard-link
# the file under a name of its own, and a link shares the inode and so this attribute: the UIDL
# survives an IMAP client moving the message to another folder and back.
UIDL_ATTRIBUTE = "user.beaconmail.uidl"
# A filesystem without user attributes, or a process that may not set them: the message keeps
# the UIDL of its name, as every message did before the attribute.
_NO_ATTRIBUTES = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM})
# Where spam goes: the Maildir++ folder Dovecot serves as IMAP's `Junk` (SPECIAL-USE \Junk).
JUNK_FOLDER = ".Junk"


@dataclass(frozen=True)
class StoredMessage:
    uid: str
    size: int
    location: str  # a string: a Path per message was a tenth of POP3's CPU per RETR

    @property
    def path(self) -> Path:
        return Path(self.location)


@dataclass(frozen=True)
class PendingMessage:
    # Strings, not Paths: pathlib's joins were a noticeable share of the CPU of an SMTP delivery.
    tmp_path: str
    maildir: str
    name: str
    size: int


def maildir_relative_path(domain: str, local: str) -> str:
    """`<domain>/<local>`, with anything unsafe in a path component percent-encoded."""
    safe_local = quote(local, safe="!#$&'*+=^_`{|}~-@")
    if safe_local.startswith("."):
        safe_local = "%2E" + safe_local[1:]
    return f"{domain}/{safe_local}"


def junk_folder(maildir: str) -> str:
    """The Maildir++ folder `.Junk` of a Maildir (relative or not): IMAP's Junk, which POP3 never lists."""
    return f"{maildir}/{JUNK_FOLDER}"


def create_maildir(path: Path) -> None:
    """Make the folders; run as root, each one made is handed to the owner of the folder above
    it, so the Maildirs stay their owner's (Dovecot never reads mail as root)."""
    for sub in SUBDIRS:
        folder = path / sub
        if not _AS_ROOT:
            folder.mkdir(parents=True, exist_ok=True)
            continue
        missing = [parent for parent in (*reversed(folder.parents), folder) if not parent.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        if missing:
            owner = missing[0].parent.stat()
            for made in missing:
                os.chown(made, owner.st_uid, owner.st_gid)


def hand_over(mail_root: Path, user: str) -> None:
    """Give the mail root and everything in it to `user` (for a root-owned mail root, which
    Dovecot will not serve: it never reads mail as root)."""
    entry = pwd.getpwnam(user)
    for folder, _subfolders, files in os.walk(mail_root):
        for name in [folder, *(os.path.join(folder, file) for file in files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def is_delivery_name(filename: str) -> bool:
    """Whether the name has the shape _unique_name gives (`<secs>.M<usecs>P<pid>Q<n>R<hex>.<host>`),
    whose UIDL is the name's, so that listing it needs no system call. The test is a Q in the second
    part: Dovecot's own names (`<secs>.M<usecs>P<pid>.<host>`) never have one, and another
    program's name that has one is listed by its name's UIDL, as every name was before the
    attribute. A string search, not a regular expression: every POP3 login asks for each message."""
    return filename.find("Q", 11, filename.find(".", 11)) > 0


def _unique_name(size: int) -> str:
    now = time.time()
    seconds, micros = int(now), int((now % 1) * 1_000_000)
    return (
        f"{seconds:010d}.M{micros:06d}P{os.getpid()}Q{next(_SEQUENCE)}"
        f"R{secrets.token_hex(4)}.{_HOST},S={size}"
    )


def fsync_directory(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_pending(maildir: str | Path, data: bytes) -> PendingMessage:
    """Write and fsync into tmp/; the message is not visible yet."""
    name = _unique_name(len(data))
    tmp_path = f"{maildir}/tmp/{name}"
    try:
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileNotFoundError:
        create_maildir(Path(maildir))
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if _AS_ROOT:  # the message is the Maildir's owner's, as create_maildir's folders are
            owner = os.stat(maildir)
            os.fchown(fd, owner.st_uid, owner.st_gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        keep_uidl(fd, uid_of(name))  # before the fsync, which makes the attribute durable too
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        discard(tmp_path)
        raise
    os.close(fd)
    return PendingMessage(tmp_path, str(maildir), name, len(data))


def publish(pending: PendingMessage) -> Path:
    """Make a pending message visible in new/ and make that durable."""
    new = f"{pending.maildir}/new"
    final = f"{new}/{pending.name}"
    os.rename(pending.tmp_path, final)
    try:
        fsync_directory(new)
    except OSError:
        discard(final)  # not known to be durable: the sender is told to retry
        raise
    return Path(final)


def discard(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def uid_of(filename: str) -> str:
    """The POP3 UIDL a name gives: the unique name without the `:2,flags` info and `,S=` size parts.

    Names from elsewhere (imported Maildirs) that would exceed RFC 1939's 70 characters
    are replaced by a stable digest of the name."""
    uid = filename.split(":", 1)[0].split(",", 1)[0]
    if is_valid_uid(uid):
        return uid
    return hashlib.sha1(uid.encode("utf-8", "surrogateescape")).hexdigest()


def is_valid_uid(uid: str) -> bool:
    """RFC 1939: at most 70 characters, each 0x21-0x7E."""
    return len(uid) <= MAX_UID_LENGTH and uid.isascii() and uid.isprintable() and " " not in uid


def keep_uidl(file: int | str, uid: str) -> None:
    """Keep `uid` on the file's inode (an open fd or a path); a no-op where attributes are not kept."""
    try:
        os.setxattr(file, UIDL_ATTRIBUTE, uid.encode("ascii"))
    except OSError as exc:
        if exc.errno not in _NO_ATTRIBUTES:
            raise


def _kept_uidl(path: str, uid: str) -> str | None:
    """The valid UIDL kept on the file, or None. A file that has none (an IMAP APPEND, or stored
    before the attribute) is given `uid`, the UIDL of its name, so a later move and back keeps it."""
    try:
        kept = os.getxattr(path, UIDL_ATTRIBUTE).decode("ascii", "replace")
    except OSError as exc:
        if exc.errno != errno.ENODATA:
            return None  # no attributes here, or the file is gone: its name decides, as before
        try:
            keep_uidl(path, uid)
        except OSError:  # e.g. a file this process may not write: it is listed all the same
            return None
        return uid
    return kept if kept and is_valid_uid(kept) else None


def stamp_uidls(folder: Path) -> int | None:
    """Keep on each message file of one folder (new/ and cur/) that has no UIDL attribute the UIDL
    of its name, which is the one POP3 lists for it; returns how many were given one, or None when
    this filesystem or process keeps no attributes (then nothing more can be done here).

    For messages stored before the attribute: without it, a move away and back over IMAP gives
    such a message a new name and so a new UIDL. Delivery names go first, then the rest by UIDL,
    so a hard link shared with a delivery name, or with another name, gets the UIDL that
    _with_kept_uidls already lists it by; XATTR_CREATE never replaces a UIDL already kept."""
    entries = sorted(message_files(folder), key=lambda entry: (not is_delivery_name(entry.name), uid_of(entry.name)))
    stamped = 0
    for entry in entries:
        try:
            os.setxattr(entry.path, UIDL_ATTRIBUTE, uid_of(entry.name).encode("ascii"), os.XATTR_CREATE)
        except (FileExistsError, FileNotFoundError):  # kept already, or moved or deleted since the scandir
            continue
        except OSError as exc:
            # EACCES too: a process that may not write the files (init run as another user) stops
            # rather than failing the upgrade; a later run with the rights does it.
            if exc.errno in _NO_ATTRIBUTES or exc.errno == errno.EACCES:
                return None
            raise
        stamped += 1
    return stamped


def _size_of(entry: os.DirEntry[str]) -> int:
    match = _SIZE_IN_NAME.search(entry.name)
    return int(match.group(1)) if match else entry.stat().st_size


def message_files(maildir: Path) -> Iterator[os.DirEntry[str]]:
    """The message files of new/ and cur/."""
    for sub in ("new", "cur"):
        try:
            entries = list(os.scandir(maildir / sub))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_file() and not entry.name.startswith("."):
                yield entry


def list_messages(maildir: Path) -> list[StoredMessage]:
    """Every message in new/ and cur/, oldest first, with its POP3 UIDL: for a name our delivery
    gave, the name's; for any other, the UIDL kept on the file (see UIDL_ATTRIBUTE)."""
    found: list[StoredMessage] = []
    foreign: list[StoredMessage] = []  # named by Dovecot or another program: uid is the name's
    for entry in message_files(maildir):
        message = StoredMessage(uid_of(entry.name), _size_of(entry), entry.path)
        if is_delivery_name(entry.name):
            found.append(message)
        else:
            foreign.append(message)
    if foreign:
        found.extend(_with_kept_uidls(foreign, {message.uid for message in found}))
    found.sort(key=lambda message: message.uid)
    return found


def _with_kept_uidls(foreign: list[StoredMessage], taken: set[str]) -> list[StoredMessage]:
    """The messages with the UIDLs kept on them, unique among themselves and `taken`.

    Hard links share one attribute (an IMAP COPY within the folder is a second link): the link
    whose name gave that UIDL keeps it, else the first by name; every other link gets the UIDL
    of its own name. Links share their bytes, so whichever has it, a UIDL names the same message."""
    ordered = sorted(foreign, key=lambda message: message.uid)  # which link a missing attribute goes to
    kept = [(message, _kept_uidl(message.location, message.uid)) for message in ordered]
    claims = sorted(kept, key=lambda pair: (pair[1] != pair[0].uid, pair[0].uid))
    listed: list[StoredMessage] = []
    for message, uid in claims:
        if uid is None or uid in taken:
            uid = message.uid if message.uid not in taken else _last_resort_uid(message.uid)
        taken.add(uid)
        listed.append(StoredMessage(uid, message.size, message.location))
    return listed


def _last_resort_uid(uid: str) -> str:
    """For a name whose UIDL another message's kept attribute took: stable, and unlike any name's
    UIDL (uid_of's digests are of strings without a `:`)."""
    return hashlib.sha1(b"kept:" + uid.encode("ascii")).hexdigest()


def remove_stale_tmp(maildir: Path) -> int:
    """Unlink the files of tmp/ neither read nor written for STALE_TMP_SECONDS (one scandir);
    returns how many went."""
    cutoff = time.time() - STALE_TMP_SECONDS
    removed = 0
    try:
        entries = os.scandir(maildir / "tmp")
    except FileNotFoundError:
        return 0
    with entries:
        for entry in entries:
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
                if max(info.st_atime, info.st_mtime) < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:  # published into new/ since the scandir
                continue
    return removed


def folders(maildir: Path) -> list[Path]:
    """The Maildir itself (INBOX) and each Maildir++ folder in it (`.Sent`, `.Junk`, `.a.b`):
    IMAP clients file mail there, and it counts against the mailbox's quota like INBOX's."""
    try:
        entries = list(os.scandir(maildir))
    except FileNotFoundError:
        return [maildir]
    subfolders = [Path(e.path) for e in entries if e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    return [maildir, *sorted(subfolders)]


def disk_usage(maildir: Path) -> tuple[int, int]:
    """(bytes, messages) actually on disk in every folder, for repairing counters."""
    entries = [entry for folder in folders(maildir) for entry in message_files(folder)]  # no UIDLs: no attribute is read
    return sum(entry.stat().st_size for entry in entries), len(entries)


def remove_messages(paths: list[Path]) -> int:
    """Unlink the files and fsync their directories; returns the bytes freed."""
    freed = 0
    directories = set()
    for path in paths:
        try:
            freed += path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        directories.add(path.parent)
    for directory in directories:
        fsync_directory(directory)
    return freed
