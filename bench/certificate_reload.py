"""What following the certificate costs (issue 21): the per-connection look of a threaded
server (`ServedCertificate.current()`: two stat() calls), a periodic look of an asyncio
listener when nothing changed (`refresh()`), and loading a changed pair (checked on a
scratch context, then loaded into the live one; measured with the two fsynced writes of
a renewal before it).

    python -m bench.certificate_reload [--runs 3]

In-process, no servers: CPU per call (thread time), median of `--runs` rounds.
"""
from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import common, machine
from shared.config import load_settings
from shared.runtime.tls import ServedCertificate, ensure_tls_pair, write_private

CALLS = {"current() unchanged": 20000, "refresh() unchanged": 20000, "write pair + refresh()": 200}


def per_call(action: Callable[[], object], calls: int) -> float:
    started = time.thread_time()
    for _ in range(calls):
        action()
    return (time.thread_time() - started) / calls


def main() -> None:
    args = common.parser(__doc__ or "").parse_args()
    machine.print_machine(Path(tempfile.gettempdir()))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings = load_settings({"BEACONMAIL_DATA_DIR": str(root / "a"), "BEACONMAIL_SECRET_KEY": "k"})
        pair = ensure_tls_pair(settings)
        other = ensure_tls_pair(dataclasses.replace(settings, data_dir=root / "b"))
        pairs = [(p.read_bytes(), q.read_bytes()) for p, q in (pair, other)]
        served = ServedCertificate(*pair)
        flip = iter(range(10**9))

        def change_and_refresh() -> None:
            cert, key = pairs[next(flip) % 2]
            write_private(pair[1], key)
            write_private(pair[0], cert)
            assert served.refresh()

        actions: dict[str, Callable[[], object]] = {
            "current() unchanged": served.current,
            "refresh() unchanged": served.refresh,
            "write pair + refresh()": change_and_refresh,
        }
        for name, action in actions.items():
            rounds = [per_call(action, CALLS[name]) * 1e6 for _ in range(args.runs)]
            print(f"{name:<24} {statistics.median(rounds):9.1f} µs  [{min(rounds):.1f}–{max(rounds):.1f}]")


if __name__ == "__main__":
    main()
