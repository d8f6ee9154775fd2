"""What machine a figure was measured on: CPU, cores, memory, disk, kernel, Python."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    return "unknown"


def _disk(path: Path) -> str:
    """The device and filesystem holding `path`, and whether the kernel calls it rotational."""
    try:
        source = subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE,FSTYPE", "--target", str(path)], capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    device, fstype = (source + ["?", "?"])[:2]
    rotational = Path(f"/sys/block/{Path(device).name}/queue/rotational")
    kind = {"0": "non-rotational", "1": "rotational"}.get(rotational.read_text().strip(), "") if rotational.exists() else ""
    return f"{device} {fstype} {kind}".strip()


def _file_create_cost(work_dir: Path, files: int = 300) -> str:
    """CPU per file created in a new directory under `work_dir`. Every delivery creates files
    (Postfix two per message, Beacon one). On ext4 without a journal this ranged from 25 us
    to 1.4 ms on one machine of ours: a create there skips every inode freed in the last
    minutes (see common.Graveyard), so it tells how much of a figure is the filesystem."""
    if not work_dir.is_dir():
        return "unknown"
    directory = Path(tempfile.mkdtemp(dir=work_dir, prefix="create-cost-"))
    try:
        started = time.thread_time()
        for number in range(files):
            os.close(os.open(directory / str(number), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        cost = (time.thread_time() - started) / files
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return f"{cost * 1e6:.0f} us CPU"


def describe(work_dir: Path) -> dict[str, str]:
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "disk": _disk(work_dir),
        "file create": _file_create_cost(work_dir),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }


def print_machine(work_dir: Path) -> dict[str, str]:
    facts = describe(work_dir)
    print("machine: " + "; ".join(f"{key} {value}" for key, value in facts.items()), flush=True)
    return facts
