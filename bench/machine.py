"""What machine a figure was measured on: CPU, cores, memory, disk, kernel, Python."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
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


def describe(work_dir: Path) -> dict[str, str]:
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "disk": _disk(work_dir),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }


def print_machine(work_dir: Path) -> dict[str, str]:
    facts = describe(work_dir)
    print("machine: " + "; ".join(f"{key} {value}" for key, value in facts.items()), flush=True)
    return facts
