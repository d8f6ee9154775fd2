"""SMTP durable delivery: N × 10 KB messages over 1, 10 and 50 concurrent sessions to local
mailboxes, timed until every message is in a Maildir new/ (for Postfix: after virtual(8)
delivery). Beacon (SQLite and PostgreSQL) and Postfix are driven by the same asyncio client,
and by Postfix's smtp-source, in one run.

    python -m bench.smtp_load [--messages 300] [--sessions 1 10 50] [--backends sqlite postgresql]
"""
from __future__ import annotations

import asyncio
import functools
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import beacon, clients, common, machine, peers, procstat, report

SENDER = "bench@sender.example"
MAILBOXES = 10
DELIVERY_TIMEOUT = 300.0


@dataclass(frozen=True)
class Target:
    """A server under load: where it listens, where its mail lands, which processes are it."""

    name: str
    port: int
    maildirs: tuple[Path, ...]
    pids: Callable[[], list[int]]
    graveyard: common.Graveyard


@dataclass(frozen=True)
class Outcome:
    rate: float
    cpu_ms_per_message: float


def count_new(maildirs: tuple[Path, ...]) -> int:
    total = 0
    for maildir in maildirs:
        try:
            total += sum(1 for _ in os.scandir(maildir / "new"))
        except FileNotFoundError:
            continue
    return total


def empty_new(target: Target) -> None:
    for maildir in target.maildirs:
        if (maildir / "new").exists():
            target.graveyard.bury(maildir / "new")
        (maildir / "new").mkdir(parents=True)
        shutil.chown(maildir / "new", *_owner(maildir))


def _owner(maildir: Path) -> tuple[int, int]:
    info = maildir.stat()
    return info.st_uid, info.st_gid


def wait_delivered(target: Target, expected: int) -> float:
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while count_new(target.maildirs) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{target.name}: only {count_new(target.maildirs)} of {expected} delivered")
        time.sleep(0.01)
    return time.perf_counter()


async def _asyncio_load(target: Target, messages: int, sessions: int) -> None:
    message = common.message_bytes()
    shares = [messages // sessions + (1 if i < messages % sessions else 0) for i in range(sessions)]
    recipients = [f"user{i % MAILBOXES}@{beacon.DOMAIN}" for i in range(sessions)]
    await asyncio.gather(
        *(clients.send_messages(target.port, SENDER, to, message, share) for to, share in zip(recipients, shares, strict=True))
    )


def _smtp_source_load(target: Target, messages: int, sessions: int) -> None:
    # smtp-source sends every message to one recipient; -d keeps each session open between messages.
    command = [
        "smtp-source", "-d", "-s", str(sessions), "-m", str(messages), "-l", str(common.MESSAGE_SIZE),
        "-f", SENDER, "-t", f"user0@{beacon.DOMAIN}", f"127.0.0.1:{target.port}",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)


def run_once(target: Target, client: str, messages: int, sessions: int) -> Outcome:
    empty_new(target)
    pids = target.pids()
    cpu_before = procstat.cpu_seconds(pids)
    start = time.perf_counter()
    if client == "asyncio":
        asyncio.run(_asyncio_load(target, messages, sessions))
    else:
        _smtp_source_load(target, messages, sessions)
    finished = wait_delivered(target, messages)
    cpu = procstat.cpu_seconds(target.pids()) - cpu_before
    return Outcome(messages / (finished - start), 1000 * cpu / messages)


def measure(targets: list[Target], client: str, messages: int, sessions: int, runs: int) -> list[report.Series]:
    for target in targets:
        run_once(target, client, max(sessions, messages // 10), sessions)  # warm-up: processes, caches
    runners = [(t.name, functools.partial(run_once, t, client, messages, sessions)) for t in targets]
    outcomes = report.alternate(runners, runs)
    found = []
    for name, results in outcomes.items():
        label = f"{name} {client} {sessions} sess"
        found.append(report.Series(label, "msgs/s", tuple(o.rate for o in results)))
        found.append(report.Series(label + " server CPU", "ms/msg", tuple(o.cpu_ms_per_message for o in results)))
    return found


@contextmanager
def beacon_target(work_dir: Path, backend: str, service_name: str = "smtp", label: str = "") -> Iterator[Target]:
    """Beacon's `service_name` (a bench.serve_beacon variant) on a fresh instance."""
    with beacon.beacon_instance(work_dir, backend) as instance:
        instance.create_mailboxes(MAILBOXES)
        with beacon.running_service(instance, service_name) as service, common.graveyard(work_dir) as buried:
            maildirs = tuple(instance.maildir(n) for n in range(MAILBOXES))
            name = label or f"beacon-{backend}"
            yield Target(name, service.port, maildirs, lambda: procstat.descendants(service.pid), buried)


@contextmanager
def postfix_target(peer: peers.Peers) -> Iterator[Target]:
    with peers.running_postfix(peer) as master, common.graveyard(peer.bench_dir) as buried:
        maildirs = tuple(peer.postfix_maildir(n) for n in range(MAILBOXES))
        for maildir in maildirs:
            for sub in ("tmp", "new", "cur"):
                (maildir / sub).mkdir(parents=True, exist_ok=True)
            for path in (maildir, *maildir.iterdir()):
                os.chown(path, peer.uid, peer.gid)
        yield Target("postfix", peer.postfix_port, maildirs, lambda: procstat.descendants(master), buried)


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--messages", type=int, default=300)
    args.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 50])
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    args.add_argument("--clients", nargs="+", default=["asyncio", "smtp-source"], choices=["asyncio", "smtp-source"])
    options = args.parse_args()
    common.raise_fd_limit()
    messages = 40 if options.quick else options.messages
    peer = peers.load_peers(options.work_dir)
    clients_used = [c for c in options.clients if c == "asyncio" or shutil.which("smtp-source")]
    machine.print_machine(options.work_dir)
    report.print_workload(
        "SMTP durable delivery", messages=messages, size=common.MESSAGE_SIZE, sessions=options.sessions,
        mailboxes=MAILBOXES, clients=clients_used, peer="postfix+virtual" if peer else "none (run setup_peers.sh)",
    )  # fmt: skip
    series: list[report.Series] = []
    with ExitStack() as stack:
        targets = [stack.enter_context(beacon_target(options.work_dir, backend)) for backend in options.backends]
        if peer:
            targets.append(stack.enter_context(postfix_target(peer)))
        for client in clients_used:
            for sessions in options.sessions:
                found = measure(targets, client, messages, sessions, options.runs)
                for item in found:
                    print(item.line(), flush=True)
                series.extend(found)
    report.print_ratios(series, "postfix", options.backends, ("msgs/s",))
    report.record(options.results, "smtp_load", series, messages=messages, echo=False)


if __name__ == "__main__":
    main()
