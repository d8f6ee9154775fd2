"""Sockets bound by the pre-fork parent behave as asyncio's own: replies are not held by Nagle."""

from __future__ import annotations

import asyncio
import socket

import pytest

from shared.runtime.prefork import listening_socket


def test_accepted_connections_have_tcp_nodelay() -> None:
    async def nodelay_of_accepted() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connection(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connection, sock=listening_socket("127.0.0.1", 0))
        async with server:
            _reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
            result = await asyncio.wait_for(accepted, 10)
            writer.close()
            return result

    assert asyncio.run(nodelay_of_accepted()) != 0


def test_a_taken_port_fails_at_bind() -> None:
    with listening_socket("127.0.0.1", 0) as first, pytest.raises(OSError):
        listening_socket("127.0.0.1", first.getsockname()[1]).close()
