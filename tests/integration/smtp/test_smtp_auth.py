"""AUTH PLAIN and LOGIN on submission (RFC 4954, RFC 4616), throttling, and that a password
check never stalls the event loop."""

from __future__ import annotations

import statistics
import time
from base64 import b64encode
from concurrent.futures import ThreadPoolExecutor

import pytest

from .support import ALICE, ALICE_PW, BOB, CAROL, RawSmtp, RunningSmtp, client_context

pytestmark = pytest.mark.integration


def b64(text: str) -> bytes:
    return b64encode(text.encode())


ALICE_PLAIN = b64(f"\0{ALICE}\0{ALICE_PW}")


def tls_session(server: RunningSmtp, source_ip: str = "127.0.0.1") -> RawSmtp:
    """Submission after STARTTLS and EHLO, from `source_ip` (any 127/8 address is loopback)."""
    client = RawSmtp(server.submission, source_ip=source_ip)
    assert client.command(b"EHLO client.example").startswith(b"250")
    client.starttls(client_context(server.settings))
    assert client.command(b"EHLO client.example").startswith(b"250")
    return client


def test_plain_with_initial_response_then_no_second_auth(shared_smtp: RunningSmtp) -> None:
    client = tls_session(shared_smtp)
    assert client.command(b"AUTH PLAIN " + ALICE_PLAIN) == b"235 2.7.0 Authentication successful\r\n"
    assert client.command(b"AUTH PLAIN " + ALICE_PLAIN).startswith(b"503 5.5.1")
    assert client.command(f"MAIL FROM:<{ALICE}>".encode()).startswith(b"250 2.1.0")
    client.close()


def test_plain_with_challenge_and_lowercase_mechanism(shared_smtp: RunningSmtp) -> None:
    client = tls_session(shared_smtp)
    assert client.command(b"auth plain") == b"334 \r\n"
    assert client.command(ALICE_PLAIN).startswith(b"235 2.7.0")
    client.close()


def test_login_with_and_without_initial_username(shared_smtp: RunningSmtp) -> None:
    client = tls_session(shared_smtp)
    assert client.command(b"AUTH LOGIN") == b"334 VXNlcm5hbWU6\r\n"
    assert client.command(b64(ALICE)) == b"334 UGFzc3dvcmQ6\r\n"
    assert client.command(b64(ALICE_PW)).startswith(b"235 2.7.0")
    client.close()
    client = tls_session(shared_smtp)
    assert client.command(b"AUTH LOGIN " + b64(ALICE)) == b"334 UGFzc3dvcmQ6\r\n"
    assert client.command(b64(ALICE_PW)).startswith(b"235 2.7.0")
    client.close()


def test_malformed_exchanges_get_their_error_and_the_session_goes_on(shared_smtp: RunningSmtp) -> None:
    client = tls_session(shared_smtp)
    assert client.command(b"AUTH PLAIN") == b"334 \r\n"
    assert client.command(b"*").startswith(b"501 5.7.0")
    assert client.command(b"AUTH PLAIN !!!").startswith(b"501 5.5.2")
    assert client.command(b"AUTH PLAIN AGFs=aWNl").startswith(b"501 5.5.2")
    assert client.command(b"AUTH PLAIN =").startswith(b"501 5.5.2")
    assert client.command(b"AUTH PLAIN " + b64(f"{ALICE}\0{ALICE_PW}")).startswith(b"501 5.5.2")
    assert client.command(b"AUTH PLAIN " + b64(f"\0{ALICE}\0{ALICE_PW}\0x")).startswith(b"501 5.5.2")
    assert client.command(b"AUTH PLAIN " + b64encode(b"\0\xff\xfe\0pw")).startswith(b"501 5.5.2")
    client.close()
    client = tls_session(shared_smtp)
    assert client.command(b"AUTH CRAM-MD5").startswith(b"504 5.5.4")
    assert client.command(b"AUTH").startswith(b"501 5.5.4")
    assert client.command(b"AUTH PLAIN a b").startswith(b"501 5.5.4")
    assert client.command(b"AUTH LOGIN") == b"334 VXNlcm5hbWU6\r\n"
    assert client.command(b"A" * 4000).startswith(b"500 5.5.6")
    assert client.command(b"NOOP").startswith(b"250 2.0.0")
    assert client.command(b"AUTH PLAIN " + ALICE_PLAIN).startswith(b"235 2.7.0")
    client.close()


