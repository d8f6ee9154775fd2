"""How long a `beaconmail` command takes from exec to exit, as a shell loop of admin calls sees it:
`beaconmail --help`, and `domain list` / `mailbox list` on an empty SQLite database. Several
installs can be measured in one run (e.g. this checkout and a checkout before a change), each
command of each install in turn, so the machine's other work falls on all alike (as hyperfine
does with several commands, after a warm-up run).

    python -m bench.cli_startup [--runs 10] [--beaconmail PATH ...]

Wall-clock time is what the admin waits; CPU time (user + system of the child, from wait4) is
the steadier figure on a shared machine.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench import common, machine, report

COMMANDS = (("--help",), ("domain", "list"), ("mailbox", "list"))
OWN = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "beaconmail"


def timed_run(beaconmail: Path, arguments: tuple[str, ...], environ: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run, which must succeed."""
    started = time.perf_counter()
    process = subprocess.Popen([str(beaconmail), *arguments], env=environ, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{beaconmail} {' '.join(arguments)} exited with {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    args = common.parser(__doc__ or "")
    args.set_defaults(runs=10)
    args.add_argument("--beaconmail", type=Path, action="append", help=f"the command to time (repeat; default {OWN})")
    options = args.parse_args()
    installs: list[Path] = options.beaconmail or [OWN]
    runs = 2 if options.quick else options.runs
    options.work_dir.mkdir(parents=True, exist_ok=True)
    machine.print_machine(options.work_dir)
    folder = Path(tempfile.mkdtemp(dir=options.work_dir, prefix="cli-startup-"))
    try:
        environ = os.environ | {"BEACONMAIL_DATA_DIR": str(folder)}
        subprocess.run([str(installs[0]), "init"], env=environ, check=True, stdout=subprocess.DEVNULL)
        report.print_workload("cli startup", runs=runs, installs=" ".join(map(str, installs)), database="empty SQLite")
        runners = [
            (f"{install} {' '.join(arguments)}", lambda i=install, a=arguments: timed_run(i, a, environ))
            for install in installs
            for arguments in COMMANDS
        ]
        for _name, run in runners:
            run()  # warm-up: the page cache and Python's bytecode cache
        results = report.alternate(runners, runs)
        series = []
        for name, outcomes in results.items():
            series.append(report.Series(f"{name} wall", "ms", tuple(wall * 1000 for wall, _cpu in outcomes)))
            series.append(report.Series(f"{name} cpu", "ms", tuple(cpu * 1000 for _wall, cpu in outcomes)))
        report.record(options.results, "cli_startup", series, load=os.getloadavg())
        print(f"load average at the end: {os.getloadavg()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
