"""Recipient resolution and POP3 login latency at 1,000 vs 100,000 mailboxes (the ratio should
be flat: every lookup is by an indexed key). Measured in process (shared.mail.routing.resolve_recipient)
and over the wire (RCPT TO round trip on the Beacon SMTP server; USER+PASS round trip on the
Beacon POP3 server, and on Dovecot with a passwd-file of the same size for reference).

    python -m bench.resolution_scale [--sizes 1000 100000] [--backends sqlite postgresql]
"""
from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import beacon, bulk_mailboxes, clients, common, machine, peers, report
from shared.mail.routing import resolve_recipient

RESOLVE_SAMPLES = 1000
RCPT_SAMPLES = 500
LOGIN_SAMPLES = 40
RCPTS_PER_TRANSACTION = 400
SHARED_CREATED = 200  # made one by one through create_mailbox(), to report its rate


def _picks(size: int, samples: int, seed: int) -> list[int]:
    """Distinct mailboxes: on PostgreSQL the smtp service keeps the mailboxes it found
    (shared.storage.directory_cache), and a repeat would measure that instead of the lookup."""
    return random.Random(seed).sample(range(size), min(samples, size))


def resolve_in_process(instance: beacon.BeaconInstance, size: int, samples: int, seed: int) -> list[float]:
    latencies = []
    for number in _picks(size, samples, seed):
        began = time.perf_counter()
        plan = resolve_recipient(instance.db, beacon.address(number), sender="bench@sender.example")
        latencies.append(time.perf_counter() - began)
        assert plan.deliverable
    return latencies


async def _rcpt_round_trips(port: int, numbers: list[int]) -> list[float]:
    reader, writer = await clients.open_smtp(port)
    latencies = []
    for index, number in enumerate(numbers):
        if index % RCPTS_PER_TRANSACTION == 0:
            writer.write(b"RSET\r\nMAIL FROM:<bench@sender.example>\r\n")
            await reader.readline()
            await reader.readline()
        began = time.perf_counter()
        writer.write(f"RCPT TO:<{beacon.address(number)}>\r\n".encode())
        reply = await reader.readline()
        latencies.append(time.perf_counter() - began)
        if not reply.startswith(b"250"):
            raise clients.ProtocolError(f"RCPT {number}: {reply!r}")
    writer.close()
    return latencies


async def _login_round_trips(port: int, numbers: list[int]) -> list[float]:
    latencies = []
    for number in numbers:
        began = time.perf_counter()
        reader, writer = await clients.pop3_login(port, beacon.address(number), beacon.PASSWORD)
        latencies.append(time.perf_counter() - began)
        await clients.pop3_quit(reader, writer)
    return latencies


def _percentiles(label: str, runs: list[list[float]]) -> list[report.Series]:
    return [
        report.Series(f"{label} p50", "ms", tuple(1000 * report.percentile(r, 0.5) for r in runs)),
        report.Series(f"{label} p95", "ms", tuple(1000 * report.percentile(r, 0.95) for r in runs)),
    ]


@dataclass
class Sized:
    """One instance at one size with its servers running; collects latencies run by run."""

    instance: beacon.BeaconInstance
    size: int
    smtp_port: int
    pop3_port: int
    samples: dict[str, list[list[float]]] = field(default_factory=dict)

    def add(self, what: str, latencies: list[float]) -> None:
        self.samples.setdefault(what, []).append(latencies)


def measure_run(sized: Sized, seed: int, scale: float) -> None:
    size = sized.size
    sized.add("resolve_recipient", resolve_in_process(sized.instance, size, int(RESOLVE_SAMPLES * scale), seed))
    beacon.forget_directory_caches(sized.instance)  # what the previous run looked up
    sized.add("RCPT round trip", asyncio.run(_rcpt_round_trips(sized.smtp_port, _picks(size, int(RCPT_SAMPLES * scale), seed))))
    sized.add("POP3 login", asyncio.run(_login_round_trips(sized.pop3_port, _picks(size, int(LOGIN_SAMPLES * scale), seed))))


