"""POP3 download: a 1,000 × 10 KB maildrop per user; log in, STAT, UIDL, RETR every message, QUIT
(nothing deleted); 1 and 10 concurrent users on different maildrops. Messages/s and MB/s for
Beacon (SQLite and PostgreSQL) and Dovecot, measured in turn in one run, maildrops warm.

    python -m bench.pop3_load [--messages 1000] [--users 1 10] [--backends sqlite postgresql]
"""
from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from bench import beacon, clients, common, machine, peers, procstat, report
from shared.accounts import get_mailbox
from shared.accounts.views import CONSOLE
from shared.mail.delivery import deliver


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    pids: Callable[[], list[int]]


@dataclass(frozen=True)
class Outcome:
    messages_per_second: float
    megabytes_per_second: float
    cpu_us_per_message: float


async def _download_all(port: int, users: int) -> clients.Download:
    done = await asyncio.gather(*(clients.pop3_download(port, beacon.address(n), beacon.PASSWORD) for n in range(users)))
    return clients.Download(sum(d.messages for d in done), sum(d.octets for d in done))


def run_once(target: Target, users: int) -> Outcome:
    cpu_before = procstat.cpu_seconds(target.pids())
    start = time.perf_counter()
    download = asyncio.run(_download_all(target.port, users))
    elapsed = time.perf_counter() - start
    cpu = procstat.cpu_seconds(target.pids()) - cpu_before
    return Outcome(download.messages / elapsed, download.octets / elapsed / 1e6, 1e6 * cpu / download.messages)


def measure(targets: list[Target], users: int, runs: int) -> list[report.Series]:
    for target in targets:
        run_once(target, users)  # warm-up: page cache, Dovecot's index, processes
    outcomes = report.alternate([(t.name, functools.partial(run_once, t, users)) for t in targets], runs)
    found = []
    for name, results in outcomes.items():
        label = f"{name} {users} user(s)"
        found.append(report.Series(label, "msgs/s", tuple(o.messages_per_second for o in results)))
        found.append(report.Series(label + " throughput", "MB/s", tuple(o.megabytes_per_second for o in results)))
        found.append(report.Series(label + " server CPU", "µs/msg", tuple(o.cpu_us_per_message for o in results)))
    return found


def fill_beacon(instance: beacon.BeaconInstance, users: int, messages: int) -> None:
    """Every user's maildrop gets `messages` deliveries through shared.mail.delivery.deliver (one call
    stores a copy per mailbox). Only the set-up skips fsync: durability is not under test here."""
    instance.create_mailboxes(users)
    ids = [get_mailbox(instance.db, beacon.address(n), actor=CONSOLE).id for n in range(users)]
    message = common.message_bytes()
    with mock.patch("os.fsync"):
        for _ in range(messages):
            deliver(instance.db, message, ids, return_path="bench@sender.example")


@contextmanager
def beacon_target(work_dir: Path, backend: str, users: int, messages: int) -> Iterator[Target]:
    with beacon.beacon_instance(work_dir, backend) as instance:
        fill_beacon(instance, users, messages)
        with beacon.running_service(instance, "pop3") as service:
            yield Target(f"beacon-{backend}", service.port, lambda: procstat.descendants(service.pid))


@contextmanager
def dovecot_target(peer: peers.Peers, users: int, messages: int) -> Iterator[Target]:
    peers.write_dovecot_users(peer, users)
    message = common.message_bytes()
    for number in range(users):
        peers.fill_dovecot_maildrop(peer, number, message, messages)
    with peers.running_dovecot(peer) as master:
        yield Target("dovecot", peer.dovecot_port, lambda: procstat.descendants(master))


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--messages", type=int, default=1000)
    args.add_argument("--users", type=int, nargs="+", default=[1, 10])
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    options = args.parse_args()
    common.raise_fd_limit()
    messages = 20 if options.quick else options.messages
    most_users = max(options.users)
    peer = peers.load_peers(options.work_dir)
    machine.print_machine(options.work_dir)
    report.print_workload(
        "POP3 download", messages_per_maildrop=messages, size=common.MESSAGE_SIZE, users=options.users,
        client="asyncio, one RETR at a time", peer="dovecot" if peer else "none (run setup_peers.sh)",
    )  # fmt: skip
    series: list[report.Series] = []
    with ExitStack() as stack:
        targets = [
            stack.enter_context(beacon_target(options.work_dir, backend, most_users, messages))
            for backend in options.backends
        ]
        if peer:
            targets.append(stack.enter_context(dovecot_target(peer, most_users, messages)))
        for users in options.users:
            found = measure(targets, users, options.runs)
            for item in found:
                print(item.line(), flush=True)
            series.extend(found)
    report.print_ratios(series, "dovecot", options.backends, ("msgs/s", "MB/s"))
    report.record(options.results, "pop3_load", series, echo=False, messages=messages)


if __name__ == "__main__":
    main()
