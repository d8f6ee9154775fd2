"""`beaconmail up`: the whole suite on one machine, from an empty folder.

This process prepares what the services share (schema, data folders, TLS pair, first
global admin), then runs smtp, pop3 and admin as child processes and restarts any that
crashes, until SIGINT or SIGTERM stops them all. It holds the listening sockets of smtp and
pop3 itself, as a service manager would: a crashed child's port is never free for another
program to take, its dying workers cannot make the restarted child's bind fail, and clients
wait in the queue until the restarted child accepts them.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from types import FrameType

import click

from services.launch import StartupError, claim_port, hold_port, serve
from services.probe import LISTENERS, SERVICES, Listener, check_service, is_accepting, probe_host
from shared.accounts import bootstrap
from shared.accounts.views import CONSOLE
from shared.config import ConfigError, Settings, hostname_warning
from shared.errors import InvalidAddress
from shared.mail.addresses import parse_address
from shared.runtime.proctitle import name_process
from shared.runtime.tls import ensure_tls_pair
from shared.storage.db import Database
from shared.storage.migrations import upgrade_to_head

FALLBACK_ADMIN_DOMAIN = "beacon.localhost"
GENERATED_PASSWORD_BYTES = 12
ADMIN_WORKERS = 1
READY_POLL = 0.02
SUPERVISE_POLL = 0.2
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
STABLE_RUN = 60.0  # a child that ran this long before crashing restarts after FIRST_BACKOFF again
PR_SET_PDEATHSIG = 1
EXIT_STARTUP = 2
FORK = multiprocessing.get_context("fork")


@dataclass(frozen=True)
class AdminLogin:
    addresses: tuple[str, ...]
    generated_password: str | None  # shown once; None when the admin existed or chose the password
    created: bool


def report(message: str) -> None:
    click.echo(f"beaconmail up: {message}", err=True)


def default_admin_address(hostname: str) -> str:
    try:
        return str(parse_address(f"admin@{hostname}"))
    except InvalidAddress:
        return f"admin@{FALLBACK_ADMIN_DOMAIN}"


def available_services(settings: Settings) -> tuple[str, ...]:
    """Every service, but imap only with Dovecot installed (else `up` says why it is off)."""
    from services.imap.server import DovecotMissing, check_installed

    try:
        check_installed(settings)
    except DovecotMissing as exc:
        report(f"IMAP is off: {exc}")
        return tuple(service for service in SERVICES if service != "imap")
    return SERVICES


def listeners_of(services: tuple[str, ...]) -> list[Listener]:
    return [listener for listener in LISTENERS if listener.service in services]


def hold_ports(settings: Settings, services: tuple[str, ...]) -> dict[str, socket.socket]:
    """Fail before anything starts when a port is 0, used twice, or taken by another program;
    the listening sockets of the listeners whose service takes them passed, by that name."""
    seen: dict[int, str] = {}
    held: dict[str, socket.socket] = {}
    try:
        for listener in listeners_of(services):
            port = listener.port(settings)
            if port == 0:
                raise ConfigError(f"{listener.variable}: beaconmail up needs a fixed port, not 0")
            if port in seen:
                raise ConfigError(f"{listener.variable}: port {port} is also {seen[port]}")
            seen[port] = listener.variable
            try:
                if listener.passed_as is None:
                    claim_port(settings.bind, port)
                else:
                    held[listener.passed_as] = hold_port(settings.bind, port)
            except OSError as exc:
                raise ConfigError(f"{listener.variable}: {exc.strerror}") from exc
    except ConfigError:
        for sock in held.values():
            sock.close()
        raise
    return held


def prepare_folder(settings: Settings) -> Settings:
    """Schema, data folders and the TLS pair, made once here so the children find them ready."""
    settings.mail_root.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings)
    cert, key = ensure_tls_pair(settings)
    return replace(settings, tls_cert=cert, tls_key=key)


def ensure_admin(settings: Settings, address: str | None, password: str | None) -> AdminLogin:
    """Create the first global admin unless one exists (then `address` and `password` are unused)."""
    db = Database(settings)
    try:
        existing = bootstrap.global_admins(db)
        if existing:
            return AdminLogin(tuple(existing), None, created=False)
        secret = password or secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        created = bootstrap.create_first_admin(db, address or default_admin_address(settings.hostname), secret, actor=CONSOLE)
        return AdminLogin((created.address,), None if password else secret, created=True)
    finally:
        db.dispose()


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def _leave_terminal_group(parent_pid: int) -> None:
    """In a forked child: its own process group (Ctrl-C reaches only `up`, which then stops
    each child), default signal handling until the service installs its own, and on Linux a
    SIGTERM from the kernel should `up` die without stopping it."""
    os.setpgid(0, 0)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        os._exit(0)  # `up` died before the line above took effect


def _child_main(service: str, settings: Settings, parent_pid: int, held: dict[str, socket.socket]) -> None:
    _leave_terminal_group(parent_pid)
    own = {listener.passed_as for listener in listeners_of((service,))}
    passed = {name: sock.detach() for name, sock in held.items() if name in own}
    for name, sock in held.items():
        if name not in own:
            sock.close()  # another service's: this child must not keep it listening
    try:
        serve(service, settings, admin_workers=ADMIN_WORKERS, passed=passed)
    except StartupError as exc:
        report(str(exc))
        sys.exit(EXIT_STARTUP)


@dataclass
class Child:
    service: str
    process: BaseProcess | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = FIRST_BACKOFF


class Supervisor:
    """Starts the children, restarts a crashed one with a growing delay, stops them all.

    Children are forked, not executed afresh: they inherit the modules this process has
    imported already, which halves the time until everything listens."""

    def __init__(self, settings: Settings, services: tuple[str, ...], held: dict[str, socket.socket]) -> None:
        """`held`: listening sockets by name (hold_ports), each passed to its service's every start."""
        self.settings = settings
        self.children = [Child(service) for service in services]
        self.held = held

    def start(self, child: Child) -> BaseProcess:
        sys.stdout.flush()
        sys.stderr.flush()
        process = FORK.Process(
            target=_child_main, args=(child.service, self.settings, os.getpid(), self.held), name=child.service,
            daemon=True,
        )
        process.start()
        child.process, child.started_at, child.restart_at = process, time.monotonic(), None
        return process

    def tend(self) -> None:
        """Notice crashed children and start the ones whose restart delay is over."""
        now = time.monotonic()
        for child in self.children:
            if child.process is not None and child.process.exitcode is not None:
                self._schedule_restart(child, child.process.exitcode, now)
            elif child.process is None and child.restart_at is not None and now >= child.restart_at:
                report(f"{child.service} restarted (pid {self.start(child).pid})")

    def _schedule_restart(self, child: Child, exitcode: int, now: float) -> None:
        if now - child.started_at >= STABLE_RUN:
            child.backoff = FIRST_BACKOFF
        child.process, child.restart_at = None, now + child.backoff
        report(f"{child.service} stopped unexpectedly ({describe_exit(exitcode)}); restarting in {child.backoff:g} s")
        child.backoff = min(child.backoff * 2, MAX_BACKOFF)

    def stop_all(self) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.is_alive()]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive() and process.pid is not None:
                os.killpg(process.pid, signal.SIGKILL)  # the group: gunicorn's workers too
                process.join()


