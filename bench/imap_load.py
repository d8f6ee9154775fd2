"""IMAP through our SQL accounts versus the same Dovecot with a passwd-file (issue 18): logins
per second (LOGIN + LOGOUT over implicit TLS, several clients at once) and SELECT + UID FETCH
1:* BODY.PEEK[] of a 1,000 × 10 KB INBOX, measured in turn in one run, indexes warm.

    python -m bench.imap_load [--logins 200] [--clients 10] [--messages 1000] [--backends sqlite postgresql]

Per backend: `beaconmail imap` (our rendered dovecot.conf, passdb/userdb SQL on our tables,
mailboxes made by create_mailbox, INBOX filled by shared.mail.delivery.deliver) and a
reference Dovecot: the same binary and the same rendered configuration except passdb/userdb =
passwd-file, holding the same argon2id hash and userdb fields, on its own copy of the Maildirs.
"""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import pwd
import shutil
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import beacon, clients, common, machine, peers, pop3_load, procstat, report
from services.imap.config import sql_file
from services.imap.server import check_installed, machine_host, write_config
from shared.accounts import get_mailbox
from shared.accounts.imap_login import imap_directory
from shared.accounts.views import CONSOLE
from shared.config import Settings

REFERENCE = "passwdfile"


@dataclass(frozen=True)
class Target:
    name: str
    port: int  # implicit TLS
    server_name: str
    context: ssl.SSLContext
    pids: Callable[[], list[int]]


@dataclass(frozen=True)
class Timed:
    count: int
    octets: int
    seconds: float
    cpu_seconds: float


def _timed(target: Target, work: Callable[[], tuple[int, int, float]]) -> Timed:
    """`work` returns (count, octets, seconds it timed); adds the server's CPU over the call."""
    cpu_before = procstat.cpu_seconds(target.pids())
    count, octets, seconds = work()
    return Timed(count, octets, seconds, procstat.cpu_seconds(target.pids()) - cpu_before)