@contextmanager
def sized_instance(work_dir: Path, backend: str, size: int) -> Iterator[Sized]:
    with beacon.beacon_instance(work_dir, backend) as instance:
        by_shared = min(size, SHARED_CREATED)
        rate = bulk_mailboxes.shared_create_rate(instance, 0, by_shared)
        took = bulk_mailboxes.create_mailboxes(instance.db, by_shared, size - by_shared)
        print(
            f"  beacon-{backend} {size}: create_mailbox() {rate:.0f}/s for the first {by_shared}, "
            f"bulk insert of the other {size - by_shared} took {took:.1f} s",
            flush=True,
        )
        with beacon.running_service(instance, "smtp") as smtp, beacon.running_service(instance, "pop3") as pop3:
            yield Sized(instance, size, smtp.port, pop3.port)


def measure_beacon(work_dir: Path, backend: str, sizes: tuple[int, int], runs: int, scale: float) -> list[report.Series]:
    """Both sizes live at once; each run measures one then the other, so machine noise falls on both."""
    with ExitStack() as stack:
        instances = [stack.enter_context(sized_instance(work_dir, backend, size)) for size in sizes]
        for sized in instances:
            measure_run(sized, seed=99, scale=0.1)  # warm-up
            sized.samples.clear()
        for seed in range(runs):
            for sized in instances:
                measure_run(sized, seed, scale)
    found = []
    for sized in instances:
        for what, latencies in sized.samples.items():
            found += _percentiles(f"beacon-{backend} {sized.size} mailboxes {what}", latencies)
    return found


def _wait_for_login(port: int, number: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            asyncio.run(_login_round_trips(port, [number]))
            return
        except clients.ProtocolError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def measure_dovecot(peer: peers.Peers, sizes: tuple[int, int], runs: int, scale: float) -> list[report.Series]:
    """Dovecot re-reads its passwd-file when it changes: the sizes alternate by rewriting it."""
    logins: dict[int, list[list[float]]] = {size: [] for size in sizes}
    with peers.running_dovecot(peer):
        for seed in range(runs):
            for size in sizes:
                peers.write_dovecot_users(peer, size)
                _wait_for_login(peer.dovecot_port, size - 1)  # the reload happens here, untimed
                numbers = _picks(size, int(LOGIN_SAMPLES * scale), seed)
                logins[size].append(asyncio.run(_login_round_trips(peer.dovecot_port, numbers)))
    return [item for size in sizes for item in _percentiles(f"dovecot {size} mailboxes POP3 login", logins[size])]


def _print_scaling(series: list[report.Series], small: int, large: int) -> None:
    by_label = {s.label: s for s in series}
    for label, at_small in by_label.items():
        at_large = by_label.get(label.replace(f" {small} mailboxes", f" {large} mailboxes"))
        if f" {small} mailboxes" in label and at_large:
            scaled = label.replace(f" {small} mailboxes", "")
            print(f"  scaling {scaled:<52} {at_large.median / at_small.median:>6.2f}x  ({large} / {small} mailboxes)")


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--sizes", type=int, nargs=2, default=[1000, 100_000])
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    options = args.parse_args()
    common.raise_fd_limit()
    small, large = (100, 1000) if options.quick else options.sizes
    scale = 0.05 if options.quick else 1.0
    peer = peers.load_peers(options.work_dir)
    machine.print_machine(options.work_dir)
    report.print_workload(
        "recipient resolution and POP3 login at scale", sizes=(small, large), resolve_samples=int(RESOLVE_SAMPLES * scale),
        rcpt_samples=int(RCPT_SAMPLES * scale), login_samples=int(LOGIN_SAMPLES * scale), password_hash="argon2id (m=19456,t=2)",
    )  # fmt: skip
    series: list[report.Series] = []
    for backend in options.backends:
        series += measure_beacon(options.work_dir, backend, (small, large), options.runs, scale)
    if peer:
        series += measure_dovecot(peer, (small, large), options.runs, scale)
    report.record(options.results, "resolution_scale", series)
    _print_scaling(series, small, large)


if __name__ == "__main__":
    main()
