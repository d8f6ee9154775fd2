"""Where the MX's sender authentication spends its CPU: one message of bench/mx_checks.py
(10 KB, RSA-2048 DKIM, SPF pass, DMARC p=reject) checked in this process, each part alone
and the whole decision, against a local dnsmasq with a warm cache.

    python -m bench.mx_check_cost [--checks 500]

CPU time of the calling thread (time.thread_time), so other load on the machine adds less
than to the end-to-end figures of bench/mx_checks.py; median per check, in microseconds.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from bench import beacon, common, machine, report
from bench.mx_checks import SENDER, _key_pair, signed_message, zone
from shared.mail.authentication import dmarc
from shared.mail.authentication.author import author_of
from shared.mail.authentication.chain import verify_chain
from shared.mail.authentication.inbound import check_inbound
from shared.mail.authentication.results import PASS, SpfResult
from shared.mail.authentication.sender_policy import check_spf
from shared.mail.authentication.signatures import verify_signatures
from shared.mail.resolver import Resolver
from shared.mail.screening import senders
from shared.storage.db import Database
from tests.dnsserver import DnsServer

CLIENT = {"ip": "127.0.0.1", "helo": "client.example"}


def cpu_per_call(function: Callable[[], object], calls: int) -> tuple[float, ...]:
    """Microseconds of thread CPU per call, in batches of 10 (the clock's resolution)."""
    batches = []
    for _ in range(max(1, calls // 10)):
        start = time.thread_time()
        for _ in range(10):
            function()
        batches.append(1e6 * (time.thread_time() - start) / 10)
    return tuple(batches)


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--checks", type=int, default=500)
    options = args.parse_args()
    checks = 50 if options.quick else options.checks
    private_key, public_key = _key_pair()
    message = signed_message(private_key)
    machine.print_machine(options.work_dir)
    report.print_workload("one MX authentication check, in-process", size=len(message), checks=checks, dns="dnsmasq, warm cache")
    with DnsServer(zone(public_key), options.work_dir / "dns", ttl=3600) as dns, beacon.beacon_instance(
        options.work_dir, "sqlite"
    ) as instance:
        instance.create_mailboxes(1)
        db = Database(dataclasses.replace(instance.settings, dns_resolver=(dns.address,)))
        resolver = Resolver((dns.address,))
        spf = SpfResult(PASS, "sender.example", False)
        parts: list[tuple[str, Callable[[], object]]] = [
            ("SPF (pyspf)", lambda: check_spf(resolver, return_path=SENDER, **CLIENT)),
            ("DKIM (dkimpy)", lambda: verify_signatures(resolver, message)),
            ("author (From:)", lambda: author_of(message)),
            ("author and the sender lists' senders", lambda: senders(SENDER, author_of(message).addresses)),
            ("DMARC", lambda: dmarc.evaluate(resolver, "sender.example", spf, ())),
            ("ARC (none present)", lambda: verify_chain(resolver, message)),
            ("whole decision (check_inbound)", lambda: check_inbound(
                db, message, return_path=SENDER, mailboxes={1: beacon.address(0)}, **CLIENT
            )),
        ]  # fmt: skip
        for _name, part in parts:  # warm-up: caches, the resolver's answers
            for _ in range(20):
                part()
        series = [report.Series(name, "us/check", cpu_per_call(part, checks)) for name, part in parts]
        db.dispose()
    report.record(options.results, "mx_check_cost", series, checks=checks)


if __name__ == "__main__":
    main()
