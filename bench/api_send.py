"""HTTP send API throughput: POST /api/v1/messages of a 10 KB text message to one local
mailbox, against `beaconmail admin` (gunicorn) on SQLite and PostgreSQL, from C client
threads with keep-alive connections (httpx); messages/s from the first request to the last
202, each message durably in the Maildir before its answer, and the server's CPU (the gunicorn
tree's) per message, which says what a quieter machine could do.

The hourly submission limit is set far above the workload, so its counting is measured too.

    python -m bench.api_send [--messages 3000] [--clients 8] [--workers 4] [--backends sqlite postgresql]
"""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench import beacon, common, machine, procstat, report
from shared.accounts.tokens import create_token
from shared.accounts.views import CONSOLE

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BODY_TEXT = ("x" * 76 + "\n") * (common.MESSAGE_SIZE // 77)


@contextmanager
def running_admin(instance: beacon.BeaconInstance, workers: int) -> Iterator[tuple[str, int]]:
    log = instance.root / "admin.log"
    environment = instance.environment() | {
        "BEACONMAIL_ADMIN_PORT": "0",
        "BEACONMAIL_SUBMISSION_RATE_PER_HOUR": str(10**9),
        "HOME": str(instance.root),  # gunicorn's control socket
    }
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "admin", "--workers", str(workers)],
            cwd=beacon.REPO_ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=errors,
        )
    try:
        deadline = time.monotonic() + 30
        while not (found := LISTENING.search(log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"beaconmail admin did not start:\n{log.read_text()}")
            time.sleep(0.05)
        time.sleep(1.0)  # every worker booted, not only the first
        yield f"http://127.0.0.1:{found.group(1)}/api/v1/messages", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def send_all(url: str, secret: str, messages: int, clients: int) -> float:
    """Messages per second for `messages` sends shared by `clients` threads."""
    headers = {"Authorization": f"Bearer {secret}"}
    request = {"from": beacon.address(0), "to": [beacon.address(1)], "subject": "bench", "text": BODY_TEXT}
    counter = iter(range(messages))
    lock, failures = threading.Lock(), []

    def client() -> None:
        with httpx.Client(timeout=60) as session:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                answer = session.post(url, json=request, headers=headers)
                if answer.status_code != 202:
                    failures.append(f"HTTP {answer.status_code}: {answer.text[:200]}")
                    return

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - began
    if failures:
        raise RuntimeError(failures[0])
    return messages / took


def stored(instance: beacon.BeaconInstance) -> int:
    return sum(1 for _ in (instance.maildir(1) / "new").iterdir())


def measure(work_dir: Path, backend: str, messages: int, clients: int, workers: int, runs: int) -> list[report.Series]:
    rates, cpu = [], []
    with beacon.beacon_instance(work_dir, backend) as instance:
        instance.create_mailboxes(2)
        secret = create_token(instance.db, beacon.address(0), name="bench", sends_mail=True, actor=CONSOLE).secret
        with running_admin(instance, workers) as (url, pid):
            send_all(url, secret, min(100, messages), clients)  # warm-up: imports, statement caches
            for _ in range(runs):
                before, used = stored(instance), procstat.cpu_seconds(procstat.descendants(pid))
                rates.append(send_all(url, secret, messages, clients))
                cpu.append(1000 * (procstat.cpu_seconds(procstat.descendants(pid)) - used) / messages)
                assert stored(instance) - before == messages, "a 202 without its message in the Maildir"
    label = f"beacon-{backend} {clients} clients {workers} workers"
    return [report.Series(label, "msgs/s", tuple(rates)), report.Series(f"{label} server CPU", "ms/msg", tuple(cpu))]


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--messages", type=int, default=3000)
    args.add_argument("--clients", type=int, nargs="+", default=[8])
    args.add_argument("--workers", type=int, default=4)
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    options = args.parse_args()
    messages = 50 if options.quick else options.messages
    machine.print_machine(options.work_dir)
    report.print_workload("HTTP send API", messages=messages, size=common.MESSAGE_SIZE, clients=options.clients,
                          admin_workers=options.workers, recipient="one local mailbox")
    series = []
    for backend in options.backends:
        for clients in options.clients:
            found = measure(options.work_dir, backend, messages, clients, options.workers, options.runs)
            for item in found:
                print(item.line(), flush=True)
            series += found
    report.record(options.results, "api_send", series, echo=False)


if __name__ == "__main__":
    main()
