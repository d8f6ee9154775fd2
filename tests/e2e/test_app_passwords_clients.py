"""App passwords and the shared lockout through `beaconmail up` (two SMTP and two POP3 worker
processes) with the real clients: swaks and msmtp submit with an SMTP app password, fetchmail
and mpop collect with a POP3 one; smtplib and poplib find each refused on the other protocol,
and failures spread over processes and protocols lock one client address out of the account
while the owner's own address goes on."""
from __future__ import annotations

import poplib
import smtplib
import socket
import ssl
from pathlib import Path

from .flow import ALICE, DOMAIN, AdminApi, issue_token, message
from .mailclients import Account, fetchmail_collect, mpop_collect, msmtp_send, swaks_submit
from .processes import ProcessTracker
from .upmode import start_up

GUESSER = "127.0.0.2"
# smtplib tries PLAIN, then LOGIN: each refused login counts twice.
MAX_FAILURES = 6


class Pop3From(poplib.POP3):
    """poplib from a chosen loopback address (it has no source_address of its own)."""

    def __init__(self, host: str, port: int, source_ip: str) -> None:
        self.source_ip = source_ip
        super().__init__(host, port, timeout=30)

    def _create_socket(self, timeout: float) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout, source_address=(self.source_ip, 0))


def smtp_login(port: int, user: str, password: str, source_ip: str = "127.0.0.1") -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(source_ip, 0)) as client:
        client.starttls(context=ssl._create_unverified_context())  # noqa: S323 (the test's self-signed certificate)
        try:
            return client.login(user, password)[0]
        except smtplib.SMTPAuthenticationError as refused:
            return refused.smtp_code


def pop3_login(port: int, user: str, password: str, source_ip: str = "127.0.0.1") -> bytes:
    client = Pop3From("127.0.0.1", port, source_ip)
    try:
        client.user(user)
        return client.pass_(password)
    except poplib.error_proto as refused:
        return refused.args[0]
    finally:
        client.quit()


def test_app_passwords_with_real_clients_and_one_lockout_across_processes(
    mail_clients: None, processes: ProcessTracker, tmp_path: Path
) -> None:
    variables = {"BEACONMAIL_LOGIN_MAX_FAILURES": str(MAX_FAILURES), "BEACONMAIL_SMTP_PROCESSES": "2",
                 "BEACONMAIL_POP3_PROCESSES": "2"}
    running = start_up(processes, tmp_path / "up", variables=variables)
    deployment = running.deployment()
    api = AdminApi(deployment.admin_url, issue_token(deployment))
    api.create("/domains", {"name": DOMAIN})
    api.create("/mailboxes", {"address": ALICE.address, "password": ALICE.password})
    path = f"/mailboxes/{ALICE.address}/app-passwords"
    sender = Account(ALICE.address, api.create(path, {"name": "mailer", "protocols": ["smtp"]})["password"])
    reader = Account(ALICE.address, api.create(path, {"name": "reader", "protocols": ["pop3"]})["password"])

    swaks_submit(deployment.submission_port, sender, [ALICE.address], message("by swaks", ALICE.address, ALICE.address), tmp_path)
    msmtp_send(deployment.submission_port, sender, [ALICE.address], message("by msmtp", ALICE.address, ALICE.address), tmp_path)
    fetched = fetchmail_collect(deployment.pop3_port, reader, tmp_path / "fetchmail")
    assert sorted(b"by swaks" in m for m in fetched) == [False, True] and any(b"by msmtp" in m for m in fetched)
    assert len(mpop_collect(deployment.pop3_port, reader, tmp_path / "mpop", keep=True)) == 2

    assert smtp_login(deployment.submission_port, ALICE.address, reader.password) == 535  # wrong protocol
    assert pop3_login(deployment.pop3_port, ALICE.address, sender.password).startswith(b"-ERR [AUTH]")
    listed = {item["name"]: item for item in api.call("GET", path)[1]["items"]}
    assert listed["mailer"]["last_used_from"] == listed["reader"]["last_used_from"] == "127.0.0.1"

    # Failures from one address, spread over the SMTP and POP3 processes, count together: 2 + 1 + 2 + 1.
    for n in range(2):
        assert smtp_login(deployment.submission_port, ALICE.address, f"guess-{n}", GUESSER) == 535
        assert pop3_login(deployment.pop3_port, ALICE.address, f"guess-{n}", GUESSER).startswith(b"-ERR [AUTH]")
    for _ in range(3):  # whichever worker takes the connection
        assert smtp_login(deployment.submission_port, ALICE.address, ALICE.password, GUESSER) == 535
        assert pop3_login(deployment.pop3_port, ALICE.address, ALICE.password, GUESSER) == b"-ERR [AUTH] authentication failed"
    assert smtp_login(deployment.submission_port, ALICE.address, ALICE.password) == 235  # the owner's address
    assert pop3_login(deployment.pop3_port, ALICE.address, reader.password).startswith(b"+OK")

    record = api.call("GET", f"/mailboxes/{ALICE.address}")[1]["last_login"]
    assert record["smtp"]["from"] == record["pop3"]["from"] == "127.0.0.1" and record["imap"] is None
    assert running.started.stop() == 0
