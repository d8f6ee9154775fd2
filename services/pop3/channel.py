"""One POP3 connection as a byte channel: input answered as it arrives, awaitable writes.

`Channel` is an asyncio.Protocol rather than a StreamReader/StreamWriter pair
because STLS must drop every byte received in the clear before the handshake
(the aiosmtpd STARTTLS injection, CVE-2024-34083): a StreamReader keeps such
bytes in a private buffer, a protocol we own does not.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")

INBOX_LIMIT = 64 * 1024  # stop reading from a peer that sends faster than we parse
HANDSHAKE_TIMEOUT = 30.0


class Channel(asyncio.Protocol):
    """One connection: input answered as it arrives, awaitable writes, flow control both ways."""

    def __init__(self, on_open: Callable[[Channel], None]) -> None:
        self._on_open = on_open
        self._transport: asyncio.Transport | None = None
        self._inbox = bytearray()
        self._at_eof = False
        self._lost = False
        self._reading_paused = False
        self._waiter: asyncio.Future[Any] | None = None
        self._on_arrival: Callable[[bytes], Any] | None = None
        self._writable = asyncio.Event()
        self._writable.set()

    # -- asyncio.Protocol callbacks -------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._on_open(self)

    def data_received(self, data: bytes) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._answer(data)
            return
        self._inbox += data
        if len(self._inbox) >= INBOX_LIMIT and not self._reading_paused and self._transport:
            self._reading_paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self._at_eof = True
        self._wake(None)
        # Keep a plain socket open so commands sent before a half-close still get
        # replies; TLS cannot be half-closed, and asyncio warns if asked to.
        return self._transport is not None and self._transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self._at_eof = self._lost = True
        self._wake(None)
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- the session's side ----------------------------------------------------

    @property
    def peer(self) -> str:
        """The client's IP address, for the lockout and logs."""
        peername = self._transport.get_extra_info("peername") if self._transport else None
        return str(peername[0]) if peername else "unknown"

    async def answer_input(self, on_arrival: Callable[[bytes], T | None]) -> T | None:
        """Give what has arrived, and then each arrival, to `on_arrival` until it returns something
        other than None, and return that; None at the end of input.

        While this waits, `on_arrival` runs inside data_received: a command that can be answered
        at once (RETR of a small message) costs no wake-up of the task, and so less CPU. What
        arrives once it has returned is kept for the next call."""
        if self._inbox:
            data = bytes(self._inbox)
            self._inbox.clear()
            self._resume_reading()
            outcome = on_arrival(data)
            if outcome is not None:
                return outcome
        if self._at_eof:
            return None
        self._waiter = asyncio.get_running_loop().create_future()
        self._on_arrival = on_arrival
        try:
            return cast("T | None", await self._waiter)
        finally:
            self._waiter = self._on_arrival = None

    def send(self, data: bytes) -> None:
        """Queue `data` without waiting; see `writable`."""
        if self._lost or self._transport is None or self._transport.is_closing():
            raise ConnectionResetError("connection lost")
        self._transport.write(data)

    @property
    def writable(self) -> bool:
        """False while the transport's buffer is above its high-water mark (the peer is behind)."""
        return self._writable.is_set()

    async def write(self, data: bytes) -> None:
        """Queue `data`; wait only while the peer is behind, so a reply to a client that keeps
        up costs no suspension."""
        self.send(data)
        await self.drained()

    async def drained(self) -> None:
        if not self._writable.is_set():
            await self._writable.wait()
            if self._lost:
                raise ConnectionResetError("connection lost")

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade to TLS; bytes that came in the clear before now are dropped."""
        assert self._transport is not None
        self._inbox.clear()
        self._resume_reading()
        loop = asyncio.get_running_loop()
        upgraded = await loop.start_tls(
            self._transport, self, context, server_side=True, ssl_handshake_timeout=HANDSHAKE_TIMEOUT
        )
        if upgraded is None:
            raise ConnectionResetError("connection closed during the TLS handshake")
        self._transport = upgraded

    def close(self, last_words: bytes = b"") -> None:
        """Send `last_words` if the connection still stands, then close it."""
        if self._transport is not None and not self._lost:
            if last_words:
                self._transport.write(last_words)
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection at once, discarding unsent bytes: for a peer that stopped
        reading, close() would wait for them forever. A pending answer_input() then returns
        None, a pending write() raises ConnectionResetError."""
        if self._transport is not None:
            self._transport.abort()

    def _answer(self, data: bytes) -> None:
        assert self._waiter is not None and self._on_arrival is not None
        try:
            outcome = self._on_arrival(data)
        except Exception as error:  # raised in the waiting task, which handles every failure
            self._waiter.set_exception(error)
            return
        if outcome is not None:
            self._waiter.set_result(outcome)

    def _wake(self, outcome: object) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(outcome)

    def _resume_reading(self) -> None:
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
