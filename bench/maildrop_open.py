"""POP3 open of one maildrop, in process: shared.mail.maildrop.open_maildrop (the lease, the stale
tmp/ sweep, the listing with UIDLs) and release_maildrop, on SQLite, for maildrops of `--messages`
messages named three ways: as our delivery names them (in new/), ours after an IMAP client read
them (in cur/ with `:2,S`), and names Dovecot gave them (an IMAP APPEND, or a move and back).

    python -m bench.maildrop_open [--messages 1000] [--opens 20]
"""
from __future__ import annotations

import functools
import os
import time
from unittest import mock

from bench import beacon, common, machine, report
from shared.accounts import get_mailbox
from shared.accounts.views import CONSOLE
from shared.mail.delivery import deliver
from shared.mail.maildrop import open_maildrop, release_maildrop

KINDS = ("delivered", "read by IMAP", "named by Dovecot")


def fill(instance: beacon.BeaconInstance, messages: int) -> None:
    """user0 as delivered; user1 the same, then moved to cur/ as Dovecot does when a client reads;
    user2 the same, renamed as Dovecot names what it stores itself (`<secs>.M<usecs>P<pid>.<host>`)."""
    instance.create_mailboxes(len(KINDS))
    ids = [get_mailbox(instance.db, beacon.address(n), actor=CONSOLE).id for n in range(len(KINDS))]
    message = common.message_bytes()
    with mock.patch("os.fsync"):  # durability is not under test here
        for _ in range(messages):
            deliver(instance.db, message, ids, return_path="bench@sender.example")
    for number, kind in enumerate(KINDS[1:], start=1):
        maildir = instance.maildir(number)
        for index, name in enumerate(sorted(os.listdir(maildir / "new"))):
            size = name.rsplit(",S=", 1)[1]
            new_name = f"{name}:2,S" if kind == "read by IMAP" else f"1800000000.M{index:06d}P4242.imap,S={size},W={size}:2,S"
            os.rename(maildir / "new" / name, maildir / "cur" / new_name)


def open_and_release(instance: beacon.BeaconInstance, number: int, opens: int) -> tuple[float, float]:
    """Microseconds of wall time and of this process's CPU per open (the means of `opens` opens).
    CPU is the steadier figure on a shared machine: the work is all in this process."""
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(opens):
        maildrop = open_maildrop(instance.db, beacon.address(number), "bench")
        release_maildrop(instance.db, maildrop, "bench")
    return 1e6 * (time.perf_counter() - start) / opens, 1e6 * (time.process_time() - cpu_start) / opens


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--messages", type=int, default=1000)
    args.add_argument("--opens", type=int, default=20, help="opens per timed run")
    options = args.parse_args()
    messages = 20 if options.quick else options.messages
    machine.print_machine(options.work_dir)
    report.print_workload("POP3 open (in process)", messages_per_maildrop=messages, opens_per_run=options.opens)
    with beacon.beacon_instance(options.work_dir, "sqlite") as instance:
        fill(instance, messages)
        runners = [(kind, functools.partial(open_and_release, instance, n, options.opens)) for n, kind in enumerate(KINDS)]
        for _name, run in runners:
            run()  # warm-up: page cache, dentries, the connection pool
        outcomes = report.alternate(runners, options.runs)
    series = [
        report.Series(f"open, {kind}{figure}", "µs", tuple(outcome[index] for outcome in values))
        for kind, values in outcomes.items()
        for index, figure in enumerate(("", " CPU"))
    ]
    report.record(options.results, "maildrop_open", series, messages=messages)


if __name__ == "__main__":
    main()
