"""Things every benchmark script shares: arguments, the work dir, file-descriptor limits."""
from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_WORK_DIR = Path(os.environ.get("BENCH_DIR", "/tmp/beaconbench"))
# Set by run_all for its benchmarks: one graveyard for all of them, emptied after the last.
GRAVEYARD_ENV = "BENCH_GRAVEYARD"
MESSAGE_SIZE = 10 * 1024


def parser(description: str) -> argparse.ArgumentParser:
    args = argparse.ArgumentParser(description=description)
    args.add_argument("--runs", type=int, default=3, help="timed repetitions per figure (default 3)")
    args.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="bench work dir (setup_peers.sh)")
    args.add_argument("--results", type=Path, default=None, help="append figures as JSON lines to this file")
    args.add_argument("--quick", action="store_true", help="tiny workload: checks the harness, times mean nothing")
    return args


def raise_fd_limit(wanted: int = 65536) -> None:
    """Thousands of sockets per side: raise the soft limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target) if os.geteuid() == 0 else hard))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, hard), hard))


def message_bytes(size: int = MESSAGE_SIZE, tag: str = "0") -> bytes:
    """A plain text message of about `size` bytes: CRLF lines of 76 characters, no line starts with '.'."""
    header = (
        # From a domain we do not host: at the MX, mail from our own domain must authenticate.
        f"From: bench@sender.example\r\nTo: user@bench.test\r\nSubject: bench {tag}\r\n"
        f"Message-ID: <{tag}@bench.test>\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    count = max(1, (size - len(header)) // len(line))
    return header + line * count


class Graveyard:
    """Where a benchmark puts the files it is done with until its last timed run is over.

    ext4 without a journal (as on our benchmark machines) gives no new file an inode freed in
    the last minute or more: every create reads past them in the inode table (the kernel's
    recently_deleted()). Deleting one run's thousands of messages before the next made each
    create of that run cost up to 1.4 ms of CPU instead of about 30 µs, for Postfix and for
    Beacon alike, and the figures measured the harness. A rename frees no inode; the kernel
    forgets a freed inode after one to six minutes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._numbers = itertools.count()

    def bury(self, path: Path) -> None:
        path.rename(self.directory / str(next(self._numbers)))


@contextmanager
def graveyard(work_dir: Path) -> Iterator[Graveyard]:
    """A graveyard on the filesystem of `work_dir` (renames do not cross filesystems), emptied
    at the end, or with run_all's when this runs under it."""
    shared = os.environ.get(GRAVEYARD_ENV)
    if shared:
        yield Graveyard(Path(tempfile.mkdtemp(dir=shared)))
        return
    directory = Path(tempfile.mkdtemp(dir=work_dir, prefix="graveyard-"))
    try:
        yield Graveyard(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
