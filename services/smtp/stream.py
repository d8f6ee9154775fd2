"""Line reading rules that aiosmtpd 1.4.6 leaves lenient.

aiosmtpd reads command lines (and AUTH continuation lines, via readline) with
`readuntil(b"\\n")`, so a bare LF ends a command and `NOOP\\r\\r\\n` is accepted. RFC 5321
§2.3.8 allows only CRLF. `StrictLineReader` makes such a line raise `BareNewlineError`,
which the protocol answers with a 500 and the session goes on. DATA is read with
`readuntil(b"\\r\\n")` and is not touched here: bare CR/LF inside DATA is content, judged
after end-of-data (see handler.py).
"""

from __future__ import annotations

import asyncio

COMMAND_SEPARATOR = b"\n"


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

    async def readuntil(self, separator: bytes = COMMAND_SEPARATOR) -> bytes:
        line = await super().readuntil(separator)
        draining, self._draining = self._draining, False
        if separator == COMMAND_SEPARATOR and not draining and (not line.endswith(b"\r\n") or b"\r" in line[:-2]):
            raise BareNewlineError()
        return line


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
