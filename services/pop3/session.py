"""One POP3 connection: drives the sans-I/O machine and performs its effects through `shared`.

This is the connection boundary of STYLE §4: an unexpected error is logged
with its traceback, the client gets a fixed `-ERR [SYS/TEMP]` and the
connection closes. Whatever way a session ends, its maildrop lease is
released and nothing is deleted unless the client said QUIT.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Literal

from sqlalchemy.exc import SQLAlchemyError

from services.pop3.channel import Channel
from services.pop3.events import (
    DONE,
    NEED_DATA,
    Authenticate,
    Authenticated,
    Close,
    CommitDeletes,
    Fetch,
    MaildropOpened,
    OpenMaildrop,
    Refused,
    Result,
    Send,
    SessionPolicy,
    Signal,
    StartTLS,
)
from services.pop3.protocol import Pop3Connection
from services.pop3.replies import (
    ERR_LOGIN_DELAY,
    ERR_SYS_TEMP,
    reply_for_error,
)
from services.pop3.stuffing import MessageEncoder
from shared.accounts import authenticate
from shared.errors import BeaconError
from shared.mail.maildrop import (
    Maildrop,
    commit_deletes,
    open_maildrop,
    open_message,
    release_maildrop,
    renew_maildrop,
)
from shared.storage.db import Database

log = logging.getLogger(__name__)

CHUNK_SIZE = 128 * 1024  # a RETR holds about one chunk in memory, whatever the message size
SHARED_FAILURES = (BeaconError, SQLAlchemyError, OSError)  # what a call into `shared` may raise
_HOST = socket.gethostname()


class LoginDelay:
    """RFC 2449 LOGIN-DELAY, enforced per process: when each account last logged in."""

    def __init__(self, seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last_login: dict[str, float] = {}

    def allows(self, address: str) -> bool:
        """Whether `address` may log in now: its last session began long enough ago."""
        last = self._last_login.get(address)
        return not self.seconds or last is None or self._clock() - last >= self.seconds

    def record(self, address: str) -> None:
        """A session of `address` began (its maildrop is open): a login that ends in [IN-USE]
        or a failure to open the maildrop does not count."""
        if not self.seconds:
            return
        now = self._clock()
        self._last_login = {a: t for a, t in self._last_login.items() if now - t < self.seconds}
        self._last_login[address] = now


@dataclass(frozen=True)
class SessionServices:
    """What every session of one server shares."""

    db: Database
    ssl_context: ssl.SSLContext
    login_delay: LoginDelay


@dataclass(frozen=True)
class _Streaming:
    """A RETR or TOP whose status line is sent, the rest of the message to stream from `source`."""

    source: BinaryIO
    encoder: MessageEncoder


class _Waiting(enum.Enum):
    WRITE_BLOCKED = "the client is behind on reading"


WRITE_BLOCKED = _Waiting.WRITE_BLOCKED
# What the session's task waits on or carries out, once the event loop could go no further alone.
_Effect = Authenticate | OpenMaildrop | CommitDeletes | StartTLS
_Step = _Effect | Close | _Streaming | _Waiting


class _StreamBroken(Exception):
    """A message could not be sent whole; the only safe thing left is to hang up."""


class _IdleTimer:
    """Calls `on_expiry` once `touch()` has not been called for `seconds`, unless paused.

    One timer per session instead of a timeout around every read and write: a touch only
    stores the time, and the timer, when it fires early, re-arms itself for the time left.
    """

    def __init__(self, seconds: float, on_expiry: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._seconds = seconds
        self._on_expiry = on_expiry
        self._paused = False
        self._touched_at = self._loop.time()
        self._handle = self._loop.call_later(seconds, self._check)

    def touch(self) -> None:
        self._touched_at = self._loop.time()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """While the server works (a password check, a database call) the client is not idle."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False
            self.touch()

    def cancel(self) -> None:
        self._handle.cancel()

    def _check(self) -> None:
        left = self._seconds if self._paused else self._touched_at + self._seconds - self._loop.time()
        if left > 0:
            self._handle = self._loop.call_later(left, self._check)
        else:
            self._on_expiry()


