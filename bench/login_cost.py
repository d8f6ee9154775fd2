"""POP3 login cost, the mailbox's own password (argon2id) vs an app password (one SHA-256, found
by its prefix): sequential USER/PASS/QUIT round trips (p50, p95), logins/s with 8 clients at
once, and the server's CPU per login, on SQLite and PostgreSQL. Every login also goes through
the shared lockout (one read) and writes the last login (one UPSERT; an app password's use one
UPDATE more).

    python -m bench.login_cost [--logins 200] [--backends sqlite postgresql]
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench import beacon, clients, common, machine, procstat, report
from shared.accounts.app_passwords import create_app_password
from shared.accounts.views import CONSOLE

USERS = 8


@dataclass(frozen=True)
class Outcome:
    latencies: list[float]
    logins_per_second: float
    cpu_ms_per_login: float


async def _sequential(port: int, credentials: Sequence[tuple[str, str]], logins: int) -> list[float]:
    latencies = []
    for n in range(logins):
        user, password = credentials[n % len(credentials)]
        began = time.perf_counter()
        reader, writer = await clients.pop3_login(port, user, password)
        latencies.append(time.perf_counter() - began)
        await clients.pop3_quit(reader, writer)
    return latencies


async def _concurrent(port: int, credentials: Sequence[tuple[str, str]], logins: int) -> None:
    async def one_client(user: str, password: str) -> None:
        for _ in range(logins // len(credentials)):
            await clients.pop3_quit(*await clients.pop3_login(port, user, password))

    await asyncio.gather(*(one_client(user, password) for user, password in credentials))


def run_once(service: beacon.ServiceProcess, credentials: Sequence[tuple[str, str]], logins: int) -> Outcome:
    latencies = asyncio.run(_sequential(service.port, credentials, logins))
    cpu_before = procstat.cpu_seconds(procstat.descendants(service.pid))
    began = time.perf_counter()
    asyncio.run(_concurrent(service.port, credentials, logins))
    elapsed = time.perf_counter() - began
    cpu = procstat.cpu_seconds(procstat.descendants(service.pid)) - cpu_before
    return Outcome(latencies, logins / elapsed, 1000 * cpu / logins)


def measure(backend: str, logins: int, runs: int, work_dir: object) -> list[report.Series]:
    with beacon.beacon_instance(work_dir, backend) as instance:  # type: ignore[arg-type]
        instance.create_mailboxes(USERS)
        own = [(beacon.address(n), beacon.PASSWORD) for n in range(USERS)]
        apps = [
            (beacon.address(n), create_app_password(instance.db, beacon.address(n), name="bench", protocols=["pop3"],
                                                    actor=CONSOLE).password)
            for n in range(USERS)
        ]
        with beacon.running_service(instance, "pop3") as service:
            for credentials in (own, apps):
                run_once(service, credentials, USERS)  # warm-up
            outcomes = report.alternate(
                [("own password", lambda: run_once(service, own, logins)),
                 ("app password", lambda: run_once(service, apps, logins))],
                runs,
            )
    found = []
    for name, results in outcomes.items():
        label = f"beacon-{backend} POP3 login, {name}"
        found.append(report.Series(f"{label} p50", "ms", tuple(1000 * report.percentile(o.latencies, 0.5) for o in results)))
        found.append(report.Series(f"{label} p95", "ms", tuple(1000 * report.percentile(o.latencies, 0.95) for o in results)))
        found.append(report.Series(f"{label}, {USERS} clients", "logins/s", tuple(o.logins_per_second for o in results)))
        found.append(report.Series(f"{label} server CPU", "ms/login", tuple(o.cpu_ms_per_login for o in results)))
    return found


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--logins", type=int, default=200)
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    options = args.parse_args()
    logins = 2 * USERS if options.quick else options.logins
    machine.print_machine(options.work_dir)
    report.print_workload("POP3 login cost", logins=logins, users=USERS, password_hash="argon2id (m=19456,t=2) vs SHA-256")
    series: list[report.Series] = []
    for backend in options.backends:
        found = measure(backend, logins, options.runs, options.work_dir)
        for item in found:
            print(item.line(), flush=True)
        series.extend(found)
    report.record(options.results, "login_cost", series, echo=False, logins=logins)


if __name__ == "__main__":
    main()