def test_a_connection_gets_a_bounded_number_of_auth_commands(shared_smtp: RunningSmtp) -> None:
    client = tls_session(shared_smtp)
    for _ in range(10):
        assert client.command(b"AUTH PLAIN !!!").startswith(b"501 5.5.2")
    assert client.command(b"AUTH PLAIN " + ALICE_PLAIN).startswith(b"421 4.7.0")
    assert client.line() == b""
    client.close()


def test_auth_needs_ehlo_after_starttls(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.submission)
    client.command(b"EHLO client.example")
    client.starttls(client_context(shared_smtp.settings))
    assert client.command(b"AUTH PLAIN " + ALICE_PLAIN).startswith(b"503 5.5.1")
    client.close()


def test_implicit_tls_submission_authenticates(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.submissions, client_context(shared_smtp.settings))
    client.command(b"EHLO client.example")
    assert client.command(b"AUTH PLAIN " + ALICE_PLAIN).startswith(b"235 2.7.0")
    client.close()


def test_failures_get_535_quickly_and_look_the_same_for_unknown_users(smtp: RunningSmtp) -> None:
    client = tls_session(smtp)
    started = time.monotonic()
    wrong = client.command(b"AUTH PLAIN " + b64(f"\0{ALICE}\0wrong"))
    assert time.monotonic() - started < 1.0
    unknown = client.command(b"AUTH PLAIN " + b64("\0nobody@hosted.example\0wrong"))
    assert wrong == unknown == b"535 5.7.8 Authentication credentials invalid\r\n"
    assert client.command(b"AUTH PLAIN " + b64(f"{BOB}\0{ALICE}\0{ALICE_PW}")).startswith(b"535 5.7.8")
    assert client.command(b"AUTH PLAIN " + b64(f"{ALICE}\0{ALICE}\0{ALICE_PW}")).startswith(b"235 2.7.0")
    client.close()


def test_disabled_account_is_refused_after_the_right_password(shared_smtp: RunningSmtp) -> None:
    client = tls_session(shared_smtp)
    assert client.command(b"AUTH PLAIN " + b64(f"\0{CAROL}\0carol-pw")) == b"535 5.7.8 Account disabled for SMTP\r\n"
    client.close()


def test_failed_logins_lock_out_that_ip_for_that_account(start_smtp) -> None:  # type: ignore[no-untyped-def]
    server = start_smtp(login_max_failures=3, login_lockout=60.0)
    client = tls_session(server)
    for _ in range(3):
        assert client.command(b"AUTH PLAIN " + b64(f"\0{ALICE}\0wrong")).startswith(b"535 5.7.8")
    assert client.command(b"AUTH PLAIN " + ALICE_PLAIN) == b"535 5.7.8 Authentication credentials invalid\r\n"
    client.close()
    again = tls_session(server)
    assert again.command(b"AUTH PLAIN " + ALICE_PLAIN).startswith(b"535 5.7.8")
    again.close()
    elsewhere = tls_session(server, source_ip="127.0.0.2")
    assert elsewhere.command(b"AUTH PLAIN " + ALICE_PLAIN).startswith(b"235 2.7.0")
    elsewhere.close()


def test_password_checks_do_not_stall_other_sessions(shared_smtp: RunningSmtp) -> None:
    """50 AUTH exchanges at once (sessions opened beforehand, so only the password checks
    overlap the measurement) while another session's NOOPs keep answering at once. Were the
    checks run on the event loop, every NOOP would wait ~0.1 s per check queued before it."""
    smtp = shared_smtp
    idle = tls_session(smtp)
    with ThreadPoolExecutor(max_workers=50) as pool:
        sessions = list(pool.map(lambda _n: tls_session(smtp), range(50)))
        for client in sessions:
            client.sock.settimeout(120)  # the logins queue for the password-check slots
        logins = [pool.submit(client.command, b"AUTH PLAIN " + ALICE_PLAIN) for client in sessions]
        latencies = []
        while not all(login.done() for login in logins):
            started = time.monotonic()
            assert idle.command(b"NOOP").startswith(b"250")
            latencies.append(time.monotonic() - started)
        assert all(login.result().startswith(b"235") for login in logins)
    for client in [idle, *sessions]:
        client.close()
    assert len(latencies) > 10
    assert statistics.median(latencies) < 0.05 and max(latencies) < 0.5, latencies
