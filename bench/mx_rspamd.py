"""MX durable delivery with rspamd scanning every message against without it: N × 10 KB
messages over 10 sessions (smtp_load's asyncio client and timing), to Beacon's smtp with
BEACONMAIL_RSPAMD_URL set to a local Debian rspamd (tests/rspamd/rspamd.conf) and unset. Both
servers use the same local DNS server (dnsmasq, answering nothing), so the reverse lookup
rspamd is told about costs what a warm cache costs.

    python -m bench.mx_rspamd [--messages 300] [--sessions 10] [--backends sqlite]
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import beacon, common, machine, procstat, report
from bench.smtp_load import MAILBOXES, Target, measure
from tests.dnsserver import DnsServer
from tests.rspamd.server import Rspamd


@contextmanager
def scanned_target(work_dir: Path, backend: str, name: str, settings: dict[str, str]) -> Iterator[Target]:
    with beacon.beacon_instance(work_dir, backend) as instance:
        instance.create_mailboxes(MAILBOXES)
        with beacon.running_service(instance, "smtp", settings) as service, common.graveyard(work_dir) as buried:
            maildirs = tuple(instance.maildir(n) for n in range(MAILBOXES))
            yield Target(name, service.port, maildirs, lambda: procstat.descendants(service.pid), buried)


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--messages", type=int, default=300)
    args.add_argument("--sessions", type=int, default=10)
    args.add_argument("--backends", nargs="+", default=["sqlite"], choices=beacon.BACKENDS)
    options = args.parse_args()
    common.raise_fd_limit()
    messages = 40 if options.quick else options.messages
    machine.print_machine(options.work_dir)
    report.print_workload(
        "MX durable delivery, rspamd on vs off", messages=messages, size=common.MESSAGE_SIZE,
        sessions=[options.sessions], mailboxes=MAILBOXES, clients=["asyncio"], peer="the same server without rspamd",
    )  # fmt: skip
    series: list[report.Series] = []
    with ExitStack() as stack:
        dns = stack.enter_context(DnsServer([], options.work_dir / "mx-rspamd-dns", zones=("invalid",)))
        scanner = stack.enter_context(Rspamd(options.work_dir / "mx-rspamd"))
        targets = []
        for backend in options.backends:
            off = {"BEACONMAIL_DNS_RESOLVER": dns.setting}
            on = off | {"BEACONMAIL_RSPAMD_URL": scanner.url}
            targets.append(stack.enter_context(scanned_target(options.work_dir, backend, f"{backend}-rspamd-off", off)))
            targets.append(stack.enter_context(scanned_target(options.work_dir, backend, f"{backend}-rspamd-on", on)))
        found = measure(targets, "asyncio", messages, options.sessions, options.runs)
        for item in found:
            print(item.line(), flush=True)
        series.extend(found)
    report.record(options.results, "mx_rspamd", series, messages=messages, echo=False)


if __name__ == "__main__":
    main()
