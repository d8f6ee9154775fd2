"""POP3 over real sockets: poplib and raw bytes against a running server (issue 4, checklist §5)."""

from __future__ import annotations

import base64
import poplib
import re
import socket
import time

import pytest

from shared.accounts import get_mailbox, update_domain, update_mailbox
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .conftest import Accounts, StartServer
from .support import (
    ALICE,
    ALICE_PW,
    BOB,
    DOMAIN,
    RawClient,
    RunningServer,
    client_context,
    deliver_to,
    login,
    login_when_free,
    pop3_ssl,
    pop3_stls,
)

pytestmark = pytest.mark.integration

MESSAGE = b"Subject: hello\r\nFrom: sender@remote.example\r\n\r\n.\r\n.hidden\r\n..double\r\nbody\r\n"


def plain(user: str, password: str) -> bytes:
    return base64.b64encode(f"\0{user}\0{password}".encode())


def test_stls_login_retrieves_what_was_delivered(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    deliver_to(db, accounts.alice_id, MESSAGE, b"Subject: two\r\n\r\nsecond\r\n")
    server = start_pop3()
    client = pop3_stls(server)
    assert client.getwelcome().startswith(b"+OK mx.test.example")
    client.user(ALICE)
    assert client.pass_(ALICE_PW).startswith(b"+OK maildrop has 2 messages")
    count, size = client.stat()
    _, listing, _ = client.list()
    sizes = [int(line.split()[1]) for line in listing]
    assert count == 2 and size == sum(sizes)
    _, lines, octets = client.retr(1)
    retrieved = b"".join(line + b"\r\n" for line in lines)
    assert retrieved == b"Return-Path: <sender@remote.example>\r\n" + MESSAGE
    assert len(retrieved) == sizes[0]
    client.quit()


def test_implicit_tls_port_logs_in_with_sasl(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    server = start_pop3()
    raw = RawClient(server.tls_port, client_context(server.settings))
    capabilities = raw.command(b"CAPA") and raw.multiline()
    assert b"SASL PLAIN\r\n" in capabilities and b"STLS\r\n" not in capabilities
    assert raw.command(b"AUTH PLAIN " + plain(ALICE, ALICE_PW)) == b"+OK maildrop has 0 messages (0 octets)\r\n"
    assert raw.command(b"QUIT").startswith(b"+OK")
    assert raw.line() == b""


def test_plaintext_login_is_refused_before_stls(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    server = start_pop3()
    raw = RawClient(server.port)
    assert raw.command(b"CAPA").startswith(b"+OK")
    capabilities = raw.multiline()
    assert b"STLS\r\n" in capabilities and b"USER\r\n" not in capabilities
    assert raw.command(f"USER {ALICE}".encode()).startswith(b"-ERR send STLS first")
    assert raw.command(b"AUTH PLAIN " + plain(ALICE, ALICE_PW)).startswith(b"-ERR send STLS first")
    assert raw.command(b"NOOP").startswith(b"-ERR")  # still in AUTHORIZATION


def test_plaintext_login_when_the_operator_allows_it(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    server = start_pop3(allow_plaintext_auth=True)
    client = poplib.POP3("127.0.0.1", server.port, timeout=10)
    client.user(ALICE)
    assert client.pass_(ALICE_PW).startswith(b"+OK")
    client.quit()


def test_commands_pipelined_after_stls_are_discarded(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    server = start_pop3(allow_plaintext_auth=True)
    raw = RawClient(server.port)
    raw.send(f"STLS\r\nUSER {ALICE}\r\nPASS {ALICE_PW}\r\n".encode())
    assert raw.line() == b"+OK begin TLS negotiation\r\n"
    raw.start_tls(client_context(server.settings))
    assert raw.pending() == b""  # the injected USER/PASS were never answered
    assert raw.command(f"PASS {ALICE_PW}".encode()) == b"-ERR send USER first\r\n"
    assert raw.command(b"STLS") == b"-ERR TLS is already active\r\n"


def test_wrong_password_and_unknown_user_look_the_same(db: Database, accounts: Accounts,
                                                       start_pop3: StartServer) -> None:
    server = start_pop3()
    raw = RawClient(server.tls_port, client_context(server.settings))
    replies = []
    for user in (ALICE, f"nobody@{DOMAIN}", "not-an-address"):
        assert raw.command(f"USER {user}".encode()) == b"+OK send PASS\r\n"
        replies.append(raw.command(b"PASS wrong"))
    assert replies == [b"-ERR [AUTH] authentication failed\r\n"] * 3
    assert raw.command(b"AUTH PLAIN " + plain(f"nobody@{DOMAIN}", "x")) == replies[0]
    assert raw.command(b"CAPA").startswith(b"+OK")  # the session goes on


def test_failed_logins_lock_the_client_out(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    server = start_pop3(login_max_failures=2, login_lockout=60.0)
    raw = RawClient(server.tls_port, client_context(server.settings))
    for _ in range(2):
        raw.command(f"USER {ALICE}".encode())
        assert raw.command(b"PASS wrong").startswith(b"-ERR [AUTH]")
    raw.command(f"USER {ALICE}".encode())
    assert raw.command(f"PASS {ALICE_PW}".encode()) == b"-ERR [AUTH] authentication failed\r\n"


def timed_pass(server: RunningServer, source_ip: str, password: str) -> tuple[bytes, float]:
    """PASS as alice on a fresh session from `source_ip`: the reply and how long it took."""
    raw = RawClient(server.tls_port, client_context(server.settings), source_ip=source_ip)
    raw.command(f"USER {ALICE}".encode())
    started = time.monotonic()
    reply = raw.command(f"PASS {password}".encode())
    elapsed = time.monotonic() - started
    raw.command(b"QUIT")
    raw.close()
    return reply, elapsed


def test_a_locked_out_client_is_refused_but_not_the_owner_elsewhere(db: Database, accounts: Accounts,
                                                                     start_pop3: StartServer) -> None:
    server = start_pop3(login_max_failures=2, login_lockout=60.0)
    for _ in range(2):
        assert timed_pass(server, "127.0.0.2", "guess")[0].startswith(b"-ERR [AUTH]")
    reply, _elapsed = timed_pass(server, "127.0.0.2", ALICE_PW)
    assert reply == b"-ERR [AUTH] authentication failed\r\n"
    reply, elapsed = timed_pass(server, "127.0.0.3", ALICE_PW)
    assert reply.startswith(b"+OK") and elapsed < 1.0, (reply, elapsed)


@pytest.mark.parametrize("switch_off", ["mailbox", "domain", "pop3"])
def test_disabled_accounts_are_refused(db: Database, accounts: Accounts, start_pop3: StartServer,
                                       switch_off: str) -> None:
    if switch_off == "mailbox":
        update_mailbox(db, ALICE, active=False, actor=CONSOLE)
    elif switch_off == "domain":
        update_domain(db, DOMAIN, active=False, actor=CONSOLE)
    else:
        update_mailbox(db, ALICE, pop3_enabled=False, actor=CONSOLE)
    server = start_pop3()
    client = pop3_ssl(server)
    client.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[SYS/PERM\]"):
        client.pass_(ALICE_PW)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client.user(ALICE)
        client.pass_("wrong")  # without the password nothing is revealed


def test_bad_lines_get_err_and_the_session_goes_on(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    server = start_pop3()
    raw = RawClient(server.tls_port, client_context(server.settings))
    assert raw.command(b"FOO") == b"-ERR unknown command\r\n"
    assert raw.command(b"NOOP " + b"x" * 300) == b"-ERR line too long (limit is 255 octets)\r\n"
    raw.send(b"y" * 1_000_000)
    assert raw.command(b"") == b"-ERR line too long (limit is 255 octets)\r\n"
    assert raw.command(b"USER al\x00ice") == b"-ERR line contains characters that are not allowed\r\n"
    assert raw.command(b"USER " + b"a" * 40) == b"+OK send PASS\r\n"
    raw.send(f"USER {ALICE}\r\nPASS {ALICE_PW}\r\nSTAT\r\nLIST\r\nUIDL\r\nNOOP\r\n".encode())
    assert [raw.line()[:3] for _ in range(4)] == [b"+OK"] * 4
    assert raw.multiline() == [] and raw.line().startswith(b"+OK") and raw.multiline() == []
    assert raw.line() == b"+OK still here\r\n"


def test_dele_applies_only_at_quit_and_uids_stay(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    deliver_to(db, accounts.alice_id, MESSAGE, b"Subject: 2\r\n\r\nb\r\n", b"Subject: 3\r\n\r\nc\r\n")
    server = start_pop3()
    client = login(server)
    uids = client.uidl()[1]
    client.dele(1)
    with pytest.raises(poplib.error_proto, match="already deleted"):
        client.retr(1)
    client.quit()
    mailbox = get_mailbox(db, ALICE, actor=CONSOLE)
    assert mailbox.messages == 2
    assert mailbox.used_bytes == sum(size for _, size in _sizes(login(server)))
    client = login(server)
    assert [line.split()[1] for line in client.uidl()[1]] == [line.split()[1] for line in uids[1:]]
    client.quit()


def _sizes(client: poplib.POP3) -> list[tuple[int, int]]:
    listing = [tuple(map(int, line.split())) for line in client.list()[1]]
    client.quit()
    return listing  # type: ignore[return-value]


def test_a_dropped_connection_deletes_nothing(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    deliver_to(db, accounts.alice_id, MESSAGE, b"Subject: 2\r\n\r\nb\r\n")
    server = start_pop3()
    client = login(server)
    uids = client.uidl()[1]
    client.dele(1)
    client.dele(2)
    client.close()  # hang up without QUIT
    client = login_when_free(server)
    assert client.uidl()[1] == uids
    client.quit()


def test_idle_autologout_sends_nothing_and_deletes_nothing(db: Database, accounts: Accounts,
                                                            start_pop3: StartServer) -> None:
    deliver_to(db, accounts.alice_id, MESSAGE)
    server = start_pop3(pop3_idle_timeout=0.5)
    raw = RawClient(server.tls_port, client_context(server.settings))
    raw.send(f"USER {ALICE}\r\nPASS {ALICE_PW}\r\nDELE 1\r\n".encode())
    assert raw.line().startswith(b"+OK") and raw.line().startswith(b"+OK") and raw.line().startswith(b"+OK")
    started = time.monotonic()
    assert raw.line() == b""  # closed without a word
    assert time.monotonic() - started < 3
    client = login(server)
    assert client.stat()[0] == 1
    client.quit()


BIG_LINE = b"a line of a message too big for the socket buffers, so the server must wait.\r\n"


def test_a_client_that_stops_reading_is_dropped_after_the_idle_timeout(db: Database, accounts: Accounts,
                                                                       start_pop3: StartServer) -> None:
    big = b"Subject: big\r\n\r\n" + BIG_LINE * (8 * 1024 * 1024 // len(BIG_LINE))
    deliver_to(db, accounts.alice_id, big, b"Subject: small\r\n\r\nsmall\r\n")
    server = start_pop3(pop3_idle_timeout=1.0, maildrop_lease_seconds=600)
    raw = RawClient(server.tls_port, client_context(server.settings))
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.command(f"USER {ALICE}".encode())
    raw.command(f"PASS {ALICE_PW}".encode())
    raw.command(b"DELE 2")
    assert raw.command(b"RETR 1").startswith(b"+OK")
    stalled = time.monotonic()  # and read nothing more
    client = login_when_free(server, within=6.0)  # freed by the session's end, not by lease expiry
    assert 1.0 <= time.monotonic() - stalled < 6.0
    assert client.stat()[0] == 2  # autologout is no QUIT: nothing deleted
    client.quit()


def test_a_slow_but_steady_reader_is_not_idle(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    """The RETR takes twice the idle timeout, the server waiting for the client all along (the
    message does not fit in the socket buffers), but each chunk the client takes is progress."""
    message = b"Subject: big\r\n\r\n" + BIG_LINE * (8 * 1024 * 1024 // len(BIG_LINE))
    deliver_to(db, accounts.alice_id, message)
    server = start_pop3(pop3_idle_timeout=1.0)
    raw = RawClient(server.tls_port, client_context(server.settings))
    raw.command(f"USER {ALICE}".encode())
    raw.command(f"PASS {ALICE_PW}".encode())
    rate = 4 * 1024 * 1024  # octets per second
    started = time.monotonic()
    raw.send(b"RETR 1\r\n")
    received = b""
    while not received.endswith(b"\r\n.\r\n"):
        data = raw.sock.recv(65536)
        assert data, ("dropped while reading", len(received))
        received += data
        time.sleep(max(0.0, started + len(received) / rate - time.monotonic()))
    assert time.monotonic() - started > 1.5
    assert received.startswith(b"+OK") and len(received) > len(message)


def test_a_client_that_pipelines_commands_and_reads_nothing_is_not_read_either(
    db: Database, accounts: Accounts, start_pop3: StartServer
) -> None:
    """Answers to commands sent back to back pile up in the server only until the client's
    socket is full; then the server stops reading, and the client's sending stalls."""
    deliver_to(db, accounts.alice_id, b"Subject: small\r\n\r\n" + BIG_LINE * 500)  # 40 KB: answered at once
    server = start_pop3(pop3_idle_timeout=30.0)
    raw = RawClient(server.tls_port, client_context(server.settings))
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.command(f"USER {ALICE}".encode())
    raw.command(f"PASS {ALICE_PW}".encode())
    raw.sock.settimeout(2.0)
    commands = b"RETR 1\r\n" * 8192  # each answered with 40 KB
    sent = 0
    with pytest.raises(TimeoutError):
        while sent < 64 * 1024 * 1024:  # 8 million answers, 300 GB, if the server read on
            raw.sock.sendall(commands)
            sent += len(commands)


def test_top_returns_headers_blank_line_and_n_lines(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    body = b"".join(b"line %d\r\n" % i for i in range(10))
    deliver_to(db, accounts.alice_id, b"Subject: top\r\n\r\n" + body)
    client = login(start_pop3())
    assert client.top(1, 3)[1] == [b"Return-Path: <sender@remote.example>", b"Subject: top", b"",
                                   b"line 0", b"line 1", b"line 2"]
    assert client.top(1, 0)[1][-1] == b""
    client.quit()


def test_internationalised_address_logs_in_and_retrieves(db: Database, start_pop3: StartServer) -> None:
    from shared.accounts import create_domain, create_mailbox

    create_domain(db, "bücher.example", actor=CONSOLE)
    mailbox = create_mailbox(db, "jürgen@bücher.example", "pässwort", actor=CONSOLE)
    deliver_to(db, mailbox.id, b"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\nhallo\r\n")
    server = start_pop3()
    raw = RawClient(server.tls_port, client_context(server.settings))
    assert raw.command("USER jürgen@bücher.example".encode()).startswith(b"-ERR send UTF8 before")
    assert raw.command(b"UTF8") == b"+OK UTF-8 mode on\r\n"
    assert raw.command("USER Jürgen@BÜCHER.example".encode()) == b"+OK send PASS\r\n"
    assert raw.command("PASS pässwort".encode()).startswith(b"+OK maildrop has 1 messages")
    assert raw.command(b"RETR 1").startswith(b"+OK")
    assert raw.multiline()[-1] == b"hallo\r\n"
    assert raw.command(b"QUIT").startswith(b"+OK")
    sasl = RawClient(server.tls_port, client_context(server.settings))  # SASL is UTF-8 by definition
    assert sasl.command(b"AUTH PLAIN " + plain("jürgen@bücher.example", "pässwort")).startswith(b"+OK")


def test_login_delay_is_advertised_and_enforced(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    server = start_pop3(login_delay=60)
    client = login(server)
    assert client.capa()["LOGIN-DELAY"] == ["60"]
    client.quit()
    client = pop3_ssl(server)
    client.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client.pass_("wrong")
    client.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[LOGIN-DELAY\]"):
        client.pass_(ALICE_PW)


def test_a_login_refused_with_in_use_does_not_start_the_login_delay(
    db: Database, accounts: Accounts, start_pop3: StartServer
) -> None:
    """Two servers (as two replicas): one holds alice's maildrop, so the other refuses her with
    [IN-USE]; that refusal must not count as a login, or her next try there would meet
    [LOGIN-DELAY] although no session of hers ever began on it."""
    holder_server, other_server = start_pop3(login_delay=60), start_pop3(login_delay=60)
    holder = login(holder_server)
    refused = pop3_ssl(other_server)
    refused.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[IN-USE\]"):
        refused.pass_(ALICE_PW)
    holder.quit()
    login(other_server).quit()


def test_bob_and_alice_have_separate_maildrops(db: Database, accounts: Accounts, start_pop3: StartServer) -> None:
    deliver_to(db, accounts.bob_id, MESSAGE)
    server = start_pop3()
    alice, bob = login(server), login(server, BOB, "bob-pw")
    assert alice.stat() == (0, 0) and bob.stat()[0] == 1
    assert re.match(rb"\+OK 1 \S+", bob.uidl(1))
    alice.quit()
    bob.quit()


@pytest.mark.parametrize(("last_command", "left"), [(b"NOOP", 2), (b"QUIT", 1)])
def test_half_close_answers_what_came_before_and_updates_only_on_quit(
    db: Database, accounts: Accounts, start_pop3: StartServer, last_command: bytes, left: int
) -> None:
    deliver_to(db, accounts.alice_id, MESSAGE, b"Subject: 2\r\n\r\nb\r\n")
    server = start_pop3(allow_plaintext_auth=True)
    raw = RawClient(server.port)
    raw.send(f"USER {ALICE}\r\nPASS {ALICE_PW}\r\nDELE 1\r\n".encode() + last_command + b"\r\n")
    raw.sock.shutdown(socket.SHUT_WR)
    replies = [raw.line() for _ in range(4)]
    assert all(reply.startswith(b"+OK") for reply in replies) and raw.line() == b""
    client = login_when_free(server)
    assert client.stat()[0] == left
    client.quit()


def test_mail_arriving_during_a_session_shows_in_the_next(db: Database, accounts: Accounts,
                                                           start_pop3: StartServer) -> None:
    deliver_to(db, accounts.alice_id, MESSAGE)
    server = start_pop3()
    client = login(server)
    deliver_to(db, accounts.alice_id, b"Subject: late\r\n\r\nlate\r\n")
    assert client.stat()[0] == 1 and len(client.uidl()[1]) == 1  # numbers fixed for the session
    client.quit()
    client = login(server)
    assert client.stat()[0] == 2
    client.quit()
