"""Putting messages into a mailbox's Junk folder as the MX does (its bytes counted in the quota),
and renaming them as Dovecot does, for the quarantine's tests."""
from __future__ import annotations

import os
from pathlib import Path

from shared.mail.quota import recalc_quota
from shared.storage import maildirs
from shared.storage.db import Database

SPAM = (
    b"Date: Tue, 1 Dec 2026 10:00:00 +0100\r\nFrom: Prize Desk <win@lottery.example>\r\n"
    b"Subject: =?utf-8?q?You_have_w=C3=B6n?=\r\nX-Spam-Score: 12.5\r\nX-Spam: Yes\r\n"
    b"X-Spam-Reasons: BAYES_SPAM, DMARC quarantine,MISSING_MID\r\n\r\nClaim it now.\r\n"
)
MOVED_BY_IMAP = b"From: colleague@example.com\r\nSubject: lunch?\r\n\r\nat noon\r\n"


def maildir_of(db: Database, address: str) -> Path:
    local, domain = address.split("@")
    return db.settings.mail_root / maildirs.maildir_relative_path(domain, local)


def put_in_junk(db: Database, address: str, data: bytes = SPAM) -> str:
    """Store `data` in the mailbox's Junk as delivery does, with its counters; returns its UIDL."""
    published = maildirs.publish(maildirs.write_pending(maildir_of(db, address) / ".Junk", data))
    recalc_quota(db, address)
    return maildirs.uid_of(published.name)


def junk_file(db: Database, address: str, uid: str) -> Path:
    return next((maildir_of(db, address) / ".Junk").glob(f"*/{uid}*"))


def dovecot_seen(path: Path) -> Path:
    """What Dovecot does when an IMAP client reads a new message: into cur/ with the Seen flag."""
    target = path.parent.parent / "cur" / f"{path.name}:2,S"
    os.rename(path, target)
    return target