async def _logins(target: Target, logins: int, users: int) -> tuple[int, int, float]:
    """`logins` LOGIN + LOGOUT sessions, each a new TLS connection, by `users` clients at once
    (client n logs in as user n)."""

    async def client(number: int, sessions: int) -> None:
        for _ in range(sessions):
            session = await clients.imap_login(
                target.port, target.context, target.server_name, beacon.address(number), beacon.PASSWORD
            )
            await clients.imap_logout(*session)

    start = time.perf_counter()
    await asyncio.gather(*(client(n, logins // users + (n < logins % users)) for n in range(users)))
    return logins, 0, time.perf_counter() - start


async def _fetch(target: Target) -> tuple[int, int, float]:
    """user0's INBOX: SELECT and UID FETCH every message, timed from SELECT to the tagged OK."""
    session = await clients.imap_login(
        target.port, target.context, target.server_name, beacon.address(0), beacon.PASSWORD
    )
    start = time.perf_counter()
    download = await clients.imap_fetch_inbox(*session)
    elapsed = time.perf_counter() - start
    await clients.imap_logout(*session)
    return download.messages, download.octets, elapsed


def run_logins(target: Target, logins: int, users: int) -> Timed:
    return _timed(target, lambda: asyncio.run(_logins(target, logins, users)))


def run_fetch(target: Target) -> Timed:
    return _timed(target, lambda: asyncio.run(_fetch(target)))


def measure(targets: list[Target], logins: int, users: int, runs: int) -> list[report.Series]:
    for target in targets:  # warm-up: Dovecot's indexes (new/ -> cur/), page cache, processes
        run_logins(target, users, users)
        run_fetch(target)
    login_runs = report.alternate([(t.name, functools.partial(run_logins, t, logins, users)) for t in targets], runs)
    fetch_runs = report.alternate([(t.name, functools.partial(run_fetch, t)) for t in targets], runs)
    found = []
    for name, results in login_runs.items():
        found.append(report.Series(f"{name} logins", "logins/s", tuple(r.count / r.seconds for r in results)))
        found.append(report.Series(f"{name} logins server CPU", "ms/login", tuple(1e3 * r.cpu_seconds / r.count for r in results)))
    for name, results in fetch_runs.items():
        found.append(report.Series(f"{name} FETCH", "msgs/s", tuple(r.count / r.seconds for r in results)))
        found.append(report.Series(f"{name} FETCH throughput", "MB/s", tuple(r.octets / r.seconds / 1e6 for r in results)))
        found.append(report.Series(f"{name} FETCH server CPU", "µs/msg", tuple(1e6 * r.cpu_seconds / r.count for r in results)))
    return found


def _target(name: str, settings: Settings, certificate: Path, master: int) -> Target:
    context = ssl.create_default_context(cafile=str(certificate))
    return Target(name, settings.imaps_port, settings.hostname, context, lambda: procstat.descendants(master))


def _with_ports(settings: Settings) -> Settings:
    imap_port, imaps_port = peers.free_ports(2)
    return dataclasses.replace(settings, imap_port=imap_port, imaps_port=imaps_port)


@contextmanager
def beacon_target(instance: beacon.BeaconInstance) -> Iterator[Target]:
    """`beaconmail imap` (Dovecot's master is its child) on our database."""
    settings = _with_ports(instance.settings)
    environ = instance.environment() | {
        "BEACONMAIL_IMAP_PORT": str(settings.imap_port),
        "BEACONMAIL_IMAPS_PORT": str(settings.imaps_port),
    }
    command = [sys.executable, "-m", "services.cli", "imap"]
    log = instance.root / "dovecot.log"
    with peers.running_server(command, [settings.imap_port, settings.imaps_port], environ, log) as master:
        yield _target(f"beacon-{instance.backend}", settings, machine_host(settings).tls_cert, master)


@contextmanager
def reference_target(instance: beacon.BeaconInstance, users: int) -> Iterator[Target]:
    """The same rendered configuration under a data folder of its own, passdb/userdb swapped
    for a passwd-file, on a copy of the instance's Maildirs made before either side read them."""
    root = instance.root / REFERENCE
    settings = _with_ports(
        dataclasses.replace(instance.settings, data_dir=root / "data", mail_root=root / "data" / "mail")
    )
    shutil.copytree(instance.settings.mail_root, settings.mail_root, symlinks=True)
    directory = imap_directory(settings)  # hands the root-owned copy to the Maildirs' user
    host = machine_host(instance.settings)  # the same certificate
    # No listener for IMAP changes: the bench stores and removes nothing (a change would only
    # make the stats service log a refused connection).
    config = write_config(settings, directory, host, changes_url="http://127.0.0.1:1/")
    passwd = root / "passwd"
    _write_passwd_file(passwd, instance, settings.mail_root, users, host.internal_user)
    sql_driver = f"  driver = sql\n  args = {sql_file(settings)}\n"
    text = config.read_text()
    if text.count(sql_driver) != 2:
        raise RuntimeError(f"no passdb and userdb sql blocks in {config}: has services/imap/config.py changed?")
    config.write_text(text.replace(sql_driver, f"  driver = passwd-file\n  args = {passwd}\n"))
    command = ["dovecot", "-F", "-c", str(config)]
    with peers.running_server(command, [settings.imap_port, settings.imaps_port], log=root / "dovecot.log") as master:
        yield _target(f"{REFERENCE}-{instance.backend}", settings, host.tls_cert, master)


def _write_passwd_file(path: Path, instance: beacon.BeaconInstance, mail_root: Path, users: int, owner: str) -> None:
    """What our passdb and userdb queries answer, one line per user: the hash as {ARGON2ID},
    the home (the Maildir copy) and the quota rule."""
    lines = []
    for number in range(users):
        view = get_mailbox(instance.db, beacon.address(number), actor=CONSOLE)
        home = mail_root / instance.maildir(number).relative_to(instance.settings.mail_root)
        fields = f"userdb_quota_rule=*:storage={view.quota_bytes}B"
        lines.append(f"{view.address}:{{ARGON2ID}}{beacon.password_hash()}::::{home}::{fields}\n")
    path.write_text("".join(lines))
    path.chmod(0o600)
    os.chown(path, pwd.getpwnam(owner).pw_uid, -1)


def fill_beacon(instance: beacon.BeaconInstance, users: int, messages: int) -> None:
    """user0's INBOX gets `messages` deliveries through our delivery; user1.. stay empty (they log in)."""
    pop3_load.fill_beacon(instance, 1, messages)
    instance.create_mailboxes(users - 1, start=1)


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--logins", type=int, default=200, help="LOGIN + LOGOUT sessions per timed run")
    args.add_argument("--clients", type=int, default=10, help="concurrent login clients, one mailbox each")
    args.add_argument("--messages", type=int, default=1000, help="messages in the fetched INBOX")
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    options = args.parse_args()
    common.raise_fd_limit()
    messages, logins = (20, 20) if options.quick else (options.messages, options.logins)
    users = min(options.clients, logins)
    machine.print_machine(options.work_dir)
    report.print_workload(
        "IMAP logins and FETCH, our SQL accounts vs passwd-file", logins=logins, clients=users,
        inbox_messages=messages, size=common.MESSAGE_SIZE, tls="implicit (imaps), a new handshake per login",
        password="argon2id (Beacon's default parameters) on both sides", client="asyncio",
    )  # fmt: skip
    series: list[report.Series] = []
    with ExitStack() as stack:
        targets = []
        for backend in options.backends:
            instance = stack.enter_context(beacon.beacon_instance(options.work_dir, backend))
            check_installed(instance.settings)
            fill_beacon(instance, users, messages)
            targets.append(stack.enter_context(reference_target(instance, users)))
            targets.append(stack.enter_context(beacon_target(instance)))
        series = measure(targets, logins, users, options.runs)
    for item in series:
        print(item.line(), flush=True)
    for backend in options.backends:
        report.print_ratios(series, f"{REFERENCE}-{backend}", [backend], ("logins/s", "msgs/s", "MB/s"))
    report.record(options.results, "imap_load", series, echo=False, logins=logins, clients=users, messages=messages)


if __name__ == "__main__":
    main()
