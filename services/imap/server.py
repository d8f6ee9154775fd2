"""`beaconmail imap`: Dovecot in the foreground, on a configuration written from the settings.

This process writes the files under DATA_DIR/imap, runs `dovecot -F` as its child and, beside
it, the listener for the IMAP changes Dovecot reports (services.imap.changes). SIGTERM and
SIGINT go on to Dovecot; Dovecot's log is on stderr and its exit code is this process's, so
`beaconmail up` supervises it like any other child. Dovecot gets SIGTERM should this process
die first.
"""
from __future__ import annotations

import errno
import fcntl
import os
import pwd
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from services.imap.changes import ChangeListener
from services.imap.config import (
    DovecotFiles,
    Host,
    app_password_sql_file,
    dict_user,
    imap_folder,
    quota_dict_file,
    render,
    runtime_folder,
    sql_file,
)
from shared.accounts.imap_login import ImapDirectory, dovecot_driver, imap_directory
from shared.config import Settings
from shared.runtime.prefork import die_with_parent
from shared.runtime.tls import ensure_tls_pair, watch_pair
from shared.storage.db import Database

DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_LIBEXEC = Path("/usr/lib/dovecot")
# What each Debian package brings that we use: a file to look for.
IMAP_PACKAGE = ("dovecot-imapd", DOVECOT_LIBEXEC / "imap-login")
SQL_PACKAGES = {
    "sqlite": ("dovecot-sqlite", DOVECOT_LIBEXEC / "modules" / "auth" / "libdriver_sqlite.so"),
    "pgsql": ("dovecot-pgsql", DOVECOT_LIBEXEC / "modules" / "auth" / "libdriver_pgsql.so"),
}
# Debian's dovecot-core creates these users; a run without root uses its own user for both.
INTERNAL_USER, LOGIN_USER = "dovecot", "dovenull"


class DovecotMissing(Exception):
    """Dovecot or a package of it is not installed; the message is one line naming what to install."""


def check_installed(settings: Settings) -> None:
    """Raise DovecotMissing unless Dovecot, its IMAP server and the database's SQL driver are here."""
    sql_package = SQL_PACKAGES[dovecot_driver(settings.database_url)]
    wanted = [("dovecot-core", DOVECOT), IMAP_PACKAGE, sql_package]
    missing = [package for package, path in wanted if not path.exists()]
    if missing:
        everything = " ".join(package for package, _path in wanted[1:])
        raise DovecotMissing(
            f"IMAP needs Dovecot: {', '.join(missing)} not installed (apt-get install {everything})"
        )


def run_imap(settings: Settings) -> None:
    """Write Dovecot's configuration and run Dovecot until it stops; raises SystemExit with
    its exit code when that is not 0."""
    check_installed(settings)
    directory = imap_directory(settings)
    db = Database(settings)
    try:
        with sole_instance(imap_folder(settings)), ChangeListener(db) as listener:
            host = machine_host(settings)
            config = write_config(settings, directory, host, listener.url)
            returncode = _run_dovecot(config, host)
    finally:
        db.dispose()
    if returncode:
        raise SystemExit(returncode)


@contextmanager
def sole_instance(folder: Path) -> Iterator[None]:
    """Held while Dovecot runs: a second `beaconmail imap` on the same data folder would rewrite
    the running Dovecot's configuration and sockets, so it stops before writing anything."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "instance.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError(errno.EBUSY, f"another `beaconmail imap` is running on {folder}") from None
        yield


def _run_dovecot(config: Path, host: Host) -> int:
    parent = os.getpid()
    dovecot = subprocess.Popen(
        [str(DOVECOT), "-F", "-c", str(config)], preexec_fn=lambda: die_with_parent(parent, signal.SIGTERM)
    )

    def forward(signum: int, _frame: FrameType | None) -> None:
        dovecot.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    # A renewed or replaced certificate: SIGHUP makes Dovecot read its configuration, and so the
    # pair, again; new logins get the new certificate and open sessions go on.
    stopped = threading.Event()
    following = threading.Thread(
        target=watch_pair,
        args=(host.tls_cert, host.tls_key, lambda: dovecot.send_signal(signal.SIGHUP), stopped),
        name="tls-follower",
        daemon=True,
    )
    following.start()
    try:
        return dovecot.wait()
    finally:
        stopped.set()


def machine_host(settings: Settings) -> Host:
    cert, key = ensure_tls_pair(settings)
    if os.geteuid() == 0:
        return Host(cert, key, as_root=True, internal_user=INTERNAL_USER, login_user=LOGIN_USER)
    me = pwd.getpwuid(os.geteuid()).pw_name
    return Host(cert, key, as_root=False, internal_user=me, login_user=me)


def write_config(settings: Settings, directory: ImapDirectory, host: Host, changes_url: str) -> Path:
    """Write the files (the SQL ones readable by the Dovecot process that uses each only) and
    make the folders Dovecot's processes write to; returns dovecot.conf's path."""
    files: DovecotFiles = render(settings, directory, host, changes_url)
    folder = imap_folder(settings)
    index = folder / "index"
    for path in (folder, runtime_folder(settings), folder / "state", index):
        path.mkdir(parents=True, exist_ok=True)
    # The mail processes (the Maildirs' owner) create each mailbox's index folder.
    os.chown(index, directory.mail_uid, directory.mail_gid)
    _write_private(sql_file(settings), files.sql, pwd.getpwnam(host.internal_user).pw_uid)
    _write_private(app_password_sql_file(settings), files.app_password_sql, pwd.getpwnam(host.internal_user).pw_uid)
    _write_private(quota_dict_file(settings), files.quota_dict, pwd.getpwnam(dict_user(directory, host)).pw_uid)
    config = folder / "dovecot.conf"
    _write_private(config, files.main, os.geteuid())
    return config


def _write_private(path: Path, text: str, owner: int) -> None:
    """Replace `path` by a new file readable by `owner` alone."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chown(partial, owner, -1)
    os.replace(partial, path)
