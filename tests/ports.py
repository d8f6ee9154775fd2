"""Ports for servers in other processes, which must be told their port before they bind it.

A port the kernel picks (a bind to port 0), closed again until the server binds it, is from the
ephemeral range: meanwhile any outgoing connection on the machine may get it as its own port,
and another test worker's probe may pick it too. These ports come from below that range, where
the kernel hands out none by itself, and from a band of their own per test worker (xdist), so
parallel workers never choose the same one. Each is checked free for TCP and UDP when chosen,
and a worker goes round its band before it chooses a port again.
"""
from __future__ import annotations

import itertools
import os
import random
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path

LOWEST_PORT = 20000
# Linux's default when /proc cannot tell; the band ends below the ephemeral range's start.
DEFAULT_EPHEMERAL_START = 32768
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START


def worker_band(environ: Mapping[str, str] = os.environ) -> range:
    """This test worker's share of the ports between LOWEST_PORT and the ephemeral range."""
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    width = (ephemeral_start() - LOWEST_PORT) // workers
    if width < 1:
        raise RuntimeError(f"no ports below the ephemeral range for {workers} workers: see {EPHEMERAL_RANGE}")
    first = LOWEST_PORT + worker * width
    return range(first, first + width)


def _walk(band: range) -> Iterator[int]:
    """The band round and round, from a random place (several test sessions on one machine
    start in different places)."""
    start = random.randrange(len(band))
    return itertools.cycle([*band[start:], *band[:start]])


_BAND = worker_band()
_candidates = _walk(_BAND)


def _is_free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def reserve_ports(count: int) -> list[int]:
    """`count` different ports, free now, which no other worker and no kernel choice will take."""
    chosen: list[int] = []
    for port in itertools.islice(_candidates, len(_BAND)):
        if _is_free(port):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"fewer than {count} free ports in {_BAND}")


def reserve_port() -> int:
    return reserve_ports(1)[0]
