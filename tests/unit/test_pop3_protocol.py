"""Table-driven tests of the sans-I/O POP3 machine (PROTOCOL-CHECKLIST §5).

A scripted driver stands in for the transport: it answers the machine's
effects from an in-memory maildrop, streams Fetch through MessageEncoder as
the real transport does, and records every effect it was asked for.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

import pytest

from services.pop3 import replies as r
from services.pop3.events import (
    DONE,
    NEED_DATA,
    Authenticate,
    Authenticated,
    Close,
    CommitDeletes,
    Fetch,
    MaildropOpened,
    OpenMaildrop,
    Refused,
    Result,
    Send,
    SessionPolicy,
    StartTLS,
)
from services.pop3.protocol import Pop3Connection, State
from services.pop3.stuffing import MessageEncoder

ALICE = "alice@hosted.example"
PASSWORD = "alice pw"  # with a space: PASS takes the whole rest of the line
MESSAGE_1 = (
    b"Subject: one\r\nFrom: a@remote.example\r\n\r\n"
    b".\r\n.hidden\r\n..double\r\n" + b"".join(b"line %d\r\n" % i for i in range(1, 21))
)
MESSAGE_2 = b"Subject: two\r\n\r\nsmall\r\n"
MESSAGE_3 = b"Subject: three\r\n\r\nthird\r\n"
STORE = {"uid-1": MESSAGE_1, "uid-2": MESSAGE_2, "uid-3": MESSAGE_3}


@dataclass(frozen=True)
class Listed:
    uid: str
    size: int


@dataclass
class ScriptedDriver:
    """Performs the machine's effects against an in-memory maildrop."""

    tls: bool = True
    allow_plaintext: bool = False
    login_delay: int = 0
    accounts: dict[str, str] = field(default_factory=lambda: {ALICE: PASSWORD})
    store: dict[str, bytes] = field(default_factory=lambda: dict(STORE))
    open_refusal: r.Reply | None = None
    commit_refusal: r.Reply | None = None
    effects: list[object] = field(default_factory=list)
    closed: bool = False

    def __post_init__(self) -> None:
        policy = SessionPolicy("pop.hosted.example", self.tls, self.allow_plaintext, self.login_delay)
        self.conn = Pop3Connection(policy)

    def talk(self, data: bytes = b"") -> bytes:
        """Feed `data`, run every action until the machine needs data; the bytes sent."""
        self.conn.receive_data(data)
        out = b""
        while (action := self.conn.next_action()) is not NEED_DATA:
            if isinstance(action, Close):
                self.closed = True
                break
            if isinstance(action, Send):
                out += action.data
            else:
                self.effects.append(action)
                out += self._perform(action)
        return out

    def _perform(self, action: object) -> bytes:
        if isinstance(action, Fetch):
            encoder = MessageEncoder(action.lines)
            data = action.status + encoder.feed(self.store[action.uid]) + encoder.finish()
            self.conn.on_result(DONE)
            return data
        self.conn.on_result(self._result_of(action))
        return b""

    def _result_of(self, action: object) -> Result:
        if isinstance(action, Authenticate):
            if self.accounts.get(action.user.lower()) == action.secret:
                return Authenticated(action.user.lower())
            return Refused(r.ERR_AUTH)
        if isinstance(action, OpenMaildrop):
            if self.open_refusal:
                return Refused(self.open_refusal)
            return MaildropOpened([Listed(uid, len(data)) for uid, data in self.store.items()])
        if isinstance(action, CommitDeletes) and self.commit_refusal:
            return Refused(self.commit_refusal)
        assert isinstance(action, (CommitDeletes, StartTLS))
        return DONE

    def login(self) -> None:
        reply = self.talk(f"USER {ALICE}\r\nPASS {PASSWORD}\r\n".encode())
        assert reply.endswith(b"+OK maildrop has 3 messages (%d octets)\r\n" % self.octets())

    def octets(self) -> int:
        return sum(len(data) for data in self.store.values())


def lines_of(reply: bytes) -> list[bytes]:
    return reply.split(b"\r\n")[:-1]


def plain(*parts: str | bytes) -> str:
    """Base64 of the PLAIN message made of `parts` joined by NULs."""
    raw = b"\0".join(part.encode() if isinstance(part, str) else part for part in parts)
    return base64.b64encode(raw).decode()


