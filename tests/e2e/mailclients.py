"""The Debian mail clients the end-to-end flow drives: swaks and msmtp submit, fetchmail,
mpop and curl collect. Each call is one run of the real program on loopback."""
from __future__ import annotations

import getpass
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CLIENTS = ("swaks", "msmtp", "fetchmail", "mpop", "curl")
CLIENT_TIMEOUT = 60.0
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Account:
    address: str
    password: str


def run(
    argv: Sequence[str], *, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a client to completion; a non-zero exit fails the test with its output."""
    result = subprocess.run(list(argv), input=stdin, check=False, capture_output=True, timeout=CLIENT_TIMEOUT, env=env)
    if result.returncode != 0:
        raise AssertionError(
            f"{argv[0]} exited {result.returncode}\n{result.stdout.decode(errors='replace')[-4000:]}"
            f"\n{result.stderr.decode(errors='replace')[-4000:]}"
        )
    return result


def private_file(path: Path, text: str) -> Path:
    """Clients refuse configuration files with passwords that others can read."""
    path.write_text(text)
    path.chmod(0o600)
    return path


def swaks_submit(port: int, account: Account, recipients: Sequence[str], message: bytes, folder: Path) -> str:
    """Submission with STARTTLS and AUTH PLAIN. swaks ends the data with CRLF itself."""
    data = folder / "swaks-data.eml"
    data.write_bytes(message.removesuffix(b"\r\n"))
    result = run(
        [
            "swaks", "--server", HOST, "--port", str(port), "--tls", "--auth", "PLAIN",
            "--auth-user", account.address, "--auth-password", account.password,
            "--from", account.address, "--to", ",".join(recipients), "--data", str(data), "--timeout", "30",
        ]
    )
    return result.stdout.decode(errors="replace")


def msmtp_send(port: int, account: Account, recipients: Sequence[str], message: bytes, folder: Path) -> None:
    config = private_file(
        folder / "msmtprc",
        f"account default\nhost {HOST}\nport {port}\ntls on\ntls_starttls on\ntls_certcheck off\n"
        f"auth on\nuser {account.address}\npassword {account.password}\nfrom {account.address}\n",
    )
    run(["msmtp", "-C", str(config), *recipients], stdin=message)


def fetchmail_collect(port: int, account: Account, folder: Path) -> list[bytes]:
    """POP3 with STLS required (sslproto without `ssl`), certificate not checked, mail kept;
    each message is handed to an MDA that writes it to its own file."""
    folder.mkdir(parents=True)
    mda = folder / "mda.sh"
    mda.write_text('#!/bin/sh\ncat > "$(dirname "$0")/message.$(date +%s%N)"\n')
    mda.chmod(0o700)
    config = private_file(
        folder / "fetchmailrc",
        f"set no syslog\npoll {HOST} with service {port} protocol POP3 auth password\n"
        f'    user "{account.address}" there with password "{account.password}" is "{getpass.getuser()}" here\n'
        f"    sslproto 'TLS1.2+' no sslcertck\n    keep fetchall\n    mda \"{mda}\"\n",
    )
    run(["fetchmail", "--fetchmailrc", str(config), "--nodetach", "--idfile", str(folder / "ids"),
         "--pidfile", str(folder / "pid")], env={"HOME": str(folder), "PATH": "/usr/bin:/bin"})
    return [path.read_bytes() for path in sorted(folder.glob("message.*"))]


def mpop_collect(port: int, account: Account, folder: Path, *, keep: bool) -> list[bytes]:
    """POP3 with STLS into a Maildir; with keep=False the messages are deleted on the server."""
    maildir = folder / "Maildir"
    for part in ("new", "cur", "tmp"):
        (maildir / part).mkdir(parents=True)
    config = private_file(
        folder / "mpoprc",
        f"account e2e\nhost {HOST}\nport {port}\ntls on\ntls_starttls on\ntls_certcheck off\n"
        f"user {account.address}\npassword {account.password}\ndelivery maildir {maildir}\n"
        f"keep {'on' if keep else 'off'}\nuidls_file {folder / 'uidls'}\n",
    )
    run(["mpop", "-C", str(config), "e2e"])
    return [path.read_bytes() for path in sorted((maildir / "new").iterdir())]


def _curl(port: int, account: Account, ca_file: Path, path: str) -> bytes:
    """curl speaks STLS when told TLS is required, and checks the server against `ca_file`."""
    return run(
        ["curl", "--silent", "--show-error", "--ssl-reqd", "--cacert", str(ca_file),
         "--user", f"{account.address}:{account.password}", f"pop3://{HOST}:{port}/{path}"]
    ).stdout


def curl_list(port: int, account: Account, ca_file: Path) -> list[tuple[int, int]]:
    lines = _curl(port, account, ca_file, "").decode().split()
    return [(int(number), int(size)) for number, size in zip(lines[::2], lines[1::2], strict=False)]


def curl_retrieve(port: int, account: Account, ca_file: Path, number: int) -> bytes:
    return _curl(port, account, ca_file, str(number))
