"""Processes a test starts: each in its own session (so its whole group can be signalled),
output to files (a full pipe can never block it), and always stopped by the test."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

STOP_TIMEOUT = 15.0
VENV_BIN = Path(sys.executable).parent
BEACONMAIL = str(VENV_BIN / "beaconmail")


@dataclass
class Started:
    name: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace")

    def errors(self) -> str:
        return self.stderr.read_text(errors="replace")

    def describe(self) -> str:
        tail = 3000
        return (
            f"{self.name} (exit {self.process.poll()})\n--- stdout\n{self.output()[-tail:]}"
            f"\n--- stderr\n{self.errors()[-tail:]}"
        )

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the process group, wait, then kill whatever is left of it."""
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass
        try:
            return self.process.wait(STOP_TIMEOUT)
        finally:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()


class ProcessTracker:
    """Starts processes and stops every one of them at the end of the test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Started] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdin: bytes | None = None,
        pass_fds: Sequence[int] = (),
    ) -> Started:
        """`pass_fds`: descriptors of this process the new one inherits (under the same numbers)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stdout, stderr = self.folder / f"{name}.out", self.folder / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                list(argv), env=dict(env), cwd=cwd, stdout=out, stderr=err,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, start_new_session=True,
                pass_fds=tuple(pass_fds),
            )
        if stdin is not None:
            assert process.stdin is not None
            process.stdin.write(stdin)
            process.stdin.close()
        started = Started(name, process, stdout, stderr)
        self.started.append(started)
        return started

    def stop_all(self) -> None:
        for started in reversed(self.started):
            if started.process.returncode is None:
                started.stop()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll until `condition()` holds; returns the seconds it took."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - began


def environment_without_beaconmail(**extra: str) -> dict[str, str]:
    """This process's environment minus any BEACONMAIL_* setting, plus `extra`."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("BEACONMAIL_")}
    return kept | extra