def session(**options: object) -> ScriptedDriver:
    driver = ScriptedDriver(**options)  # type: ignore[arg-type]
    assert driver.talk() == b"+OK pop.hosted.example Beacon Mail POP3 server ready\r\n"
    return driver


# -- AUTHORIZATION: one command, one reply (POP-02..POP-12, SASL, UTF8) ------

AUTHORIZATION_CASES = [
    ("capa", b"capa\r\n", rb"\+OK capability list follows\r\n"),
    ("capa-mixed-case", b"CaPa\r\n", rb"\+OK capability"),
    ("unknown", b"FOO\r\n", rb"-ERR unknown command\r\n$"),
    ("empty-line", b"\r\n", rb"-ERR unknown command\r\n$"),
    ("verb-prefix", b"RETRX 1\r\n", rb"-ERR unknown command\r\n$"),
    ("apop-not-offered", b"APOP alice 0123456789abcdef0123456789abcdef\r\n", rb"-ERR unknown command"),
    ("last-removed", b"LAST\r\n", rb"-ERR unknown command"),
    ("stat-early", b"STAT\r\n", rb"-ERR command not valid in this state\r\n$"),
    ("list-early", b"LIST\r\n", rb"-ERR command not valid"),
    ("retr-early", b"RETR 1\r\n", rb"-ERR command not valid"),
    ("dele-early", b"DELE 1\r\n", rb"-ERR command not valid"),
    ("uidl-early", b"UIDL\r\n", rb"-ERR command not valid"),
    ("top-early", b"TOP 1 0\r\n", rb"-ERR command not valid"),
    ("rset-early", b"RSET\r\n", rb"-ERR command not valid"),
    ("noop-early", b"NOOP\r\n", rb"-ERR command not valid"),
    ("pass-without-user", f"PASS {PASSWORD}\r\n".encode(), rb"-ERR send USER first\r\n$"),
    ("user-without-name", b"USER\r\n", rb"-ERR syntax error"),
    ("user-two-names", b"USER a b\r\n", rb"-ERR syntax error"),
    ("user-40-chars", b"USER " + b"a" * 40 + b"\r\n", rb"\+OK send PASS\r\n$"),
    ("nul-in-line", b"USER al\x00ice\r\n", rb"-ERR line contains characters"),
    ("bare-cr", b"USER alice\rPASS x\r\n", rb"-ERR line contains characters"),
    ("bare-lf", b"USER alice\nSTAT\r\n", rb"-ERR line contains characters"),
    ("invalid-utf8", b"USER \xff\xfe\r\n", rb"-ERR line contains characters"),
    ("utf8-user-needs-utf8", "USER ålice@hosted.example\r\n".encode(), rb"-ERR send UTF8 before"),
    ("utf8-command", b"UTF8\r\n", rb"\+OK UTF-8 mode on\r\n$"),
    ("utf8-with-argument", b"UTF8 USER\r\n", rb"-ERR syntax error"),
    ("stls-under-tls", b"STLS\r\n", rb"-ERR TLS is already active\r\n$"),
    ("auth-list", b"AUTH\r\n", rb"\+OK SASL mechanisms follow\r\nPLAIN\r\n\.\r\n$"),
    ("auth-unknown-mechanism", b"AUTH FOO\r\n", rb"-ERR unsupported SASL mechanism"),
    ("auth-too-many-args", b"AUTH PLAIN a b\r\n", rb"-ERR syntax error"),
    ("sasl-bad-alphabet", b"AUTH PLAIN !!!\r\n", rb"-ERR invalid base64\r\n$"),
    ("sasl-pad-inside", b"AUTH PLAIN AGFsaWNl=AGFs\r\n", rb"-ERR invalid base64\r\n$"),
    ("sasl-empty", b"AUTH PLAIN =\r\n", rb"-ERR \[AUTH\] authentication failed\r\n$"),
    ("sasl-one-nul", f"AUTH PLAIN {plain(ALICE, PASSWORD)}\r\n".encode(), rb"-ERR \[AUTH\]"),
    ("sasl-three-nuls", f"AUTH PLAIN {plain('', ALICE, 'pw', 'x')}\r\n".encode(), rb"-ERR \[AUTH\]"),
    (
        "sasl-other-authzid",
        f"AUTH PLAIN {plain('bob@hosted.example', ALICE, PASSWORD)}\r\n".encode(),
        rb"-ERR \[AUTH\]",
    ),
    ("sasl-bad-utf8", b"AUTH PLAIN " + plain("", b"\xff", "pw").encode() + b"\r\n", rb"-ERR \[AUTH\]"),
    ("line-of-255", b"NOOP " + b"x" * 248 + b"\r\n", rb"-ERR command not valid"),
    ("line-of-256", b"NOOP " + b"x" * 249 + b"\r\n", rb"-ERR line too long"),
    ("line-of-8k", b"USER " + b"a" * 8192 + b"\r\n", rb"-ERR line too long \(limit is 255 octets\)\r\n$"),
]


