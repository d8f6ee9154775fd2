"""The disk's durable-write rate: write + fsync + rename of a 10 KB file (and the directory fsync
a Maildir delivery adds), one writer and ten at once. This is the physical ceiling for
one-fsync-per-message delivery; Postfix + virtual(8) needs two file fsyncs per message.

    python -m bench.fsync_rate [--runs 3] [--seconds 2]
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from bench import common, machine, report


def _one_writer(directory: Path, deadline: float, fsync_dir: bool, counts: list[int], slot: int) -> None:
    data = os.urandom(common.MESSAGE_SIZE)
    tmp, new = directory / "tmp", directory / "new"
    done = 0
    while time.perf_counter() < deadline:
        name = f"{slot}.{done}"
        fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp / name, new / name)
        if fsync_dir:
            dir_fd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(dir_fd)
            os.close(dir_fd)
        done += 1
    counts[slot] = done


def measure(work_dir: Path, graveyard: common.Graveyard, writers: int, seconds: float, fsync_dir: bool) -> float:
    """Files per second made durable by `writers` threads in `seconds`."""
    directory = Path(tempfile.mkdtemp(dir=work_dir, prefix="fsync-"))
    (directory / "tmp").mkdir()
    (directory / "new").mkdir()
    counts = [0] * writers
    start = time.perf_counter()
    deadline = start + seconds
    threads = [
        threading.Thread(target=_one_writer, args=(directory, deadline, fsync_dir, counts, slot)) for slot in range(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = sum(counts) / (time.perf_counter() - start)
    graveyard.bury(directory)
    return rate


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--seconds", type=float, default=2.0)
    options = args.parse_args()
    options.work_dir.mkdir(parents=True, exist_ok=True)
    seconds = 0.2 if options.quick else options.seconds
    machine.print_machine(options.work_dir)
    report.print_workload("fsync rate", file_size=common.MESSAGE_SIZE, seconds_per_run=seconds, work_dir=options.work_dir)
    series = []
    with common.graveyard(options.work_dir) as graveyard:
        for writers in (1, 10):
            for fsync_dir in (False, True):
                label = f"{writers} writer(s), file fsync+rename" + (" + dir fsync" if fsync_dir else "")
                values = tuple(
                    measure(options.work_dir, graveyard, writers, seconds, fsync_dir) for _ in range(options.runs)
                )
                series.append(report.Series(label, "files/s", values))
    report.record(options.results, "fsync_rate", series)


if __name__ == "__main__":
    main()
