"""The per-IP connection cap: counts in, refuses at the limit, lets in again after a release."""

from __future__ import annotations

from shared.runtime.connections import ConnectionsPerIp


def test_an_address_is_refused_at_its_limit_and_admitted_after_a_release() -> None:
    connections = ConnectionsPerIp(limit=2)
    assert connections.admit("192.0.2.1") and connections.admit("192.0.2.1")
    assert not connections.admit("192.0.2.1")
    assert connections.admit("198.51.100.7")  # another address is not affected
    connections.release("192.0.2.1")
    assert connections.admit("192.0.2.1")
    assert connections.held_by("192.0.2.1") == 2


def test_released_addresses_are_forgotten_and_zero_means_no_cap() -> None:
    connections = ConnectionsPerIp(limit=1)
    connections.admit("192.0.2.1")
    connections.release("192.0.2.1")
    assert connections.held_by("192.0.2.1") == 0 and not connections._open  # white-box: no key left behind
    unlimited = ConnectionsPerIp(limit=0)
    assert all(unlimited.admit("192.0.2.1") for _ in range(10_000))