@pytest.mark.parametrize(("sent", "expected"), [case[1:] for case in AUTHORIZATION_CASES],
                         ids=[case[0] for case in AUTHORIZATION_CASES])
def test_authorization_command(sent: bytes, expected: bytes) -> None:
    driver = session()
    reply = driver.talk(sent)
    assert re.match(expected, reply), reply
    assert driver.conn.state is State.AUTHORIZATION
    assert not any(isinstance(e, (Authenticate, OpenMaildrop)) for e in driver.effects)
    assert driver.talk(b"CAPA\r\n").startswith(b"+OK capability")  # the session goes on


# -- logging in --------------------------------------------------------------

LOGIN_CASES = [
    ("user-pass", f"USER {ALICE}\r\nPASS {PASSWORD}\r\n"),
    ("user-pass-case-insensitive", f"user {ALICE}\r\npass {PASSWORD}\r\n"),
    ("sasl-initial-response", f"AUTH PLAIN {plain('', ALICE, PASSWORD)}\r\n"),
    ("sasl-lower-case-mechanism", f"auth plain {plain('', ALICE, PASSWORD)}\r\n"),
    ("sasl-authzid-is-self", f"AUTH PLAIN {plain(ALICE, ALICE, PASSWORD)}\r\n"),
    ("sasl-continuation", f"AUTH PLAIN\r\n{plain('', ALICE, PASSWORD)}\r\n"),
    ("utf8-then-user", f"UTF8\r\nUSER {ALICE}\r\nPASS {PASSWORD}\r\n"),
]


@pytest.mark.parametrize("sent", [case[1] for case in LOGIN_CASES], ids=[case[0] for case in LOGIN_CASES])
def test_login_succeeds(sent: str) -> None:
    driver = session()
    reply = driver.talk(sent.encode())
    assert reply.endswith(b"+OK maildrop has 3 messages (%d octets)\r\n" % driver.octets())
    assert driver.conn.state is State.TRANSACTION
    assert driver.effects == [Authenticate(ALICE, PASSWORD), OpenMaildrop(ALICE)]


def test_sasl_continuation_prompt_and_cancel() -> None:
    driver = session()
    assert driver.talk(b"AUTH PLAIN\r\n") == b"+ \r\n"
    assert driver.talk(b"*\r\n") == b"-ERR authentication cancelled\r\n"
    assert driver.talk(b"AUTH PLAIN\r\n") == b"+ \r\n"
    assert driver.talk(b"STAT\r\n") == r.ERR_AUTH.to_bytes()  # taken as base64, never run as a command
    assert driver.talk(b"AUTH PLAIN\r\n") == b"+ \r\n"
    assert driver.talk(b"STAT 1\r\n") == r.ERR_BASE64.to_bytes()
    assert driver.effects == []


def test_sasl_continuation_may_exceed_the_command_limit_but_not_forever() -> None:
    driver = session()
    driver.talk(b"AUTH PLAIN\r\n")
    assert driver.talk(b"A" * 12000 + b"\r\n") == r.ERR_AUTH.to_bytes()
    driver.talk(b"AUTH PLAIN\r\n")
    assert driver.talk(b"A" * 20000 + b"\r\n") == r.ERR_LINE_TOO_LONG.to_bytes()
    assert driver.talk(b"CAPA\r\n").startswith(b"+OK")


