"""Run every benchmark in one go and print a Markdown table of the medians for bench/RESULTS.md.

    .venv/bin/python -m bench.run_all [--setup] [--quick] [--only smtp_load pop3_load ...]

--setup runs bench/setup_peers.sh first (root; installs Postfix and Dovecot from Debian's
packages). Each benchmark runs as its own process; its output goes to the terminal and to
<work dir>/logs/<name>.log, its figures to <work dir>/results.jsonl.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import common, machine

BENCHMARKS = ("fsync_rate", "smtp_load", "pop3_load", "imap_load", "imap_counters", "idle_sessions", "resolution_scale", "admin_scale")
HERE = Path(__file__).resolve().parent


def run_benchmark(name: str, work_dir: Path, results: Path, extra: list[str], graveyard: Path) -> int:
    log_file = work_dir / "logs" / f"{name}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", f"bench.{name}", "--work-dir", str(work_dir), "--results", str(results), *extra]
    print(f"\n$ {' '.join(command)}", flush=True)
    began = time.monotonic()
    with log_file.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=HERE.parent,
            env={**os.environ, common.GRAVEYARD_ENV: str(graveyard)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
        code = process.wait()
    print(f"# {name}: exit {code} after {time.monotonic() - began:.0f} s", flush=True)
    return code


def markdown_table(results: Path) -> str:
    rows = ["| benchmark | figure | median | unit | min | max | runs |", "|---|---|---:|---|---:|---:|---:|"]
    for line in results.read_text().splitlines():
        entry = json.loads(line)
        for series in entry["series"]:
            values = series["values"]
            rows.append(
                f"| {entry['benchmark']} | {series['label']} | {series['median']:.1f} | {series['unit']} "
                f"| {min(values):.1f} | {max(values):.1f} | {len(values)} |"
            )
    return "\n".join(rows)


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--setup", action="store_true", help="run setup_peers.sh first (as root)")
    args.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    options = args.parse_args()
    work_dir: Path = options.work_dir
    if options.setup:
        subprocess.run(["bash", str(HERE / "setup_peers.sh"), str(work_dir)], check=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    results = options.results or work_dir / "results.jsonl"
    results.unlink(missing_ok=True)
    results.touch()
    extra = ["--runs", str(options.runs), *(["--quick"] if options.quick else [])]
    machine.print_machine(work_dir)
    # What one benchmark deletes would slow the file creates of the next (common.Graveyard).
    graveyard = work_dir / "graveyard"
    graveyard.mkdir(exist_ok=True)
    try:
        failed = [name for name in options.only if run_benchmark(name, work_dir, results, extra, graveyard) != 0]
    finally:
        shutil.rmtree(graveyard, ignore_errors=True)
    print("\n" + markdown_table(results))
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
