"""Hypothesis: whatever a peer sends and however the effects turn out, the machine never raises."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from hypothesis import event, given, settings
from hypothesis import strategies as st

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
    Send,
    SessionPolicy,
    StartTLS,
)
from services.pop3.protocol import Pop3Connection, State


@dataclass(frozen=True)
class Listed:
    uid: str
    size: int


COMMANDS = [
    b"CAPA", b"USER a@b.example", b"PASS secret words", b"AUTH", b"AUTH PLAIN", b"AUTH LOGIN", b"*",
    b"AUTH PLAIN " + base64.b64encode(b"\0a@b.example\0pw"), b"AUTH PLAIN =", b"STLS", b"UTF8", b"STAT",
    b"LIST", b"LIST 1", b"LIST 99", b"UIDL", b"UIDL 2", b"RETR 1", b"RETR 0", b"TOP 1 0", b"TOP 2 5",
    b"DELE 1", b"DELE 2", b"RSET", b"NOOP", b"QUIT", b"", b"USER \xc3\xa5", b"x" * 300,
]
chunks = st.one_of(
    st.sampled_from(COMMANDS).map(lambda command: command + b"\r\n"),
    st.just(b"USER a@b.example\r\nPASS pw\r\n"),
    st.binary(max_size=300),
    st.sampled_from([b"\r", b"\n", b"\r\n", b"\x00"]),
)
messages = st.lists(st.builds(Listed, st.text("abc123", min_size=1, max_size=8), st.integers(0, 10**6)),
                    max_size=4)


def result_for(action: object, data: st.DataObject) -> object:
    refused = Refused(data.draw(st.sampled_from([r.ERR_AUTH, r.ERR_IN_USE, r.ERR_SYS_TEMP, r.ERR_GONE])))
    if isinstance(action, Authenticate):
        return data.draw(st.sampled_from([Authenticated(action.user), refused]))
    if isinstance(action, OpenMaildrop):
        return data.draw(st.one_of(st.builds(MaildropOpened, messages), st.just(refused)))
    return data.draw(st.sampled_from([DONE, refused]))


def drive(conn: Pop3Connection, inputs: list[bytes], data: st.DataObject) -> None:
    """Run the machine like the transport would, checking every action it hands out."""
    committed = False
    for chunk in inputs:
        conn.receive_data(chunk)
        while (action := conn.next_action()) is not NEED_DATA:
            if isinstance(action, Close):
                assert conn.state is State.CLOSED
                return
            if isinstance(action, Send):
                first_line = action.data.split(b"\r\n", 1)[0]
                assert first_line.startswith((b"+OK ", b"-ERR ")) or action.data == r.SASL_CONTINUE
                assert len(first_line) <= 510 and action.data.endswith(b"\r\n")
                continue
            if isinstance(action, CommitDeletes):
                assert conn.state is State.UPDATE and not committed
                committed = True
            if isinstance(action, Fetch):
                assert conn.state is State.TRANSACTION
            if isinstance(action, StartTLS):
                assert not conn.tls_active
            event(type(action).__name__)
            conn.on_result(result_for(action, data))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.lists(chunks, max_size=30), st.booleans(), st.booleans(), st.data())
def test_machine_never_raises_from_the_greeting(inputs: list[bytes], tls: bool, plaintext: bool,
                                               data: st.DataObject) -> None:
    drive(Pop3Connection(SessionPolicy("pop.example", tls, plaintext, 0)), [b"", *inputs], data)


@settings(max_examples=300, deadline=None)
@given(messages, st.lists(chunks, max_size=30), st.data())
def test_machine_never_raises_in_a_transaction(listed: list[Listed], inputs: list[bytes],
                                               data: st.DataObject) -> None:
    conn = Pop3Connection(SessionPolicy("pop.example", tls_active=True))
    conn.receive_data(b"USER a@b.example\r\nPASS pw\r\n")
    while not isinstance(action := conn.next_action(), OpenMaildrop):
        if isinstance(action, Authenticate):
            conn.on_result(Authenticated(action.user))
    conn.on_result(MaildropOpened(listed))
    assert conn.state is State.TRANSACTION
    drive(conn, inputs, data)