def test_wrong_password_and_unknown_user_get_identical_replies() -> None:
    driver = session()
    wrong = driver.talk(f"USER {ALICE}\r\nPASS wrong\r\n".encode())
    unknown = driver.talk(b"USER nobody@hosted.example\r\nPASS wrong\r\n")
    sasl_wrong = driver.talk(f"AUTH PLAIN {plain('', ALICE, 'wrong')}\r\n".encode())
    sasl_unknown = driver.talk(f"AUTH PLAIN {plain('', 'nobody@hosted.example', 'x')}\r\n".encode())
    assert wrong == unknown == b"+OK send PASS\r\n-ERR [AUTH] authentication failed\r\n"
    assert sasl_wrong == sasl_unknown == b"-ERR [AUTH] authentication failed\r\n"
    driver.login()  # a failure does not end the session


def test_pass_must_follow_user_directly() -> None:
    driver = session()
    assert driver.talk(f"USER {ALICE}\r\nCAPA\r\n".encode()).startswith(b"+OK send PASS\r\n+OK")
    assert driver.talk(f"PASS {PASSWORD}\r\n".encode()) == r.ERR_NO_USER.to_bytes()


def test_a_second_user_replaces_the_first() -> None:
    driver = session()
    driver.talk(b"USER bob@hosted.example\r\n")
    driver.login()


@pytest.mark.parametrize(("refusal", "expected"), [
    (r.ERR_IN_USE, b"-ERR [IN-USE] maildrop already in use\r\n"),
    (r.ERR_SYS_TEMP, b"-ERR [SYS/TEMP] temporary server problem, try again later\r\n"),
])
def test_maildrop_refusal_keeps_authorization(refusal: r.Reply, expected: bytes) -> None:
    driver = session(open_refusal=refusal)
    assert driver.talk(f"USER {ALICE}\r\nPASS {PASSWORD}\r\n".encode()).endswith(expected)
    assert driver.conn.state is State.AUTHORIZATION
    driver.open_refusal = None
    driver.login()


# -- plaintext and STLS (RFC 2595) --------------------------------------------

def test_plaintext_login_refused_before_tls_without_evaluating_credentials() -> None:
    driver = session(tls=False)
    assert driver.talk(f"USER {ALICE}\r\n".encode()) == r.ERR_TLS_REQUIRED.to_bytes()
    assert driver.talk(f"PASS {PASSWORD}\r\n".encode()) == r.ERR_NO_USER.to_bytes()
    sasl = f"AUTH PLAIN {plain('', ALICE, PASSWORD)}\r\n".encode()
    assert driver.talk(sasl) == r.ERR_TLS_REQUIRED.to_bytes()
    assert driver.effects == []


def test_plaintext_login_allowed_when_the_operator_says_so() -> None:
    driver = session(tls=False, allow_plaintext=True)
    driver.login()


def test_stls_discards_what_was_pipelined_after_it() -> None:
    driver = session(tls=False)
    reply = driver.talk(f"STLS\r\nUSER {ALICE}\r\nPASS {PASSWORD}\r\n".encode())
    assert reply == b"+OK begin TLS negotiation\r\n"
    assert driver.effects == [StartTLS()]
    assert driver.conn.tls_active
    assert driver.talk() == b""  # nothing of the plaintext remains to be answered
    driver.login()


def test_stls_resets_utf8_mode_and_is_refused_twice() -> None:
    driver = session(tls=False)
    driver.talk(b"UTF8\r\nSTLS\r\n")
    assert not driver.conn.utf8
    assert driver.talk(b"STLS\r\n") == r.ERR_ALREADY_TLS.to_bytes()


def test_failed_handshake_closes() -> None:
    driver = session(tls=False)
    driver.conn.receive_data(b"STLS\r\n")
    assert driver.conn.next_action() == Send(r.OK_STLS.to_bytes())
    assert driver.conn.next_action() == StartTLS()
    driver.conn.on_result(Refused(r.ERR_SYS_TEMP))
    assert driver.conn.next_action() == Close()


# -- CAPA (RFC 2449) -------------------------------------------------------------

def capabilities(driver: ScriptedDriver) -> list[bytes]:
    reply = lines_of(driver.talk(b"CAPA\r\n"))
    assert reply[0] == b"+OK capability list follows" and reply[-1] == b"."
    return reply[1:-1]


COMMON_CAPABILITIES = [b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING", b"EXPIRE NEVER",
                       b"UTF8 USER", b"IMPLEMENTATION Beacon-Mail"]


def test_capa_before_tls_offers_stls_but_no_login() -> None:
    found = capabilities(session(tls=False))
    assert set(found) == {*COMMON_CAPABILITIES, b"STLS"}


def test_capa_under_tls_offers_login_but_no_stls() -> None:
    assert set(capabilities(session())) == {*COMMON_CAPABILITIES, b"USER", b"SASL PLAIN"}


def test_capa_in_transaction_keeps_authorization_capabilities() -> None:
    driver = session(tls=False, allow_plaintext=True, login_delay=30)
    before = set(capabilities(driver))
    driver.login()
    after = set(capabilities(driver))
    assert before - after == {b"STLS"}
    assert b"LOGIN-DELAY 30" in after and b"USER" in after


# -- TRANSACTION (POP-20..POP-39) -----------------------------------------------

def logged_in(**options: object) -> ScriptedDriver:
    driver = session(**options)
    driver.login()
    return driver


SIZE_1, SIZE_2, SIZE_3 = len(MESSAGE_1), len(MESSAGE_2), len(MESSAGE_3)
TOTAL = SIZE_1 + SIZE_2 + SIZE_3
TRANSACTION_CASES = [
    ("stat", b"STAT\r\n", b"+OK 3 %d\r\n" % TOTAL),
    ("list", b"LIST\r\n",
     b"+OK 3 messages (%d octets)\r\n1 %d\r\n2 %d\r\n3 %d\r\n.\r\n" % (TOTAL, SIZE_1, SIZE_2, SIZE_3)),
    ("list-one", b"LIST 2\r\n", b"+OK 2 %d\r\n" % SIZE_2),
    ("list-too-high", b"LIST 99\r\n", b"-ERR no such message\r\n"),
    ("list-zero", b"LIST 0\r\n", b"-ERR no such message\r\n"),
    ("list-negative", b"LIST -1\r\n", b"-ERR syntax error in arguments\r\n"),
    ("list-letters", b"LIST abc\r\n", b"-ERR syntax error in arguments\r\n"),
    ("list-non-ascii-digit", "LIST \u0661\r\n".encode(), b"-ERR syntax error in arguments\r\n"),
    ("list-two-args", b"LIST 1 2\r\n", b"-ERR syntax error in arguments\r\n"),
    ("uidl", b"UIDL\r\n", b"+OK unique-id listing follows\r\n1 uid-1\r\n2 uid-2\r\n3 uid-3\r\n.\r\n"),
    ("uidl-one", b"UIDL 2\r\n", b"+OK 2 uid-2\r\n"),
    ("retr-stuffed", b"RETR 1\r\n",
     b"+OK %d octets\r\n" % SIZE_1 + MESSAGE_1.replace(b"\r\n.", b"\r\n..") + b".\r\n"),
    ("retr-zero", b"RETR 0\r\n", b"-ERR no such message\r\n"),
    ("retr-too-high", b"RETR 4\r\n", b"-ERR no such message\r\n"),
    ("retr-no-arg", b"RETR\r\n", b"-ERR syntax error in arguments\r\n"),
    ("retr-letters", b"RETR x\r\n", b"-ERR syntax error in arguments\r\n"),
    ("retr-two-args", b"RETR 1 1\r\n", b"-ERR syntax error in arguments\r\n"),
    ("top-0", b"TOP 1 0\r\n", b"+OK top of message follows\r\nSubject: one\r\nFrom: a@remote.example\r\n\r\n.\r\n"),
    ("top-2", b"TOP 1 2\r\n",
     b"+OK top of message follows\r\nSubject: one\r\nFrom: a@remote.example\r\n\r\n..\r\n..hidden\r\n.\r\n"),
    ("top-all", b"TOP 2 999999\r\n", b"+OK top of message follows\r\n" + MESSAGE_2 + b".\r\n"),
    ("top-no-lines", b"TOP 1\r\n", b"-ERR syntax error in arguments\r\n"),
    ("top-no-args", b"TOP\r\n", b"-ERR syntax error in arguments\r\n"),
    ("top-negative", b"TOP 1 -1\r\n", b"-ERR syntax error in arguments\r\n"),
    ("top-bad-number", b"TOP 1x 2\r\n", b"-ERR syntax error in arguments\r\n"),
    ("top-bad-lines", b"TOP 1 2x\r\n", b"-ERR syntax error in arguments\r\n"),
    ("top-three-args", b"TOP 1 2 3\r\n", b"-ERR syntax error in arguments\r\n"),
    ("top-no-such", b"TOP 9 1\r\n", b"-ERR no such message\r\n"),
    ("noop", b"NOOP\r\n", b"+OK still here\r\n"),
    ("last", b"LAST\r\n", b"-ERR unknown command\r\n"),
    ("user-after-login", f"USER {ALICE}\r\n".encode(), b"-ERR command not valid in this state\r\n"),
    ("pass-after-login", b"PASS x\r\n", b"-ERR command not valid in this state\r\n"),
    ("auth-after-login", b"AUTH PLAIN\r\n", b"-ERR command not valid in this state\r\n"),
    ("stls-after-login", b"STLS\r\n", b"-ERR command not valid in this state\r\n"),
    ("utf8-after-login", b"UTF8\r\n", b"-ERR command not valid in this state\r\n"),
    ("apop-after-login", b"APOP a b\r\n", b"-ERR unknown command\r\n"),
    ("long-line", b"NOOP " + b"x" * 300 + b"\r\n", b"-ERR line too long (limit is 255 octets)\r\n"),
]


@pytest.mark.parametrize(("sent", "expected"), [case[1:] for case in TRANSACTION_CASES],
                         ids=[case[0] for case in TRANSACTION_CASES])
def test_transaction_command(sent: bytes, expected: bytes) -> None:
    driver = logged_in()
    assert driver.talk(sent) == expected
    assert driver.conn.state is State.TRANSACTION


def test_empty_maildrop_lists_nothing() -> None:
    driver = session(store={})
    reply = driver.talk(f"USER {ALICE}\r\nPASS {PASSWORD}\r\n".encode())
    assert reply.endswith(b"+OK maildrop has 0 messages (0 octets)\r\n")
    assert driver.talk(b"STAT\r\nLIST\r\nUIDL\r\n") == (
        b"+OK 0 0\r\n+OK 0 messages (0 octets)\r\n.\r\n+OK unique-id listing follows\r\n.\r\n")


def test_deleted_message_is_gone_for_the_session_and_numbers_stay() -> None:
    driver = logged_in()
    assert driver.talk(b"DELE 1\r\n") == b"+OK message 1 marked for deletion\r\n"
    for command in (b"DELE 1", b"RETR 1", b"LIST 1", b"UIDL 1", b"TOP 1 0"):
        assert driver.talk(command + b"\r\n") == b"-ERR message 1 already deleted\r\n"
    assert driver.talk(b"STAT\r\n") == b"+OK 2 %d\r\n" % (SIZE_2 + SIZE_3)
    assert driver.talk(b"LIST\r\n") == b"+OK 2 messages (%d octets)\r\n2 %d\r\n3 %d\r\n.\r\n" % (
        SIZE_2 + SIZE_3, SIZE_2, SIZE_3)
    assert driver.talk(b"UIDL\r\n") == b"+OK unique-id listing follows\r\n2 uid-2\r\n3 uid-3\r\n.\r\n"
    assert driver.talk(b"RETR 2\r\n") == b"+OK %d octets\r\n" % SIZE_2 + MESSAGE_2 + b".\r\n"


def test_rset_unmarks_everything() -> None:
    driver = logged_in()
    driver.talk(b"DELE 1\r\nDELE 2\r\n")
    assert driver.talk(b"RSET\r\n") == b"+OK maildrop has 3 messages (%d octets)\r\n" % driver.octets()
    assert driver.talk(b"STAT\r\n").startswith(b"+OK 3 ")
    assert driver.talk(b"RETR 1\r\n").startswith(b"+OK %d octets\r\n" % SIZE_1)
    driver.talk(b"QUIT\r\n")
    assert driver.effects[-1] == CommitDeletes(())


# -- UPDATE (RFC 1939 §6) ----------------------------------------------------------

def test_quit_commits_exactly_the_marked_messages() -> None:
    driver = logged_in()
    driver.talk(b"DELE 3\r\nDELE 1\r\n")
    assert driver.talk(b"QUIT\r\n") == b"+OK pop.hosted.example signing off (1 messages left)\r\n"
    assert driver.effects[-1] == CommitDeletes(("uid-1", "uid-3"))
    assert driver.closed and driver.conn.state is State.CLOSED


