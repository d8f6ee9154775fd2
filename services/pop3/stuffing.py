"""Dot-stuffing of a stored message streamed chunk by chunk (RFC 1939 §3).

The encoder never holds more than the chunk it is given, so RETR of a huge
message costs the same memory as RETR of a small one. For TOP it also stops
after the header block, the blank line and the requested number of body
lines. Stored messages have CRLF line endings; a line starts only after CRLF.
A bare LF (a file not written by our delivery, such as a Maildir migrated from
a server that stores LF) is sent as CRLF: passed through, a "." line after it
would go out unstuffed and end the client's reply early.
"""

from __future__ import annotations

import re

from services.pop3.replies import END_OF_MULTILINE
from shared.mail.lineends import BARE_LF

CRLF = b"\r\n"
# A bare LF, or a line that starts with a dot: one scan finds both, cheaper than two scans,
# and a chunk with neither, most of them, goes out as it is.
_NEEDS_REWRITE = re.compile(rb"\n(?:(?<!\r\n)|\.)")


class MessageEncoder:
    """Turns stored message bytes into the body of a RETR or TOP response."""

    def __init__(self, body_lines: int | None = None) -> None:
        # None sends everything (RETR); a number is TOP's line count.
        self._lines_left = body_lines
        self._in_body = False
        self._at_line_start = True
        self._after_cr = False
        self._line_length = 0
        self.complete = False

    def feed(self, chunk: bytes) -> bytes:
        """Stuffed bytes for `chunk`; once `complete` is set, feed no more."""
        if self.complete or not chunk:
            return b""
        rewrite = _NEEDS_REWRITE.search(chunk) is not None
        if rewrite:
            chunk = self._to_crlf(chunk)
        if self._lines_left is not None:
            chunk = self._cut(chunk)
        return self._stuff(chunk, rewrite)

    def finish(self) -> bytes:
        """The end of the response: a CRLF if the message lacked one, then `.`."""
        ending = b"" if self._at_line_start else CRLF
        self.complete = True
        return ending + END_OF_MULTILINE

    def _to_crlf(self, chunk: bytes) -> bytes:
        if self._after_cr and chunk.startswith(b"\n"):  # a CRLF split between two chunks
            return b"\n" + self._to_crlf_within(chunk[1:])
        return self._to_crlf_within(chunk)

    @staticmethod
    def _to_crlf_within(chunk: bytes) -> bytes:
        return BARE_LF.sub(CRLF, chunk)

    def _stuff(self, chunk: bytes, rewrite: bool) -> bytes:
        stuffed = chunk.replace(b"\r\n.", b"\r\n..") if rewrite else chunk
        if self._at_line_start and chunk.startswith(b"."):
            stuffed = b"." + stuffed
        elif self._after_cr and chunk.startswith(b"\n."):
            stuffed = b"\n." + stuffed[1:]
        ends_line = chunk.endswith(CRLF) or (self._after_cr and chunk == b"\n")
        self._at_line_start = ends_line
        self._after_cr = chunk.endswith(b"\r")
        return stuffed

    def _cut(self, chunk: bytes) -> bytes:
        """The part of `chunk` that TOP still sends; sets `complete` at the cut."""
        start = 0
        newline = chunk.find(b"\n")
        while newline != -1:
            ends_crlf = chunk[newline - 1 : newline] == b"\r" if newline else self._after_cr
            if ends_crlf and self._count_line(self._line_length + newline - start):
                self.complete = True
                return chunk[: newline + 1]
            if ends_crlf:
                self._line_length, start = 0, newline + 1
            newline = chunk.find(b"\n", newline + 1)
        self._line_length += len(chunk) - start
        return chunk

    def _count_line(self, length: int) -> bool:
        """Account for one finished line of `length` octets before its LF.

        Returns True when that line is the last one TOP sends.
        """
        if not self._in_body:
            self._in_body = length == 1  # the blank line: just its CR
            return self._in_body and self._lines_left == 0
        assert self._lines_left is not None
        self._lines_left -= 1
        return self._lines_left == 0
