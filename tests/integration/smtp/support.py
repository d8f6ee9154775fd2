"""Helpers of the SMTP integration tests: the service on loopback, and clients that talk to it.

The listeners run on their own event loop in a thread, so blocking clients (smtplib, raw
sockets, swaks, curl) can talk to them from the test. `RawSmtp` checks every reply it
reads against RFC 2034 §4: once ENHANCEDSTATUSCODES is advertised, every 2xx/4xx/5xx line
other than the greeting and the HELO/EHLO answers carries an enhanced status code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, AuthResult

from services.smtp.server import SmtpListeners, start_listeners
from services.smtp.worker import OutboundWorker
from shared.config import Settings
from shared.mail import srs
from shared.runtime import eventloop
from shared.runtime.tls import ensure_tls_pair, server_ssl_context
from shared.storage.db import Database
from shared.storage.maildirs import list_messages

T = TypeVar("T")
DOMAIN, SECOND, ALIAS_DOMAIN = "hosted.example", "second.example", "alias.example"
ALICE, ALICE_PW = f"alice@{DOMAIN}", "alice-pw"
BOB, BOB_PW = f"bob@{DOMAIN}", "bob-pw"
CAROL = f"carol@{DOMAIN}"  # disabled
DAVE = f"dave@{DOMAIN}"  # quota full
REMOTE = "someone@remote.example"
ENHANCED_LINE = re.compile(rb"^[245][0-9][0-9][ -][245]\.[0-9]{1,3}\.[0-9]{1,3} ")
REPLY_LINE = re.compile(rb"^[0-9]{3}[ -]")


class RunningSmtp:
    """The SMTP listeners on a private event loop in a daemon thread."""

    def __init__(self, db: Database, **options: Any) -> None:
        self.db = db
        self.settings = db.settings
        self.loop = eventloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.listeners: SmtpListeners = self.call(start_listeners(self.settings, db, **options))
        self.mx, self.submission, self.submissions = (
            self.listeners.port(name) for name in ("mx", "submission", "submissions")
        )

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.call(self.listeners.close())
        stop_loop(self.loop, self.thread)


def stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """End the sessions still running on `loop` (clients may have just hung up), then the loop."""

    async def finish() -> None:
        sessions = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)
        await loop.shutdown_default_executor()

    asyncio.run_coroutine_threadsafe(finish(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def client_context(settings: Settings) -> ssl.SSLContext:
    """Trusts exactly the server's (self-signed) certificate."""
    cert, _key = ensure_tls_pair(settings)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    return context


def submit(server: RunningSmtp, user: str = ALICE, password: str = ALICE_PW) -> smtplib.SMTP:
    """An authenticated smtplib session on the submission port (STARTTLS)."""
    client = smtplib.SMTP("127.0.0.1", server.submission, timeout=10)
    client.starttls(context=client_context(server.settings))
    client.login(user, password)
    return client


def mx_client(server: RunningSmtp) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", server.mx, timeout=10)


def maildir_messages(settings: Settings, address: str) -> list[bytes]:
    local, _at, domain = address.partition("@")
    return [m.path.read_bytes() for m in list_messages(settings.mail_root / domain / local)]


def newest_message(settings: Settings, address: str) -> bytes:
    local, _at, domain = address.partition("@")
    return list_messages(settings.mail_root / domain / local)[-1].path.read_bytes()


def message_count(settings: Settings, address: str) -> int:
    local, _at, domain = address.partition("@")
    return len(list_messages(settings.mail_root / domain / local))


def is_exempt_from_enhanced_codes(command: bytes, line: bytes) -> bool:
    verb = command.split(b" ", 1)[0].strip().upper()
    return verb in (b"EHLO", b"HELO", b"") or line[:1] == b"3"


class RawSmtp:
    """A socket that sends exact bytes and reads whole replies (PROTOCOL-CHECKLIST §0)."""

    def __init__(
        self,
        port: int,
        context: ssl.SSLContext | None = None,
        *,
        source_ip: str = "127.0.0.1",
        enhanced_codes: bool = True,
    ) -> None:
        """`source_ip`: any 127/8 address is loopback on Linux, so tests can be "another client".
        `enhanced_codes=False` for stock aiosmtpd, whose replies lack them."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source_ip, 0))
        self.sock: socket.socket = context.wrap_socket(sock) if context else sock
        self.enhanced_codes = enhanced_codes
        self.last_command = b""
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.last_command = data
        self.sock.sendall(data)

    def line(self) -> bytes:
        """One reply line with its CRLF; b"" when the server closed the connection."""
        data = b""
        while not data.endswith(b"\r\n"):
            byte = self.sock.recv(1)
            if not byte:
                return data
            data += byte
        return data

    def reply(self) -> bytes:
        """One complete (possibly multi-line) reply; checks its shape and its enhanced codes."""
        lines = []
        while True:
            line = self.line()
            if not line:
                return b"".join(lines)
            assert REPLY_LINE.match(line), f"not an SMTP reply line: {line!r}"
            assert len(line) <= 512, f"reply line over 512 octets: {line[:80]!r}"
            if self.enhanced_codes and not is_exempt_from_enhanced_codes(self.last_command, line):
                assert ENHANCED_LINE.match(line), f"{line!r} lacks an enhanced status code"
            lines.append(line)
            if line[3:4] == b" ":
                return b"".join(lines)

    def command(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.reply()

    def pending(self, wait: float = 0.5) -> bytes:
        """Whatever arrives within `wait` seconds (b"" if nothing)."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            return b""
        finally:
            self.sock.settimeout(10)

    def starttls(self, context: ssl.SSLContext) -> None:
        assert self.command(b"STARTTLS").startswith(b"220 2.0.0")
        self.sock = context.wrap_socket(self.sock)

    def close(self) -> None:
        self.sock.close()


