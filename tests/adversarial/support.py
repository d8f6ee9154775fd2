"""Helpers of the adversarial tests: services as real child processes, a database connection
that can be cut, a tiny filesystem that fills up, and reading Maildirs back.

Clients and in-thread servers come from the integration tests' support modules; what is
here is only what those do not offer.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest
from e2e.processes import (
    ProcessTracker,
    Started,
    environment_without_beaconmail,
    wait_for,
)
from sqlalchemy.engine import make_url

from shared.config import Settings
from shared.storage.maildirs import list_messages

IN_CI = os.environ.get("CI") == "true"
REPOSITORY = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # a loaded CI machine imports the service slowly
SMTP_LISTENING = re.compile(r"smtp (mx|submission|submissions) listening on \S+:(\d+)")
POP3_LISTENING = re.compile(r"POP3 listening on \S+ port (\d+) \(STLS\) and port (\d+)")


def service_environment(settings: Settings) -> dict[str, str]:
    """`settings` as the BEACONMAIL_* variables a service process reads."""
    variables = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if value is None or value == ():
            continue
        if field.name == "dns_resolver":
            text = ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in value)
        elif isinstance(value, tuple):
            text = ",".join(value)
        else:
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        variables[f"BEACONMAIL_{field.name.upper()}"] = text
    return environment_without_beaconmail(**variables)


# What a service manager does between fork and exec (sd_listen_fds(3)): the sockets it holds become
# descriptors 3, 4, ... of the service, and LISTEN_PID names the service. argv: the held
# descriptors (LISTEN_FDS of them), then the service's own argv.
AS_SERVICE_MANAGER = """
import os, sys
count = int(os.environ["LISTEN_FDS"])
held = [int(fd) for fd in sys.argv[1 : 1 + count]]
copies = [os.dup(fd) for fd in held]  # each at least 3 + its index: dup2 below overwrites no copy
for number, fd in enumerate(copies):
    os.dup2(fd, 3 + number)
    os.set_inheritable(3 + number, True)
for fd in set(held + copies) - set(range(3, 3 + count)):
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[1 + count], sys.argv[1 + count :])
"""


class ServiceProcess:
    """`python -m services.cli smtp|pop3` as a child process that tests may SIGKILL and restart.
    Every start listens on fresh ephemeral ports, read back from the service's log, unless
    `held` gives listening sockets (by listener name) that this test holds for the service
    as a service manager would, and passes at each start."""

    def __init__(
        self, service: str, settings: Settings, tracker: ProcessTracker, held: dict[str, socket.socket] | None = None
    ) -> None:
        self.service = service
        self.settings = settings
        self.tracker = tracker
        self.held = held or {}
        self.starts = 0
        self.current: Started | None = None
        self.ports: dict[str, int] = {}

    def start(self) -> dict[str, int]:
        self.starts += 1
        argv = [sys.executable, "-m", "services.cli", self.service]
        env = service_environment(self.settings)
        descriptors = [sock.fileno() for sock in self.held.values()]
        if self.held:
            argv = [sys.executable, "-c", AS_SERVICE_MANAGER, *map(str, descriptors), *argv]
            env |= {"LISTEN_FDS": str(len(self.held)), "LISTEN_FDNAMES": ":".join(self.held)}
        self.current = self.tracker.start(
            f"{self.service}-{self.starts}", argv, env=env, cwd=REPOSITORY, pass_fds=descriptors
        )
        wait_for(self._listening, START_TIMEOUT, f"{self.service} to listen")
        return self.ports

    def _listening(self) -> bool:
        assert self.current is not None
        log = self.current.errors()
        if self.current.process.poll() is not None:
            raise AssertionError(f"{self.service} exited before listening:\n{self.current.describe()}")
        if self.service == "smtp":
            self.ports = {name: int(port) for name, port in SMTP_LISTENING.findall(log)}
            return len(self.ports) == 3
        found = POP3_LISTENING.search(log)
        if found:
            self.ports = {"pop3": int(found.group(1)), "pop3s": int(found.group(2))}
        return found is not None

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or released."""
        assert self.current is not None
        self.current.stop(signal.SIGKILL)

    def stop(self) -> int:
        assert self.current is not None
        return self.current.stop(signal.SIGTERM)


def run_cli(settings: Settings, *arguments: str) -> str:
    """`beaconmail <arguments>` against `settings`; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *arguments],
        env=service_environment(settings),
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class DatabaseProxy:
    """A TCP forwarder in front of the database server. `cut()` drops every connection and
    answers new ones by closing them at once (a database that went away); `restore()` forwards
    again. `requests` counts the round trips: each time a client sends after the server spoke
    (or first), so bytes a client sends in several writes without an answer between count once."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.requests = 0
        self._client_spoke_last = False
        self._accepting = threading.Thread(target=self._accept_forever, daemon=True)
        self._accepting.start()

    def url_for(self, database_url: str) -> str:
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            for sock in self._open:
                _shut(sock)

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self.cut()
        _shut(self.listener)  # wakes the accept() below; close() alone would not
        self.listener.close()
        self._accepting.join(timeout=5)

    def _accept_forever(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return  # closed
            if self._cut.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for source, target, from_client in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(source, target, from_client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                self._count(from_client)  # before forwarding: the answer cannot overtake it
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                _shut(sock)
            with self._lock:
                self._open.difference_update((source, target))


    def _count(self, from_client: bool) -> None:
        with self._lock:
            if from_client and not self._client_spoke_last:
                self.requests += 1
            self._client_spoke_last = from_client


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def skip_unless_in_ci(reason: str) -> NoReturn:
    """Skip for a privilege this machine does not give, except under CI=true: CI runs as root
    on a machine that gives it, so there its absence is a failure."""
    if IN_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


@contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `path` for the test. Skipped with the reason where mounting
    is not permitted, except under CI=true, where that is a failure."""
    path.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    done = subprocess.run(mount, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        skip_unless_in_ci(f"cannot mount a {size} tmpfs (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)


def fill_filesystem(path: Path, leave: int) -> Path:
    """A file that takes all but `leave` bytes of the filesystem holding `path`."""
    stats = os.statvfs(path)
    filler = path / "filler"
    filler.write_bytes(b"\0" * max(stats.f_bavail * stats.f_frsize - leave, 0))
    return filler


def maildir_of(settings: Settings, address: str) -> Path:
    local, _at, domain = address.partition("@")
    return settings.mail_root / domain / local


def visible_files(settings: Settings, address: str) -> list[Path]:
    """What POP3 may list: the files in new/ and cur/."""
    return [message.path for message in list_messages(maildir_of(settings, address))]


def hidden_files(settings: Settings, address: str) -> list[Path]:
    """Files in tmp/: written, never published."""
    tmp = maildir_of(settings, address) / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []
