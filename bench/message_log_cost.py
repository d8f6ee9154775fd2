"""SMTP durable delivery with the message log against without it: N × 10 KB messages over 10
sessions (smtp_load's asyncio client and timing, until every message is in new/), to Beacon's
smtp as it runs and to the same smtp accepting messages without an origin, so nothing is
logged (bench.serve_beacon smtp-unlogged). Target: with the log ≥ 0.9× without.

    python -m bench.message_log_cost [--messages 300] [--sessions 10] [--backends sqlite postgresql]
"""
from __future__ import annotations

from contextlib import ExitStack

from bench import beacon, common, machine, report
from bench.smtp_load import MAILBOXES, beacon_target, measure


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--messages", type=int, default=300)
    args.add_argument("--sessions", type=int, default=10)
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    options = args.parse_args()
    common.raise_fd_limit()
    messages = 40 if options.quick else options.messages
    machine.print_machine(options.work_dir)
    report.print_workload(
        "SMTP durable delivery, message log on vs off", messages=messages, size=common.MESSAGE_SIZE,
        sessions=[options.sessions], mailboxes=MAILBOXES, clients=["asyncio"], peer="the same server logging nothing",
    )  # fmt: skip
    series: list[report.Series] = []
    with ExitStack() as stack:
        targets = []
        for backend in options.backends:
            for service, label in (("smtp-unlogged", f"{backend}-log-off"), ("smtp", f"{backend}-log-on")):
                targets.append(stack.enter_context(beacon_target(options.work_dir, backend, service, label)))
        found = measure(targets, "asyncio", messages, options.sessions, options.runs)
        for item in found:
            print(item.line(), flush=True)
        series.extend(found)
    report.record(options.results, "message_log_cost", series, messages=messages, echo=False)


if __name__ == "__main__":
    main()
