"""Idle sessions: 1,000 open SMTP sessions (greeted, after EHLO) and 1,000 authenticated POP3
sessions (TRANSACTION state, after STAT), each on its own mailbox; memory per session of the
server side, from /proc: RSS and PSS of the server's process tree after minus before. Beacon
gets a fresh server process per run; Postfix and Dovecot fork a process per session.

    python -m bench.idle_sessions [--sessions 1000] [--backends sqlite] [--services smtp pop3]
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench import (
    beacon,
    bulk_mailboxes,
    clients,
    common,
    machine,
    peers,
    procstat,
    report,
)

SERVICES = ("smtp", "pop3")
OPENING_AT_ONCE = 50
WARM_UP_SESSIONS = 3
SETTLE_SECONDS = 1.0


@dataclass(frozen=True)
class Footprint:
    rss_kb_per_session: float
    pss_kb_per_session: float


async def _open_smtp(port: int, number: int) -> asyncio.StreamWriter:
    return (await clients.open_smtp(port))[1]


async def _open_pop3(port: int, number: int) -> asyncio.StreamWriter:
    reader, writer = await clients.pop3_login(port, beacon.address(number), beacon.PASSWORD)
    writer.write(b"STAT\r\n")
    await reader.readline()
    return writer


Opener = Callable[[int, int], Awaitable[asyncio.StreamWriter]]


async def _hold_sessions(
    port: int, mailboxes: range, opener: Opener, pids: Callable[[], list[int]]
) -> Footprint:
    before_rss, before_pss = procstat.rss_kb(pids()), procstat.pss_kb(pids())
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    sessions = len(mailboxes)

    async def open_one(number: int) -> asyncio.StreamWriter:
        async with gate:
            return await opener(port, number)

    writers = await asyncio.gather(*(open_one(n) for n in mailboxes))
    await asyncio.sleep(SETTLE_SECONDS)
    after = pids()
    footprint = Footprint(
        (procstat.rss_kb(after) - before_rss) / sessions, (procstat.pss_kb(after) - before_pss) / sessions
    )
    for writer in writers:
        writer.close()
    await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
    return footprint


def measure_once(port: int, mailboxes: range, opener: Opener, pids: Callable[[], list[int]]) -> Footprint:
    return asyncio.run(_hold_sessions(port, mailboxes, opener, pids))


def _series(name: str, footprints: list[Footprint]) -> list[report.Series]:
    return [
        report.Series(f"{name} RSS per session", "KB", tuple(f.rss_kb_per_session for f in footprints)),
        report.Series(f"{name} PSS per session", "KB", tuple(f.pss_kb_per_session for f in footprints)),
    ]


def measure_beacon(instance: beacon.BeaconInstance, service: str, sessions: int, runs: int) -> list[report.Series]:
    """Each run has its own server and its own mailboxes, so no run inherits another's state."""
    opener = _open_smtp if service == "smtp" else _open_pop3
    footprints = []
    for run in range(runs):
        first = run * (sessions + WARM_UP_SESSIONS)
        with beacon.running_service(instance, service) as server:
            warm_up = range(first, first + WARM_UP_SESSIONS)  # imports, pools, TLS context
            measure_once(server.port, warm_up, opener, lambda: [server.pid])
            mailboxes = range(warm_up.stop, warm_up.stop + sessions)
            footprints.append(measure_once(server.port, mailboxes, opener, lambda: procstat.descendants(server.pid)))
    return _series(f"beacon-{instance.backend} {service}", footprints)


@contextmanager
def _peer(peer: peers.Peers, service: str, sessions: int) -> Iterator[int]:
    if service == "smtp":
        with peers.running_postfix(peer) as master:
            yield master
        return
    peers.write_dovecot_users(peer, sessions)
    for number in range(sessions):
        if not peer.dovecot_maildir(number).exists():
            peers.fill_dovecot_maildrop(peer, number, b"", 0)
    with peers.running_dovecot(peer) as master:
        yield master


def measure_peer(peer: peers.Peers, service: str, sessions: int, runs: int) -> list[report.Series]:
    """A fresh peer per run: Postfix keeps idle smtpd processes for the next client (max_idle),
    which would otherwise be counted in the next run's baseline."""
    opener = _open_smtp if service == "smtp" else _open_pop3
    port = peer.postfix_port if service == "smtp" else peer.dovecot_port
    footprints = []
    for _ in range(runs):
        with _peer(peer, service, sessions) as master:
            footprints.append(measure_once(port, range(sessions), opener, lambda: procstat.descendants(master)))
    return _series("postfix smtp" if service == "smtp" else "dovecot pop3", footprints)


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--sessions", type=int, default=1000)
    args.add_argument("--backends", nargs="+", default=["sqlite"], choices=beacon.BACKENDS)
    args.add_argument("--services", nargs="+", default=list(SERVICES), choices=SERVICES)
    options = args.parse_args()
    common.raise_fd_limit()
    sessions = 20 if options.quick else options.sessions
    peer = peers.load_peers(options.work_dir)
    machine.print_machine(options.work_dir)
    report.print_workload(
        "idle sessions", sessions=sessions, services=options.services, smtp="after EHLO", pop3="after USER/PASS/STAT",
        peers="postfix smtpd, dovecot pop3" if peer else "none (run setup_peers.sh)",
    )  # fmt: skip
    series: list[report.Series] = []
    for backend in options.backends:
        with beacon.beacon_instance(options.work_dir, backend) as instance:
            bulk_mailboxes.create_mailboxes(instance.db, 0, options.runs * (sessions + WARM_UP_SESSIONS))
            for service in options.services:
                series += measure_beacon(instance, service, sessions, options.runs)
    if peer:
        for service in options.services:
            series += measure_peer(peer, service, sessions, options.runs)
    report.record(options.results, "idle_sessions", series)
    by_label = {s.label: s for s in series}
    for backend in options.backends:
        for ours, theirs in (("smtp", "postfix smtp"), ("pop3", "dovecot pop3")):
            for kind in ("RSS", "PSS"):
                mine = by_label.get(f"beacon-{backend} {ours} {kind} per session")
                peer_series = by_label.get(f"{theirs} {kind} per session")
                if mine and peer_series:
                    print(report.ratio_line(f"{backend} {ours} {kind}", mine, peer_series))


if __name__ == "__main__":
    main()
