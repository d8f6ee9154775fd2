"""Things every benchmark script shares: arguments, the work dir, file-descriptor limits."""
from __future__ import annotations

import argparse
import os
import resource
from pathlib import Path

DEFAULT_WORK_DIR = Path(os.environ.get("BENCH_DIR", "/tmp/beaconbench"))
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
        f"From: bench@bench.test\r\nTo: user@bench.test\r\nSubject: bench {tag}\r\n"
        f"Message-ID: <{tag}@bench.test>\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    count = max(1, (size - len(header)) // len(line))
    return header + line * count
