"""The one-off pass that keeps a UIDL on every message stored before UIDL_ATTRIBUTE existed.

`beaconmail init` runs it at every upgrade; a marker file in the mail root makes every run after
the first that finished skip the walk. Messages stored since carry the attribute from delivery
(write_pending), and a POP3 listing keeps one on any other name it sees, so the walk is needed once.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from shared.storage.maildirs import folders, stamp_uidls

# A dot first: domain names never start with one, so no Maildir or domain folder is ever this name.
STAMPED_MARKER = ".uidls-kept"


def keep_uidls_of_old_messages(mail_root: Path) -> int:
    """Give every message file of every Maildir under `mail_root` (INBOX and each Maildir++ folder)
    that has no kept UIDL the UIDL of its current name; returns how many were given one.

    Once a walk has finished, the marker is written and later calls return 0 at once. A
    filesystem without user attributes stops the walk quietly and writes no marker: the next
    run asks again, at the cost of one refused call."""
    marker = mail_root / STAMPED_MARKER
    if marker.exists():
        return 0
    stamped = 0
    for maildir in _maildirs(mail_root):
        for folder in folders(maildir):
            done = stamp_uidls(folder)
            if done is None:
                return stamped
            stamped += done
    marker.write_text("UIDLs kept on the messages stored before the attribute; delete to walk again.\n")
    return stamped


def _maildirs(mail_root: Path) -> Iterator[Path]:
    """`<domain>/<local>` folders (maildir_relative_path); dot entries (the outbound queue, the
    marker) are not domains."""
    for domain in _subfolders(mail_root):
        yield from _subfolders(domain)


def _subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            found = [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:  # a domain removed while we walk
        return []
    return sorted(found)
