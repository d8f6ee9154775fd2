"""The DSN parameters of MAIL and RCPT (RFC 3461 §4), read without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.smtp.dsn_parameters import (
    BadDsnParameter,
    decode_xtext,
    read_mail_parameters,
    read_rcpt_parameters,
    xtext,
)
from services.smtp.relay import mail_dsn_options, rcpt_dsn_options
from shared.mail.dsn_requests import Event, MessageRequest, RecipientRequest, Ret


@pytest.mark.parametrize(
    ("params", "rest", "request_"),
    [
        ("", "", MessageRequest()),
        ("SIZE=10 BODY=8BITMIME", "SIZE=10 BODY=8BITMIME", MessageRequest()),
        ("RET=HDRS", "", MessageRequest(Ret.HDRS)),
        ("ret=full SIZE=5 envid=Ab+2Bc", "SIZE=5", MessageRequest(Ret.FULL, "Ab+c")),
        ("ENVID=" + "x" * 100, "", MessageRequest(None, "x" * 100)),
        ("ENVID=a+20b", "", MessageRequest(None, "a b")),
    ],
)
def test_mail_parameters(params: str, rest: str, request_: MessageRequest) -> None:
    assert read_mail_parameters(params) == (rest, request_)


@pytest.mark.parametrize(
    "params",
    [
        "RET=BODY",
        "RET=",
        "RET=FULL RET=HDRS",
        "ENVID=a ENVID=b",
        "ENVID=" + "x" * 101,
        "ENVID=a+0D+0Ab",
        "ENVID=a+0d",
        "ENVID=a+C3+A9",
        "ENVID=a=b",
        "ENVID=\u00e9",
        "ENVID",
    ],
)
def test_bad_mail_parameters(params: str) -> None:
    with pytest.raises(BadDsnParameter):
        read_mail_parameters(params)


@pytest.mark.parametrize(
    ("params", "rest", "request_"),
    [
        ("", "", RecipientRequest()),
        ("NOTIFY=NEVER", "", RecipientRequest("NEVER")),
        ("notify=delay,success", "", RecipientRequest("SUCCESS,DELAY")),
        ("NOTIFY=FAILURE,DELAY,SUCCESS", "", RecipientRequest("SUCCESS,FAILURE,DELAY")),
        ("ORCPT=rfc822;bob+2Bx@hosted.example", "", RecipientRequest(None, "rfc822;bob+x@hosted.example")),
        ("X=1 NOTIFY=FAILURE ORCPT=rfc822;a@b", "X=1", RecipientRequest("FAILURE", "rfc822;a@b")),
        ("ORCPT=rfc822;" + "a" * 493, "", RecipientRequest(None, "rfc822;" + "a" * 493)),
    ],
)
def test_rcpt_parameters(params: str, rest: str, request_: RecipientRequest) -> None:
    assert read_rcpt_parameters(params) == (rest, request_)


@pytest.mark.parametrize(
    "params",
    [
        "NOTIFY=NEVER,SUCCESS",
        "NOTIFY=SUCCESS,SUCCESS",
        "NOTIFY=ALWAYS",
        "NOTIFY=",
        "NOTIFY=,",
        "NOTIFY=FAILURE NOTIFY=DELAY",
        "ORCPT=rfc822;a@b ORCPT=rfc822;c@d",
        "ORCPT=a@b",
        "ORCPT=;a@b",
        "ORCPT=rfc822;",
        "ORCPT=rfc822;" + "a" * 494,
        "ORCPT=rfc822;a+0D+0ASubject:+20x@b",
        "ORCPT=rfc822;a+00@b",
        "ORCPT=rfc 822;a@b",
    ],
)
def test_bad_rcpt_parameters(params: str) -> None:
    with pytest.raises(BadDsnParameter):
        read_rcpt_parameters(params)


def test_notify_decides_which_reports_are_sent() -> None:
    absent, never, success = RecipientRequest(), RecipientRequest("NEVER"), RecipientRequest("SUCCESS")
    assert [absent.asks_for(e) for e in Event] == [False, True, True]
    assert [never.asks_for(e) for e in Event] == [False, False, False]
    assert [success.asks_for(e) for e in Event] == [True, False, False]


def test_xtext_round_trip_and_what_a_next_hop_is_given() -> None:
    text = "a+b=c d~!"
    assert xtext(text) == "a+2Bb+3Dc+20d~!" and decode_xtext(xtext(text)) == text
    assert mail_dsn_options(MessageRequest(Ret.FULL, "id 1")) == ["RET=FULL", "ENVID=id+201"]
    assert mail_dsn_options(MessageRequest()) == []
    assert rcpt_dsn_options(RecipientRequest("SUCCESS,FAILURE", "rfc822;a+b@x")) == [
        "NOTIFY=SUCCESS,FAILURE",
        "ORCPT=rfc822;a+2Bb@x",
    ]
    assert rcpt_dsn_options(RecipientRequest()) == []


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=120))
def test_any_input_is_read_or_refused_and_what_is_read_is_printable_ascii(text: str) -> None:
    for reader in (read_mail_parameters, read_rcpt_parameters):
        for params in (f"ENVID={text}", f"ORCPT=rfc822;{text}", f"NOTIFY={text}", f"RET={text}", text):
            try:
                _rest, request_ = reader(params)
            except BadDsnParameter:
                continue
            values = [v for v in vars(request_).values() if isinstance(v, str)]
            assert all(32 <= ord(ch) < 127 for value in values for ch in value), params