class Pop3Session:
    def __init__(self, services: SessionServices, channel: Channel, implicit_tls: bool) -> None:
        settings = services.db.settings
        self._services = services
        self._db = services.db
        self._channel = channel
        self._holder = f"pop3:{_HOST}:{os.getpid()}:{secrets.token_hex(6)}"
        self._maildrop: Maildrop | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._idle_timer = _IdleTimer(settings.pop3_idle_timeout, self._autologout)
        policy = SessionPolicy(settings.hostname, implicit_tls, settings.allow_plaintext_auth, settings.login_delay)
        self.conn = Pop3Connection(policy)

    async def run(self) -> None:
        peer = self._channel.peer
        try:
            await self._converse()
        except (ConnectionError, ssl.SSLError, _StreamBroken) as error:
            log.info("pop3 %s: connection ended: %s", peer, error)
        except Exception:
            log.exception("pop3 %s: unexpected error", peer)
            self._channel.close(ERR_SYS_TEMP.to_bytes())
        finally:
            await self._end()

    async def _converse(self) -> None:
        while True:
            answered = self._answer_at_once()
            if answered is NEED_DATA:
                step: _Step | None = await self._channel.answer_input(self._on_input)
            else:
                step = answered
            if step is None or isinstance(step, Close):
                return
            if step is WRITE_BLOCKED:
                await self._channel.drained()
                self._idle_timer.touch()  # the peer took part of the buffer: progress
            elif isinstance(step, _Streaming):
                await self._stream(step)  # stalls in its writes count as idle
                self.conn.on_result(DONE)
            else:
                with self._idle_timer.paused():
                    result = await self._perform(step)
                self.conn.on_result(result)

    def _on_input(self, data: bytes) -> _Step | None:
        """Input for `Channel.answer_input`: answered at once as far as it goes; None when all is."""
        self.conn.receive_data(data)
        step = self._answer_at_once()
        return None if step is NEED_DATA else step

    def _answer_at_once(self) -> _Step | Literal[Signal.NEED_DATA]:
        """Carry out what needs no waiting, replies and RETR or TOP of a small message, while the
        client keeps up; return the first thing that needs waiting for: input, a client behind on
        reading, a message to stream, or an effect (login, maildrop, deletes, STLS)."""
        while self._channel.writable:
            action = self.conn.next_action()
            if action is NEED_DATA:
                return action
            self._idle_timer.touch()  # idle time counts from the last command answered, not from any byte
            if isinstance(action, Send):
                self._channel.send(action.data)
            elif isinstance(action, Fetch):
                fetched = self._fetch_at_once(action)
                if isinstance(fetched, _Streaming):
                    return fetched
                self.conn.on_result(fetched)
            else:
                return action
        return WRITE_BLOCKED

    def _autologout(self) -> None:
        """RFC 1939 §3: no reply, no UPDATE. Aborting ends a wait for a command and a wait for
        a client that stopped reading alike; the session then ends as on a dropped connection."""
        log.info("pop3 %s: idle autologout", self._channel.peer)
        self._channel.abort()

    async def _send(self, data: bytes) -> None:
        """One write; it returns once the peer has taken enough of the buffer, which is progress."""
        await self._channel.write(data)
        self._idle_timer.touch()

    async def _perform(self, action: _Effect) -> Result:
        match action:
            case Authenticate():
                return await self._authenticate(action)
            case OpenMaildrop():
                return await self._open_maildrop(action)
            case CommitDeletes():
                return await self._commit(action)
            case StartTLS():
                return await self._start_tls()

    async def _authenticate(self, action: Authenticate) -> Result:
        """The lockout is shared's, one for every process and service: a locked out client
        reads `-ERR [AUTH]`, as a wrong password does."""
        peer = self._channel.peer
        try:
            mailbox = await asyncio.to_thread(authenticate, self._db, action.user, action.secret, "pop3", peer)
        except SHARED_FAILURES as error:
            log.info("pop3 %s: login as %r failed: %s", peer, action.user, type(error).__name__)
            return Refused(reply_for_error(error))
        if not self._services.login_delay.allows(mailbox.address):
            return Refused(ERR_LOGIN_DELAY)
        log.info("pop3 %s: %s logged in", peer, mailbox.address)
        return Authenticated(mailbox.address)

    async def _open_maildrop(self, action: OpenMaildrop) -> Result:
        try:
            maildrop = await asyncio.to_thread(open_maildrop, self._db, action.address, self._holder)
        except SHARED_FAILURES as error:
            log.info("pop3 %s: maildrop %s not opened: %s", self._channel.peer, action.address, type(error).__name__)
            return Refused(reply_for_error(error))
        self._maildrop = maildrop
        self._services.login_delay.record(action.address)
        self._heartbeat = asyncio.create_task(self._keep_lease(maildrop))
        return MaildropOpened(maildrop.messages)

    async def _keep_lease(self, maildrop: Maildrop) -> None:
        """Renew the lease while the session lasts; hang up if another holder took it."""
        interval = self._db.settings.maildrop_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                kept = await asyncio.to_thread(renew_maildrop, self._db, maildrop, self._holder)
            except SHARED_FAILURES as error:
                log.warning("pop3: lease renewal for %s failed: %s", maildrop.address, error)
                continue
            if not kept:
                log.warning("pop3: lease on %s lost, closing the session", maildrop.address)
                self._channel.close()
                return

    def _fetch_at_once(self, action: Fetch) -> Result | _Streaming:
        """RETR or TOP. A message smaller than a chunk, by the size listed, is read in the event
        loop (a small, recently delivered file is in the page cache: cheaper than a thread hop)
        and goes out with its status line and terminator in one write. For a bigger one the
        status line is sent and the rest left to stream."""
        assert self._maildrop is not None
        try:
            # Opening a local file does not block for long: no thread for it.
            source = open_message(self._db, self._maildrop, action.uid)
        except SHARED_FAILURES as error:
            return Refused(reply_for_error(error))
        streaming = None  # the source goes to the stream, or is closed here (an ExitStack costs more, per RETR)
        try:
            encoder = MessageEncoder(action.lines)
            size = self._maildrop.message(action.uid).size
            if size >= CHUNK_SIZE:
                self._channel.send(action.status)
            else:
                # One octet more than listed tells whether the file ends there.
                chunk = _read_chunk(source, size + 1)
                body = encoder.feed(chunk)
                if encoder.complete or len(chunk) <= size:
                    self._channel.send(b"".join((action.status, body, encoder.finish())))
                    return DONE
                self._channel.send(action.status + body)  # bigger than its name says: stream the rest
            streaming = _Streaming(source, encoder)
            return streaming
        finally:
            if streaming is None:
                source.close()

    async def _stream(self, streaming: _Streaming) -> None:
        """Copy the rest of the message out chunk by chunk, waiting for the client between chunks."""
        source, encoder = streaming.source, streaming.encoder
        with source:
            while not encoder.complete and (chunk := await asyncio.to_thread(_read_chunk, source, CHUNK_SIZE)):
                await self._send(encoder.feed(chunk))
            await self._send(encoder.finish())

    async def _commit(self, action: CommitDeletes) -> Result:
        assert self._maildrop is not None
        await self._stop_heartbeat()
        try:
            await asyncio.to_thread(commit_deletes, self._db, self._maildrop, self._holder, list(action.uids))
        except SHARED_FAILURES as error:
            log.error("pop3: deleting from %s failed: %s", self._maildrop.address, error)
            return Refused(reply_for_error(error))
        log.info("pop3: %s deleted %d messages", self._maildrop.address, len(action.uids))
        self._maildrop = None  # commit_deletes released the lease
        return DONE

    async def _start_tls(self) -> Result:
        try:
            await self._channel.start_tls(self._services.ssl_context)
        except OSError as error:
            log.info("pop3 %s: TLS handshake failed: %s", self._channel.peer, error)
            return Refused(ERR_SYS_TEMP)
        return DONE

    async def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None

    async def _end(self) -> None:
        """Release the lease (without deleting anything) and close the connection."""
        self._idle_timer.cancel()
        await self._stop_heartbeat()
        if self._maildrop is not None:
            try:
                await asyncio.to_thread(release_maildrop, self._db, self._maildrop, self._holder)
            except SHARED_FAILURES as error:
                log.warning("pop3: releasing %s failed (%s); the lease will expire", self._maildrop.address, error)
            self._maildrop = None
        self._channel.close()


def _read_chunk(source: BinaryIO, size: int) -> bytes:
    try:
        return source.read(size)
    except OSError as error:  # after +OK an -ERR would be taken for message text
        raise _StreamBroken(f"reading the message failed: {error}") from error
