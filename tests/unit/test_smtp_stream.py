"""Command lines end in CRLF only; DATA lines are left to aiosmtpd; AUTH lines are bounded."""

from __future__ import annotations

import asyncio

import pytest

from services.smtp.handler import declared_size, has_bare_newline, is_clean_path
from services.smtp.stream import (
    AuthLineTooLong,
    BareNewlineError,
    StrictLineReader,
    read_crlf_line,
)


def reader_with(data: bytes, limit: int = 1001) -> StrictLineReader:
    """Call inside a running loop (a StreamReader binds to it)."""
    reader = StrictLineReader(limit=limit)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def read_line(data: bytes, separator: bytes = b"\n") -> bytes:
    async def read() -> bytes:
        return await reader_with(data).readuntil(separator)

    return asyncio.run(read())


def test_crlf_command_lines_pass() -> None:
    assert read_line(b"NOOP\r\n") == b"NOOP\r\n"


@pytest.mark.parametrize("line", [b"NOOP\n", b"NOOP\r\r\n", b"MAIL FROM:<a\rb@x.example>\r\n"])
def test_bare_line_ends_in_commands_raise(line: bytes) -> None:
    with pytest.raises(BareNewlineError):
        read_line(line)


def test_data_lines_are_not_judged_here() -> None:
    assert read_line(b"a\nb\rc\r\n", b"\r\n") == b"a\nb\rc\r\n"


def test_the_rest_of_a_drained_line_is_not_judged() -> None:
    async def drain() -> bytes:
        reader = reader_with(b"x" * 20 + b"\r\nNOOP\r\n")
        await reader.read(20)
        return await reader.readuntil()

    assert asyncio.run(drain()) == b"\r\n"


def test_auth_lines_are_read_whole_or_drained_and_refused() -> None:
    async def read_two(data: bytes) -> list[object]:
        reader = reader_with(data, limit=16)
        results: list[object] = []
        for _ in range(2):
            try:
                results.append(await read_crlf_line(reader))
            except AuthLineTooLong:
                results.append("too long")
        return results

    assert asyncio.run(read_two(b"short\r\n" + b"y" * 100 + b"\r\n")) == [b"short", "too long"]
    assert asyncio.run(read_two(b"z" * 40 + b"\r\nnext\r\n")) == ["too long", b"next"]


@pytest.mark.parametrize(
    ("content", "bare"),
    [
        (b"a\r\nb\r\n", False),
        (b"a\nb\r\n", True),
        (b"a\rb\r\n", True),
        (b"a\r\r\n", True),
        (b"\x00.\r\n", False),
    ],
)
def test_bare_newline_detection(content: bytes, bare: bool) -> None:
    assert has_bare_newline(content) is bare


def test_envelope_parsing_helpers() -> None:
    assert declared_size(["BODY=8BITMIME", "SIZE=1234"]) == 1234
    assert declared_size(["SIZE=abc"]) == 0
    assert is_clean_path("alice@hosted.example")
    assert not any(
        is_clean_path(p) for p in ("a b@x.example", "a\rb@x.example", "a\x00@x.example", "a\udcff@x.example")
    )