class StopRequest:
    def __init__(self) -> None:
        self.requested = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.requested = True


def is_serving(settings: Settings, host: str, listener: Listener) -> bool:
    """A socket held here accepts connections before its service runs: only the service's
    greeting tells that it serves them."""
    if listener.passed_as is None:
        return is_accepting(host, listener.port(settings))
    return check_service(settings, listener.service) is None


def wait_until_ready(settings: Settings, supervisor: Supervisor, stop: StopRequest) -> bool:
    """True once every listener serves connections; False when asked to stop first."""
    host = probe_host(settings.bind)
    waiting = listeners_of(tuple(child.service for child in supervisor.children))
    deadline = time.monotonic() + READY_TIMEOUT
    while waiting and not stop.requested:
        if time.monotonic() > deadline:
            silent = ", ".join(f"{listener.label} ({listener.port(settings)})" for listener in waiting)
            raise StartupError(f"not accepting connections after {READY_TIMEOUT:g} s: {silent}")
        supervisor.tend()
        waiting = [listener for listener in waiting if not is_serving(settings, host, listener)]
        if waiting:
            time.sleep(READY_POLL)
    return not stop.requested


def print_endpoints(settings: Settings, services: tuple[str, ...], admin: AdminLogin, elapsed: float) -> None:
    shown = settings.hostname if probe_host(settings.bind) != settings.bind else settings.bind
    host = f"[{shown}]" if ":" in shown else shown
    lines = [
        f"Beacon Mail is ready ({elapsed:.2f} s)",
        f"  Admin portal URL:       http://{host}:{settings.admin_port}/",
        f"  Admin address:          {', '.join(admin.addresses)}",
    ]
    if admin.generated_password:
        lines.append(f"  Admin password:         {admin.generated_password}  (shown once: note it now)")
    elif admin.created:
        lines.append("  Admin password:         the one given on standard input")
    else:
        lines.append("  Admin password:         unchanged (an admin existed already)")
    lines += [
        f"  {listener.label + ':':<23} {host}:{listener.port(settings)}"
        for listener in listeners_of(services) if listener.service != "admin"
    ]
    lines += [f"  {'Data folder:':<23} {settings.data_dir}", "Press Ctrl-C to stop."]
    click.echo("\n".join(lines))


def run_embedded(settings: Settings, admin_address: str | None, admin_password: str | None, started: float) -> None:
    """Prepare, start and supervise the suite until SIGINT or SIGTERM (`started`: time.monotonic())."""
    name_process("up")
    stop = StopRequest()
    services = available_services(settings)
    held = hold_ports(settings, services)
    warning = hostname_warning(settings.hostname)  # once here: the children do not repeat it
    if warning:
        report(f"warning: {warning}")
    prepared = prepare_folder(settings)
    supervisor = Supervisor(prepared, services, held)
    for child in supervisor.children:
        if not stop.requested:
            report(f"{child.service} started (pid {supervisor.start(child).pid})")
    try:
        admin = ensure_admin(prepared, admin_address, admin_password)  # while the children start
        if admin_address and not admin.created:
            report(f"--admin {admin_address} ignored: a global admin exists already")
        if wait_until_ready(prepared, supervisor, stop):
            print_endpoints(prepared, services, admin, time.monotonic() - started)
        while not stop.requested:
            supervisor.tend()
            time.sleep(SUPERVISE_POLL)
        report("stopping")
    finally:
        supervisor.stop_all()
    report("stopped")
