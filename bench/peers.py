"""The peer servers written by setup_peers.sh: start and stop the bench instances of Postfix
(`postfix -c DIR`) and Dovecot (foreground, as the bench user), fill Dovecot's passwd-file and
maildrops, and find their processes for CPU and memory figures."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.beacon import password_hash


@dataclass(frozen=True)
class Peers:
    bench_dir: Path
    user: str
    uid: int
    gid: int
    domain: str
    postfix_port: int
    dovecot_port: int

    @property
    def postfix_config(self) -> Path:
        return self.bench_dir / "postfix" / "etc"

    @property
    def dovecot_config(self) -> Path:
        return self.bench_dir / "dovecot" / "dovecot.conf"

    def postfix_maildir(self, number: int) -> Path:
        return self.bench_dir / "mail" / "postfix" / self.domain / f"user{number}"

    def dovecot_maildir(self, number: int) -> Path:
        return self.bench_dir / "mail" / "dovecot" / self.domain / f"user{number}"


def load_peers(work_dir: Path) -> Peers | None:
    """The peers set up in `work_dir`, or None (the benchmark then runs Beacon alone)."""
    env_file = work_dir / "peers.env"
    if not env_file.exists() or shutil.which("postfix") is None:
        return None
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return Peers(
        bench_dir=Path(values["BENCH_DIR"]),
        user=values["BENCH_USER"],
        uid=int(values["BENCH_UID"]),
        gid=int(values["BENCH_GID"]),
        domain=values["BENCH_DOMAIN"],
        postfix_port=int(values["POSTFIX_PORT"]),
        dovecot_port=int(values["DOVECOT_PORT"]),
    )


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def running_postfix(peers: Peers) -> Iterator[int]:
    """Postfix started with an empty queue; yields the master's pid."""
    config = str(peers.postfix_config)
    subprocess.run(["postsuper", "-c", config, "-d", "ALL"], check=False, capture_output=True)
    subprocess.run(["postfix", "-c", config, "start"], check=True, capture_output=True)
    pid_file = peers.bench_dir / "postfix" / "queue" / "pid" / "master.pid"
    try:
        wait_for_port(peers.postfix_port)
        yield int(pid_file.read_text().split()[0])
    finally:
        master = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        subprocess.run(["postfix", "-c", config, "stop"], check=False, capture_output=True)
        _wait_gone(master)


def _wait_gone(pid: int | None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while pid is not None and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def free_ports(count: int) -> list[int]:
    """Ports free now, all different, for servers that cannot listen on port 0 and say which
    port they got (Dovecot): each is held until all are chosen."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@contextmanager
def running_dovecot(peers: Peers) -> Iterator[int]:
    """Dovecot in the foreground as the bench user (setpriv execs it: no PAM session resetting
    the file-descriptor limit, no intermediate process); yields the master's pid."""
    command = ["setpriv", f"--reuid={peers.uid}", f"--regid={peers.gid}", "--init-groups"]
    with running_server([*command, "dovecot", "-F", "-c", str(peers.dovecot_config)], [peers.dovecot_port]) as pid:
        yield pid


@contextmanager
def running_server(
    command: list[str], ports: list[int], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[int]:
    """`command` (a server in the foreground) until it accepts on every port; yields its pid and
    terminates it afterwards. Its output goes to `log` when given."""
    with contextlib.ExitStack() as files:
        output = files.enter_context(log.open("ab")) if log else None
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT if log else None)
    try:
        for port in ports:
            wait_for_port(port)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_dovecot_users(peers: Peers, count: int) -> None:
    """passwd-file entries user0..user<count-1> with Beacon's argon2id hash of the same password."""
    stored = password_hash()
    lines = "".join(f"user{n}@{peers.domain}:{{ARGON2ID}}{stored}\n" for n in range(count))
    passwd = peers.bench_dir / "dovecot" / "passwd"
    fresh = passwd.with_name("passwd.new")
    fresh.write_text(lines)
    os.chown(fresh, peers.uid, peers.gid)
    os.replace(fresh, passwd)  # a running Dovecot never reads a half-written file


def fill_dovecot_maildrop(peers: Peers, number: int, message: bytes, count: int) -> None:
    """`count` copies of `message` as Postfix's virtual(8) would leave them (LF line ends)."""
    maildir = peers.dovecot_maildir(number)
    shutil.rmtree(maildir, ignore_errors=True)
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    stored = message.replace(b"\r\n", b"\n")
    for index in range(count):
        (maildir / "new" / f"{1700000000 + index}.M{index}P1.bench").write_bytes(stored)
    for path in [maildir.parent, maildir, *maildir.iterdir(), *(maildir / "new").iterdir()]:
        os.chown(path, peers.uid, peers.gid)
