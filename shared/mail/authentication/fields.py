"""The header section of a message as raw fields, for checks that must see it byte for byte."""
from __future__ import annotations

import re

_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")


def header_section(message: bytes) -> bytes:
    """Everything before the empty line that ends the header section, with the last CRLF."""
    end = message.find(b"\r\n\r\n")
    return message if end < 0 else message[: end + 2]


def header_fields(message: bytes) -> list[bytes]:
    """The header section's fields in order, each with its continuation lines and line ends."""
    fields: list[bytes] = []
    for line in header_section(message).splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def without_comments(text: str) -> str:
    """`text` with its RFC 5322 comments replaced by a space; comments nest, so the innermost
    go first until none is left."""
    while True:
        stripped = _COMMENT.sub(" ", text)
        if stripped == text:
            return text
        text = stripped