def corpus_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "corpus"


class SinkHandler:
    """A next-hop MTA for the outbound tests: records what it accepts; `rcpt_replies` scripts
    the answers to RCPT per address (one per attempt, then it accepts)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.rcpt_replies: dict[str, list[str]] = {}
        self.logins: list[bytes] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        scripted = self.rcpt_replies.get(address)
        if scripted:
            return scripted.pop(0) if len(scripted) > 1 else scripted[0]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK queued"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        self.logins.append(auth_data.login)
        return AuthResult(success=auth_data.password == b"relay-secret", handled=False)


class DsnSinkHandler(SinkHandler):
    """A next hop that offers DSN (RFC 3461), with DsnSmtp: keeps each RCPT's arguments beside
    its transaction's MAIL arguments, as sent (each pair from one connection, however the
    worker's deliveries interleave)."""

    def __init__(self) -> None:
        super().__init__()
        self.arguments: list[tuple[str, str]] = []

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-DSN", responses[-1]]


class DsnSmtp(SMTP):
    """aiosmtpd that accepts the DSN parameters its handler advertises instead of answering 555."""

    mail_arguments = ""

    async def smtp_MAIL(self, arg: str | None) -> None:
        self.mail_arguments = f"MAIL {arg}"
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        self.event_handler.arguments.append((self.mail_arguments, f"RCPT {arg}"))
        await super().smtp_RCPT(arg)

    def _getparams(self, params: Any) -> Any:
        found = super()._getparams(params)
        return found if found is None else {k: v for k, v in found.items() if k not in ("RET", "ENVID", "NOTIFY", "ORCPT")}


class StockSmtp:
    """Stock aiosmtpd on loopback, port 0, on its own event loop: the smarthost of the outbound
    tests, and the reference for what aiosmtpd itself does."""

    def __init__(self, handler: Any, smtp_class: type[SMTP] = SMTP, **smtp_options: Any) -> None:
        self.handler = handler
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start() -> asyncio.Server:
            return await self.loop.create_server(
                lambda: smtp_class(handler, loop=self.loop, **smtp_options), "127.0.0.1", 0
            )

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=10)
        self.port = int(self.server.sockets[0].getsockname()[1])

    @property
    def received(self) -> list[tuple[str, list[str], bytes]]:
        return self.handler.received  # type: ignore[no-any-return]

    def stop(self) -> None:
        # asyncio.Server is not thread-safe: close it on its own loop's thread.
        async def close() -> None:
            self.server.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        stop_loop(self.loop, self.thread)


def start_smarthost(settings: Settings, *, offers_dsn: bool = False) -> StockSmtp:
    """A next hop that offers STARTTLS and AUTH (password `relay-secret`) and records what it
    accepts; with `offers_dsn`, DSN too (DsnSmtp), recording the arguments of MAIL and RCPT."""
    handler = DsnSinkHandler() if offers_dsn else SinkHandler()
    return StockSmtp(
        handler,
        DsnSmtp if offers_dsn else SMTP,
        hostname="smarthost.example",
        enable_SMTPUTF8=True,
        tls_context=server_ssl_context(settings),
        authenticator=handler.authenticate,
    )


_SRS_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def mint_srs0(settings: Settings, forwarding_domain: str, original: str, *, days_ago: int = 0, hash_length: int = 4) -> str:
    """An SRS0 address written from the spec (libsrs2's format), without srslib: HMAC-SHA1 with
    the domain's key over the lower-cased timestamp, domain and local part, base64, truncated;
    the timestamp is the day number mod 1024 in two base32 characters."""
    local, _at, domain = original.rpartition("@")
    day = int(time.time() // 86400) - days_ago
    stamp = _SRS_BASE32[(day >> 5) & 31] + _SRS_BASE32[day & 31]
    key = srs.domain_key(settings, forwarding_domain)
    digest = hmac.new(key, (stamp + domain + local).lower().encode(), hashlib.sha1).digest()
    return f"SRS0={base64.b64encode(digest)[:hash_length].decode()}={stamp}={domain}={local}@{forwarding_domain}"


def work_queue(db: Database) -> int:
    """One pass of the outbound worker: how many deliveries it tried."""
    return asyncio.run(OutboundWorker(db).run_once())
