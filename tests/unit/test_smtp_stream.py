"""Command lines end in CRLF only; DATA bodies end at a "." line, whatever the chunking; AUTH lines are bounded."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.smtp.handler import declared_size, has_bare_newline, is_clean_path
from services.smtp.stream import (
    AuthLineTooLong,
    BareNewlineError,
    StrictLineReader,
    longest_line,
    read_crlf_line,
    unstuff,
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


def read_data_in_chunks(chunks: list[bytes], size_limit: int = 0) -> tuple[bytes | None, bytes]:
    """The body read_data returns, and what the command reader gets afterwards."""

    async def read() -> tuple[bytes | None, bytes]:
        reader = StrictLineReader(limit=1001)
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_eof()
        return await reader.read_data(size_limit), await reader.read()

    return asyncio.run(read())


def body_by_lines(stream: bytes) -> tuple[bytes, bytes]:
    """The reference: aiosmtpd's reading, one CRLF line at a time until a line holding only "."."""
    lines, rest = [], stream
    while True:
        line, _, rest = rest.partition(b"\r\n")
        if line == b".":
            return b"".join(lines), rest
        lines.append(line + b"\r\n")


def test_a_first_line_dot_is_an_empty_body() -> None:
    assert read_data_in_chunks([b".\r\nQUIT\r\n"]) == (b"", b"QUIT\r\n")


def test_the_end_of_data_line_is_found_across_chunks_and_pipelined_commands_stay() -> None:
    stream = b"Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b.example>\r\n"
    for cut in range(1, len(stream)):
        assert read_data_in_chunks([stream[:cut], stream[cut:]]) == body_by_lines(stream), cut


@pytest.mark.parametrize(
    "smuggled", [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r\n.\n", b"\n.\r", b"\r.\r\n", b"\r\n.\x00\r\n", b"\r\n. \r\n"]
)
def test_only_crlf_dot_crlf_ends_the_body(smuggled: bytes) -> None:
    body, rest = read_data_in_chunks([b"a" + smuggled + b"MAIL FROM:<x@y.example>\r\n.\r\n"])
    assert body == b"a" + smuggled + b"MAIL FROM:<x@y.example>\r\n" and rest == b""


def test_an_oversized_body_is_read_to_its_end_and_dropped() -> None:
    stream = (b"y" * 98 + b"\r\n") * 1000 + b".\r\nNOOP\r\n"
    chunks = [stream[i : i + 777] for i in range(0, len(stream), 777)]
    assert read_data_in_chunks(chunks, size_limit=50_000) == (None, b"NOOP\r\n")
    assert read_data_in_chunks(chunks, size_limit=100_000) == body_by_lines(stream)


@given(
    lines=st.lists(st.sampled_from([b"", b".", b"..", b".x", b"x.", b"a\rb", b"a\nb", b"\r", b"\n", b"text"]), max_size=12),
    cuts=st.lists(st.integers(min_value=1, max_value=8), max_size=10),
)
def test_chunked_reading_matches_line_by_line_reading(lines: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(line + b"\r\n" for line in lines if line != b".") + b".\r\nQUIT\r\n"
    chunks, start = [], 0
    for cut in cuts:
        chunks.append(stream[start : start + cut])
        start += cut
    chunks.append(stream[start:])
    assert read_data_in_chunks([c for c in chunks if c]) == body_by_lines(stream)


def test_unstuffing_and_line_lengths() -> None:
    assert unstuff(b"..x\r\n.\r\nab.\r\n") == b".x\r\n\r\nab.\r\n"
    assert longest_line(b"abc\r\n" + b"x" * 998 + b"\r\n") == 1000
