"""SASL response decoding (RFC 4954 §4) and PLAIN messages (RFC 4616 §2), without sockets."""

from __future__ import annotations

import asyncio
from base64 import b64encode

import pytest

from services.smtp import replies
from services.smtp.auth import (
    Credentials,
    SaslError,
    decode_response,
    parse_plain,
    read_credentials,
)


def test_decode_response_handles_cancel_empty_and_strict_base64() -> None:
    assert decode_response(b"YWxpY2U=") == b"alice"
    assert decode_response(b"=") == b""
    for line, reply in (
        (b"*", replies.S501_AUTH_ABORTED),
        (b"!!!", replies.S501_BAD_BASE64),
        (b"YW=xp", replies.S501_BAD_BASE64),
    ):
        with pytest.raises(SaslError) as error:
            decode_response(line)
        assert error.value.reply is reply


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"\0alice@x.example\0pw", Credentials("", "alice@x.example", "pw")),
        (b"bob@x.example\0alice@x.example\0p w", Credentials("bob@x.example", "alice@x.example", "p w")),
        ("\0ålice@x.example\0pässword".encode(), Credentials("", "ålice@x.example", "pässword")),
    ],
)
def test_plain_messages(message: bytes, expected: Credentials) -> None:
    assert parse_plain(message) == expected


@pytest.mark.parametrize("message", [b"", b"alice\0pw", b"\0alice\0pw\0x", b"\0\0pw", b"\0alice\0", b"\0\xff\0pw"])
def test_malformed_plain_messages(message: bytes) -> None:
    with pytest.raises(SaslError) as error:
        parse_plain(message)
    assert error.value.reply.code == 501


def test_passwords_stay_out_of_reprs() -> None:
    assert "secret" not in repr(Credentials("", "alice@x.example", "secret"))


def test_login_exchange_prompts_for_what_is_missing() -> None:
    prompts: list[bytes] = []
    answers = iter([b64encode(b"alice@x.example"), b64encode(b"pw")])

    async def challenge(prompt: bytes) -> bytes:
        prompts.append(prompt)
        return next(answers)

    credentials = asyncio.run(read_credentials("LOGIN", None, challenge))
    assert credentials == Credentials("", "alice@x.example", "pw")
    assert prompts == [b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"]
