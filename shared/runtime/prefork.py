"""One service in several processes that share its listening sockets (pre-fork), so it uses
every core: a Python process runs Python on one core at a time, and one smtp process runs
out of CPU long before the disk is busy (bench/RESULTS.md).

The parent binds the sockets (so a taken port fails at once, in one place), forks the
workers, starts a new one when one dies, and on SIGTERM or SIGINT stops them all and
waits for them. A worker dies with the parent, even if the parent is SIGKILLed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping

from shared.config import ConfigError
from shared.runtime.accepting import WorkerLoads
from shared.runtime.proctitle import name_worker

log = logging.getLogger(__name__)

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# A worker that dies sooner than this after its start is not restarted at once: a worker
# that cannot start must not turn into a fork loop.
RESTART_PAUSE = 1.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening, non-blocking TCP socket for asyncio's `create_server(sock=...)`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and accepted sockets inherit it. Without it Nagle held every second reply of a
    # pipelined command group until the client's delayed ACK, a stall on every RCPT.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def service_sockets(host: str, ports: Mapping[str, int], passed: Mapping[str, int]) -> dict[str, socket.socket]:
    """The listening socket of each listener in `ports` (name -> port): the one passed under its
    name (shared.config.passed_sockets), else one bound here.

    A socket bound here closes when the service dies, and the kernel resets every connection
    still waiting in its queue: after a SIGKILL the dying workers hold it for a few more
    milliseconds (a process frees its memory before its files), and whoever connects then is
    reset. A socket held by a service manager outlives the service: connections wait in its
    queue until the restarted workers accept them."""
    return {name: _adopted(passed[name], name) if name in passed else listening_socket(host, port) for name, port in ports.items()}


def _adopted(descriptor: int, name: str) -> socket.socket:
    try:
        sock = socket.socket(fileno=descriptor)
    except OSError as error:
        raise ConfigError(f"LISTEN_FDS: descriptor {descriptor} ({name}) is not a socket: {error.strerror}") from error
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise ConfigError(f"LISTEN_FDS: descriptor {descriptor} ({name}) is not a listening TCP socket")
    sock.setblocking(False)
    return sock


def run_workers(count: int, work: Callable[[WorkerLoads], None]) -> None:
    """Run `work(loads)` (which returns after SIGTERM) in `count` processes until SIGTERM or
    SIGINT; `loads` holds every worker's count of open connections, each worker writing its own
    (a worker started in place of one that died takes over its count). With one, it runs in this process."""
    loads = WorkerLoads(count)
    if count == 1:
        work(loads)
        return

    def work_as(number: int) -> None:
        loads.become(number)
        work(loads)

    children: dict[int, tuple[int, float]] = {}  # pid -> (number, start time)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    for number in range(count):
        _spawn(children, number, work_as)
    while children:
        pid, status = os.wait()  # PEP 475: resumed after the signal handler ran
        number, started = children.pop(pid)
        if stopping:
            continue
        log.error("worker %d exited with status %d; starting another", pid, os.waitstatus_to_exitcode(status))
        if time.monotonic() - started < RESTART_PAUSE:
            time.sleep(RESTART_PAUSE)
        if not stopping:
            _spawn(children, number, work_as)


def _spawn(children: dict[int, tuple[int, float]], number: int, work: Callable[[int], None]) -> None:
    # Stop signals wait until the child is in `children`, where `stop` finds it.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            _run_child(parent, number, work)
        children[pid] = (number, time.monotonic())
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _run_child(parent: int, number: int, work: Callable[[int], None]) -> None:
    code = 0
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        die_with_parent(parent, signal.SIGKILL)
        name_worker(number + 1)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        work(number)
    except BaseException:  # a forked child must never return into the parent's code
        log.exception("worker failed")
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def die_with_parent(parent: int, signum: int) -> None:
    """Linux: `signum` to this process when the parent dies, so no orphan keeps serving the port."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)
