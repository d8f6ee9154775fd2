"""How far our counters lag an IMAP change in a session that stays open (issue 18): the time
from the tagged OK of an APPEND, or of an EXPUNGE, to `get_mailbox` showing the disk's totals
(what `beaconmail mailbox list` shows). The contract allows 5 s; quota_clone alone took 10 s.

    python -m bench.imap_counters [--changes 20] [--backends sqlite postgresql]

Per backend: `beaconmail imap` on a fresh instance, one mailbox, one IMAP session over
implicit TLS for every change; the counters are read every 5 ms.
"""
from __future__ import annotations

import imaplib
import time
from collections.abc import Callable

from bench import beacon, common, imap_load, machine, report
from shared.accounts import get_mailbox
from shared.accounts.views import CONSOLE
from shared.storage.maildirs import disk_usage

POLL_SECONDS = 0.005
GIVE_UP_SECONDS = 30.0


def lag_ms(instance: beacon.BeaconInstance, change: Callable[[], object]) -> float:
    """Run `change` (it returns after the server's tagged OK), then wait for the counters."""
    change()
    changed = time.monotonic()
    while True:
        view = get_mailbox(instance.db, beacon.address(0), actor=CONSOLE)
        if (view.used_bytes, view.messages) == disk_usage(instance.maildir(0)):
            return (time.monotonic() - changed) * 1000
        if time.monotonic() - changed > GIVE_UP_SECONDS:
            raise RuntimeError("the counters never reached the disk's totals")
        time.sleep(POLL_SECONDS)


def measure(instance: beacon.BeaconInstance, changes: int) -> list[report.Series]:
    message = common.message_bytes()
    appends, expunges = [], []
    with imap_load.beacon_target(instance) as target:
        with imaplib.IMAP4_SSL("127.0.0.1", target.port, ssl_context=target.context) as client:
            client.login(beacon.address(0), beacon.PASSWORD)
            client.select("Sent")
            for _ in range(changes):
                appends.append(lag_ms(instance, lambda: client.append("Sent", "", None, message)))
            for _ in range(changes):
                client.store("1", "+FLAGS", "(\\Deleted)")
                expunges.append(lag_ms(instance, client.expunge))
    return [
        report.Series(f"{instance.backend}: APPEND -> counters", "ms", tuple(appends)),
        report.Series(f"{instance.backend}: EXPUNGE -> counters", "ms", tuple(expunges)),
    ]


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--changes", type=int, default=20, help="APPENDs, then as many EXPUNGEs, per backend")
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    options = args.parse_args()
    changes = 3 if options.quick else options.changes
    machine.print_machine(options.work_dir)
    report.print_workload(
        "IMAP change to counters, one open session", changes=changes, size=common.MESSAGE_SIZE, poll="5 ms"
    )
    series: list[report.Series] = []
    for backend in options.backends:
        with beacon.beacon_instance(options.work_dir, backend) as instance:
            instance.create_mailboxes(1)
            series += measure(instance, changes)
    for item in series:
        print(item.line(), flush=True)
    report.record(options.results, "imap_counters", series, echo=False, changes=changes)


if __name__ == "__main__":
    main()
