"""The test's own next hop for outbound mail: an aiosmtpd server on a loopback port that
keeps every message it is given."""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Relayed:
    sender: str
    recipients: tuple[str, ...]
    content: bytes


@dataclass
class Collector:
    received: list[Relayed] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self.lock:
            self.received.append(Relayed(envelope.mail_from or "", tuple(envelope.rcpt_tos), content))
        return "250 2.0.0 relayed"

    def messages(self) -> list[Relayed]:
        with self.lock:
            return list(self.received)


class Smarthost:
    """Runs its own event loop in a thread; bound to 127.0.0.1 on a free port."""

    def __init__(self) -> None:
        self.collector = Collector()
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="smarthost", daemon=True)

    def start(self) -> int:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(10)
        return int(self._server.sockets[0].getsockname()[1])

    async def _listen(self) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: SMTP(self.collector, hostname="smarthost.test"), "127.0.0.1", 0)

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
