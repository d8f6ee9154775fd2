"""Line reading rules that aiosmtpd 1.4.6 leaves lenient.

aiosmtpd reads command lines (and AUTH continuation lines, via readline) with
`readuntil(b"\\n")`, so a bare LF ends a command and `NOOP\\r\\r\\n` is accepted. RFC 5321
§2.3.8 allows only CRLF. `StrictLineReader` makes such a line raise `BareNewlineError`,
which the protocol answers with a 500 and the session goes on.

A DATA body is read in large chunks up to the line holding only "." (aiosmtpd awaits one
`readuntil` per line, which cost more CPU than storing the message). Only CRLF ends a
line there too; bare CR/LF inside DATA is content, judged after end-of-data (handler.py).
"""

from __future__ import annotations

import asyncio

COMMAND_SEPARATOR = b"\n"
# RFC 5321 §4.5.2: the body ends with a line holding only "."; searched as CRLF "." CRLF
# in the stream with a CRLF put in front, so a first line "." is found the same way.
END_OF_DATA = b"\r\n.\r\n"
DATA_CHUNK = 256 * 1024


class BareNewlineError(Exception):
    """A command line ended in a bare LF or held a bare CR."""


class AuthLineTooLong(Exception):
    """An AUTH continuation line exceeded the reader's limit; it was read and discarded."""


class StrictLineReader(asyncio.StreamReader):
    # aiosmtpd drains an over-long line with read() before its readuntil(): the rest of that
    # line may then start anywhere (even between CR and LF), and it is refused as too long anyway.
    _draining = False

    async def read(self, n: int = -1) -> bytes:
        self._draining = True
        return await super().read(n)

    async def readuntil(self, separator: bytes = COMMAND_SEPARATOR) -> bytes:  # type: ignore[override]  # aiosmtpd passes bytes only
        line = await super().readuntil(separator)
        draining, self._draining = self._draining, False
        if separator == COMMAND_SEPARATOR and not draining and (not line.endswith(b"\r\n") or b"\r" in line[:-2]):
            raise BareNewlineError()
        return line


    async def read_data(self, size_limit: int) -> bytes | None:
        """A DATA body as sent (still dot-stuffed, ending in CRLF), read up to and including
        its end-of-data line. None when it exceeded `size_limit` octets: then it is read to
        its end and discarded as it comes, so it costs no memory."""
        body = bytearray(b"\r\n")
        searched = discarded = 0
        while (end := body.find(END_OF_DATA, searched)) < 0:
            # An end-of-data line can straddle chunks: search again from its longest prefix.
            searched = max(len(body) - len(END_OF_DATA) + 1, 0)
            if size_limit and discarded + searched > size_limit:
                discarded += searched
                del body[:searched]
                searched = 0
            chunk = await super().read(DATA_CHUNK)
            if not chunk:
                raise asyncio.IncompleteReadError(bytes(body), None)
            body += chunk
        # Commands pipelined after the end-of-data line belong to the command reader.
        self._buffer[0:0] = body[end + len(END_OF_DATA) :]  # type: ignore[attr-defined]  # asyncio has no public unread
        size = discarded + end
        if size_limit and size > size_limit:
            return None
        return bytes(body[2 : end + 2])


def unstuff(body: bytes) -> bytes:
    """RFC 5321 §4.5.2: remove the leading dot of every line that has one."""
    return (b"\r\n" + body).replace(b"\r\n.", b"\r\n")[2:]


def longest_line(body: bytes) -> int:
    """Octets in the longest line of `body`, its CRLF included."""
    return max(map(len, body.split(b"\r\n"))) + 2


async def read_crlf_line(reader: asyncio.StreamReader) -> bytes:
    """One CRLF-terminated line without its CRLF; a line over the limit is drained, then refused."""
    try:
        return (await reader.readuntil(b"\r\n"))[:-2]
    except asyncio.LimitOverrunError as overrun:
        consumed = overrun.consumed
    while True:
        await reader.readexactly(consumed)
        try:
            await reader.readuntil(b"\r\n")
            raise AuthLineTooLong()
        except asyncio.LimitOverrunError as overrun:
            consumed = overrun.consumed
