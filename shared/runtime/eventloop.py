"""The event loop every Beacon service runs on: uvloop, asyncio's loop rebuilt on libuv.

Measured side by side with asyncio's own loop (bench/RESULTS.md, fifth session): POP3, a
stream of small commands, gained most, since each command's wake-up, read and write costs
less in C; SMTP (most of its CPU is aiosmtpd's Python and the disk) moved within noise.
Tests start their servers on the same loop, so what they check is what runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on a new service loop."""
    return uvloop.run(main)