def test_quit_in_authorization_commits_nothing() -> None:
    driver = session()
    assert driver.talk(b"QUIT\r\n") == b"+OK pop.hosted.example signing off\r\n"
    assert driver.closed and driver.effects == []


def test_ending_without_quit_never_commits() -> None:
    driver = logged_in()
    driver.talk(b"DELE 1\r\nDELE 2\r\n")
    assert not any(isinstance(effect, CommitDeletes) for effect in driver.effects)


def test_failed_commit_answers_err_and_closes() -> None:
    driver = logged_in(commit_refusal=r.ERR_SYS_TEMP)
    driver.talk(b"DELE 1\r\n")
    assert driver.talk(b"QUIT\r\n") == r.ERR_SYS_TEMP.to_bytes()
    assert driver.closed


def test_nothing_is_read_after_quit() -> None:
    driver = logged_in()
    driver.talk(b"QUIT\r\nDELE 1\r\nQUIT\r\n")
    assert [type(e) for e in driver.effects].count(CommitDeletes) == 1
    driver.conn.receive_data(b"STAT\r\n")
    assert driver.conn.next_action() == Close()


# -- framing -------------------------------------------------------------------------

def test_pipelined_commands_are_answered_in_order() -> None:
    driver = logged_in()
    reply = driver.talk(b"STAT\r\nLIST\r\nUIDL\r\nNOOP\r\n")
    assert re.fullmatch(rb"\+OK 3 \d+\r\n\+OK 3 messages.*\r\n\.\r\n\+OK unique-id.*\r\n\.\r\n\+OK still here\r\n",
                        reply, re.S)


def test_byte_by_byte_input_gives_the_same_replies() -> None:
    script = f"CAPA\r\nUSER {ALICE}\r\nPASS {PASSWORD}\r\nLIST\r\nRETR 1\r\nTOP 1 3\r\nQUIT\r\n".encode()
    whole = session().talk(script)
    driver = session()
    trickled = b"".join(driver.talk(script[i:i + 1]) for i in range(len(script)))
    assert trickled == whole


def test_an_endless_line_is_dropped_as_it_comes_and_answered_once() -> None:
    driver = session()
    for _ in range(100):
        assert driver.talk(b"x" * 10_000) == b""
    assert len(driver.conn._buffer) < 300  # memory stays bounded while discarding
    assert driver.talk(b"\r\nCAPA\r\n").startswith(r.ERR_LINE_TOO_LONG.to_bytes() + b"+OK capability")


def test_a_crlf_split_across_reads_ends_a_discarded_line() -> None:
    driver = session()
    driver.talk(b"y" * 400 + b"\r")
    assert driver.talk(b"\nNOOP\r\n") == r.ERR_LINE_TOO_LONG.to_bytes() + r.ERR_WRONG_STATE.to_bytes()


def test_replies_never_echo_client_input() -> None:
    driver = session()
    for sent in (b"EVIL\x00\r\n", b"X-Injected\rfoo\r\n", b"BOGUS <script>\r\n"):
        reply = driver.talk(sent)
        assert b"EVIL" not in reply and b"Injected" not in reply and b"script" not in reply
        assert len(lines_of(reply)[0]) <= 510


# -- driver contract ------------------------------------------------------------------

def test_next_action_refuses_to_run_ahead_of_a_pending_result() -> None:
    driver = session()
    driver.conn.receive_data(f"USER {ALICE}\r\nPASS {PASSWORD}\r\nCAPA\r\n".encode())
    driver.conn.next_action()
    assert isinstance(driver.conn.next_action(), Authenticate)
    with pytest.raises(RuntimeError):
        driver.conn.next_action()


def test_a_result_that_does_not_fit_the_effect_is_a_driver_bug() -> None:
    driver = session()
    driver.conn.receive_data(f"USER {ALICE}\r\nPASS {PASSWORD}\r\n".encode())
    driver.conn.next_action()
    driver.conn.next_action()
    with pytest.raises(RuntimeError):
        driver.conn.on_result(DONE)


def test_secrets_stay_out_of_reprs() -> None:
    assert PASSWORD not in repr(Authenticate(ALICE, PASSWORD))
