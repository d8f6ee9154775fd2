"""A real rspamd for tests: Debian's daemon with tests/rspamd/rspamd.conf, one normal worker on
127.0.0.1 and an ephemeral port, its state in a temporary folder, its DNS a test dnsmasq that
answers nothing (every name REFUSED, so rspamd never asks a server off loopback).

    with Rspamd(tmp_path) as rspamd:
        settings = replace(settings, rspamd_url=rspamd.url)
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.conftest import require_programs
from tests.dnsserver import DnsServer
from tests.ports import reserve_port

CONFIG = Path(__file__).with_name("rspamd.conf")
START_TIMEOUT = 60.0


class Rspamd:
    def __init__(self, folder: Path) -> None:
        require_programs("rspamd", install_hint="apt-get install rspamd")
        self.folder = folder
        self.port = 0
        self._dns = DnsServer([], folder / "dns", zones=("invalid",))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Rspamd:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._dns.__enter__()
        self.port = reserve_port()
        variables = {
            "CONFDIR": "/etc/rspamd",
            "LOCAL_CONFDIR": str(self.folder / "no-local-config"),
            "PORT": str(self.port),
            "DNS": self._dns.setting,
            "DBDIR": str(self.folder),
            "RUNDIR": str(self.folder),
            "LOGDIR": str(self.folder),
        }
        # -i: the tests may run as root, and rspamd refuses to without a user to switch to.
        command = ["rspamd", "--no-fork", "--insecure", "--config", str(CONFIG)]
        command += [f"--var={name}={value}" for name, value in variables.items()]
        # A process group of its own: the main process and its workers are stopped together.
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            self._wait_until_scanning()
        except BaseException:
            self._stop()
            raise
        return self

    def _wait_until_scanning(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"rspamd exited with {self._process.returncode}; see {self.folder}/rspamd.log")
            try:
                if httpx.get(f"{self.url}/ping", timeout=1, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"rspamd did not answer within {START_TIMEOUT:.0f} s; see {self.folder}/rspamd.log")

    def _stop(self) -> None:
        if self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGTERM)
                self._process.wait(timeout=10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self._process = None
        self._dns.__exit__(None, None, None)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop()
