"""Sockets bound by the pre-fork parent behave as asyncio's own: replies are not held by Nagle;
sockets a service manager passes are served in place of binding."""

from __future__ import annotations

import asyncio
import socket

import pytest

from shared.config import ConfigError
from shared.runtime.prefork import listening_socket, service_sockets


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


def test_a_passed_socket_is_served_and_the_others_are_bound() -> None:
    with listening_socket("127.0.0.1", 0) as held:
        sockets = service_sockets("127.0.0.1", {"pop3": 1, "pop3s": 0}, {"pop3": held.fileno(), "admin": 99})
        try:
            assert set(sockets) == {"pop3", "pop3s"}
            assert sockets["pop3"].fileno() == held.fileno()  # port 1 was never bound
            assert sockets["pop3s"].getsockname()[1] not in (0, held.getsockname()[1])
            with socket.create_connection(held.getsockname(), timeout=5):
                sockets["pop3"].setblocking(True)
                sockets["pop3"].accept()[0].close()
        finally:
            sockets["pop3"].detach()  # `held` closes it
            sockets["pop3s"].close()


@pytest.mark.parametrize("kind", ["connected", "not listening", "udp"])
def test_a_passed_descriptor_that_is_no_listening_socket_is_refused(kind: str) -> None:
    pair = socket.socketpair()
    unlistened = socket.socket()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock = {"connected": pair[0], "not listening": unlistened, "udp": udp}[kind]
    try:
        with pytest.raises(ConfigError, match=r"^LISTEN_FDS: descriptor \d+ \(pop3\) is not a listening TCP socket$"):
            service_sockets("127.0.0.1", {"pop3": 0}, {"pop3": sock.fileno()})
        assert sock.fileno() != -1  # left open for its owner
    finally:
        for each in (*pair, unlistened, udp):
            each.close()
