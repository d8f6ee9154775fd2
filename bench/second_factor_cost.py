"""What two-factor sign-in adds per login and per portal request, in this process: the
second-factor check every SMTP AUTH and POP3 login now makes (one EXISTS query, in the
transaction that reads the hash), beside the whole login it is part of; and the server-side
session check every signed-in portal request now makes, beside the mailbox read it already did.

    python -m bench.second_factor_cost [--calls 300] [--backend sqlite|postgresql|both]

Wall time (the database's part is the point), median per call of batches of 10, in microseconds.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bench import beacon, common, machine, report
from shared import accounts
from shared.accounts import portal_sessions
from shared.accounts.factor_check import has_second_factor


def wall_per_call(function: Callable[[], object], calls: int) -> tuple[float, ...]:
    batches = []
    for _ in range(max(1, calls // 10)):
        start = time.perf_counter()
        for _ in range(10):
            function()
        batches.append(1e6 * (time.perf_counter() - start) / 10)
    return tuple(batches)


def measure(work_dir: Path, backend: str, calls: int) -> list[report.Series]:
    with beacon.beacon_instance(work_dir, backend) as instance:
        instance.create_mailboxes(1)
        db, address = instance.db, beacon.address(0)
        mailbox_id = accounts.signed_in_mailbox(db, address).id
        token = portal_sessions.open_portal_session(db, address, ip="127.0.0.1", user_agent="bench")

        def factor_check() -> bool:
            with db.session.begin() as s:
                return has_second_factor(s, mailbox_id)

        parts: list[tuple[str, Callable[[], object], int]] = [
            ("second-factor check (added to each SMTP/POP3 login)", factor_check, calls),
            ("whole POP3 login (authenticate, argon2 included)", lambda: accounts.authenticate(
                db, address, beacon.PASSWORD, "pop3", "127.0.0.1"
            ), max(10, calls // 10)),
            ("portal session check (added to each portal request)", lambda: portal_sessions.check_portal_session(
                db, address, token
            ), calls),
            ("mailbox read (each portal request, before and after)", lambda: accounts.signed_in_mailbox(
                db, address
            ), calls),
        ]  # fmt: skip
        for _name, part, _calls in parts:
            part()  # warm-up: connections, statement caches
        return [report.Series(f"{backend}: {name}", "us/call", wall_per_call(part, n)) for name, part, n in parts]


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--calls", type=int, default=300)
    args.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    options = args.parse_args()
    calls = 20 if options.quick else options.calls
    backends = ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    machine.print_machine(options.work_dir)
    report.print_workload("two-factor sign-in's added checks, in-process", calls=calls)
    series = [item for backend in backends for item in measure(options.work_dir, backend, calls)]
    report.record(options.results, "second_factor_cost", series, calls=calls)


if __name__ == "__main__":
    main()
