"""Event counters that every process of the suite adds to and /metrics reads: one small file each,
`<mail root>/.counters/<name>`, holding a decimal number.

The SMTP processes and the admin portal share no memory and may run in different containers;
what they do share is the mail volume. A file per counter, updated under an exclusive lock, is
the whole mechanism (no table and migration for a figure that losing in a crash costs nothing).
The folder's leading dot keeps it apart from the domains' folders (no domain name starts with one).
"""
from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

COUNTERS_FOLDER = ".counters"
_NAME = re.compile(r"[a-z0-9_]+")


def _path(mail_root: Path, name: str) -> Path:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a counter name: {name!r}")
    return mail_root / COUNTERS_FOLDER / name


def _value(text: bytes) -> int:
    try:
        return max(int(text.strip() or b"0"), 0)
    except ValueError:
        return 0


def increment(mail_root: Path, name: str) -> None:
    path = _path(mail_root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        value = _value(os.pread(descriptor, 32, 0)) + 1
        encoded = str(value).encode()
        os.pwrite(descriptor, encoded, 0)
        os.ftruncate(descriptor, len(encoded))
    finally:
        os.close(descriptor)


def read(mail_root: Path, name: str) -> int:
    """The counter's value; 0 before its first event."""
    try:
        return _value(_path(mail_root, name).read_bytes()[:32])
    except FileNotFoundError:
        return 0
