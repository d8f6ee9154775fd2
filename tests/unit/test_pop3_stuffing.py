"""MessageEncoder: dot-stuffing and TOP cuts must not depend on how the file is chunked."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from services.pop3.stuffing import MessageEncoder


def reference(message: bytes, body_lines: int | None) -> bytes:
    """The expected RETR/TOP payload, computed line by line on the whole message."""
    message = re.sub(rb"(?<!\r)\n", b"\r\n", message)  # a bare LF goes out as CRLF
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    lines = message.split(b"\r\n")[:-1]
    if body_lines is not None:
        blank = lines.index(b"") if b"" in lines else len(lines)
        lines = lines[: blank + 1 + body_lines]
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"


def encode(chunks: list[bytes], body_lines: int | None) -> bytes:
    encoder = MessageEncoder(body_lines)
    out = b""
    for chunk in chunks:
        if encoder.complete:
            break
        out += encoder.feed(chunk)
    return out + encoder.finish()


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


messages = st.lists(
    st.sampled_from([b"a", b"Subject: x", b".", b"..", b"\r\n", b"\r\n.", b"\r\n\r\n", b"\r", b"\n", b"\x00"]),
    max_size=40,
).map(b"".join)


@given(messages, st.lists(st.integers(min_value=0, max_value=200), max_size=8),
       st.one_of(st.none(), st.integers(min_value=0, max_value=5)))
def test_any_chunking_gives_the_reference_output(message: bytes, cuts: list[int], body_lines: int | None) -> None:
    assert encode(chunked(message, cuts), body_lines) == reference(message, body_lines)


def test_dot_lines_are_stuffed() -> None:
    message = b"H: v\r\n\r\n.\r\n.hidden\r\n..double\r\nplain\r\n"
    assert encode([message], None) == b"H: v\r\n\r\n..\r\n..hidden\r\n...double\r\nplain\r\n.\r\n"


def test_a_dot_after_a_crlf_split_between_chunks_is_stuffed() -> None:
    assert encode([b"H: v\r", b"\n.x\r\n"], None) == b"H: v\r\n..x\r\n.\r\n"
    assert encode([b"H: v\r\n", b".x\r\n"], None) == b"H: v\r\n..x\r\n.\r\n"
    assert encode([b"H: v\r", b"\n", b".x\r\n"], None) == b"H: v\r\n..x\r\n.\r\n"


def test_a_bare_lf_is_sent_as_crlf_and_a_dot_after_it_is_stuffed() -> None:
    assert encode([b"a\n.b\r\n"], None) == b"a\r\n..b\r\n.\r\n"
    assert encode([b"a\n", b".\n"], None) == b"a\r\n..\r\n.\r\n"


def test_top_stops_reading_once_it_has_its_lines() -> None:
    encoder = MessageEncoder(1)
    assert encoder.feed(b"H: v\r\n\r\nfirst\r\nsecond\r\n") == b"H: v\r\n\r\nfirst\r\n"
    assert encoder.complete
    assert encoder.feed(b"more\r\n") == b""


def test_missing_final_crlf_is_added_before_the_terminator() -> None:
    assert encode([b"H: v\r\n\r\nno newline"], None) == b"H: v\r\n\r\nno newline\r\n.\r\n"
    assert encode([], None) == b".\r\n"
