"""What sender authentication at the MX costs: durable delivery of N × 10 KB DKIM-signed
messages over 10 concurrent sessions, with SPF, DKIM, DMARC and ARC checked against a local
dnsmasq (warm cache, rspamd off), against the same MX without the checks.

    python -m bench.mx_checks [--messages 1000] [--sessions 10] [--backends sqlite postgresql]

The message passes every check (SPF for 127.0.0.1, a 2048-bit RSA signature aligned with a
p=reject DMARC record), so the checked MX does all the work a real sender's mail costs it.
"""
from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dkim

from bench import beacon, clients, common, machine, procstat, report
from bench.smtp_load import MAILBOXES, Outcome, Target, empty_new, wait_delivered
from tests.dnsserver import DnsServer, Record

SENDER_DOMAIN = "sender.example"
SENDER = f"bench@{SENDER_DOMAIN}"
SELECTOR = "bench"


def _key_pair() -> tuple[bytes, str]:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def signed_message(private_key: bytes) -> bytes:
    body = common.message_bytes()  # From: bench@sender.example
    signature = dkim.sign(body, SELECTOR.encode(), SENDER_DOMAIN.encode(), private_key, include_headers=[b"from", b"subject"])
    return bytes(signature) + body


def zone(public_key: str) -> list[Record]:
    return [
        Record(SENDER_DOMAIN, "TXT", "v=spf1 ip4:127.0.0.1 -all"),
        Record(f"_dmarc.{SENDER_DOMAIN}", "TXT", "v=DMARC1; p=reject"),
        Record(f"{SELECTOR}._domainkey.{SENDER_DOMAIN}", "TXT", public_key),
    ]


def run_once(target: Target, message: bytes, messages: int, sessions: int) -> Outcome:
    empty_new(target)
    pids = target.pids()
    cpu_before = procstat.cpu_seconds(pids)
    start = time.perf_counter()
    shares = [messages // sessions + (1 if i < messages % sessions else 0) for i in range(sessions)]
    recipients = [beacon.address(i % MAILBOXES) for i in range(sessions)]

    async def load() -> None:
        await asyncio.gather(
            *(clients.send_messages(target.port, SENDER, to, message, n) for to, n in zip(recipients, shares, strict=True))
        )

    asyncio.run(load())
    finished = wait_delivered(target, messages)
    cpu = procstat.cpu_seconds(target.pids()) - cpu_before
    return Outcome(messages / (finished - start), 1000 * cpu / messages)


@contextmanager
def targets(work_dir: Path, backend: str, dns: DnsServer) -> Iterator[list[Target]]:
    with beacon.beacon_instance(work_dir, backend) as instance, ExitStack() as stack:
        instance.create_mailboxes(MAILBOXES)
        maildirs = tuple(instance.maildir(n) for n in range(MAILBOXES))
        buried = stack.enter_context(common.graveyard(work_dir))
        found = []
        for name, service in (("checks-on", "smtp"), ("checks-off", "smtp-unchecked")):
            running = stack.enter_context(beacon.running_service(instance, service, {"BEACONMAIL_DNS_RESOLVER": dns.setting}))
            pids = functools.partial(procstat.descendants, running.pid)
            found.append(Target(f"{name}-{backend}", running.port, maildirs, pids, buried))
        yield found


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--messages", type=int, default=1000)
    args.add_argument("--sessions", type=int, default=10)
    args.add_argument("--backends", nargs="+", default=["sqlite"], choices=beacon.BACKENDS)
    options = args.parse_args()
    messages = 40 if options.quick else options.messages
    private_key, public_key = _key_pair()
    message = signed_message(private_key)
    machine.print_machine(options.work_dir)
    report.print_workload(
        "MX durable delivery with sender authentication", messages=messages, size=len(message),
        sessions=options.sessions, mailboxes=MAILBOXES, dns="dnsmasq on loopback, warm cache", rspamd="off",
    )  # fmt: skip
    series: list[report.Series] = []
    # A TTL far beyond the run: the figures are for a warm cache, as the issue asks.
    with DnsServer(zone(public_key), options.work_dir / "dns", ttl=3600) as dns:
        for backend in options.backends:
            with targets(options.work_dir, backend, dns) as pair:
                for target in pair:  # warm-up: processes, the resolver's cache
                    run_once(target, message, max(options.sessions, messages // 10), options.sessions)
                runners = [(t.name, functools.partial(run_once, t, message, messages, options.sessions)) for t in pair]
                for name, results in report.alternate(runners, options.runs).items():
                    label = f"{name} {options.sessions} sess"
                    series.append(report.Series(label, "msgs/s", tuple(o.rate for o in results)))
                    series.append(report.Series(label + " server CPU", "ms/msg", tuple(o.cpu_ms_per_message for o in results)))
    for item in series:
        print(item.line(), flush=True)
    for backend in options.backends:
        on, off = (next(s for s in series if s.label == f"checks-{state}-{backend} {options.sessions} sess") for state in ("on", "off"))
        print(f"{backend}: checks on / off = {on.median / off.median:.2f} (cost {100 * (1 - on.median / off.median):.0f} % of throughput)")
    report.record(options.results, "mx_checks", series, messages=messages, echo=False)


if __name__ == "__main__":
    main()
