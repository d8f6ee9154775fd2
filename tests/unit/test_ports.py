"""tests/ports.py: the ports handed to servers in other processes never come from the kernel's
ephemeral range, and parallel test workers never share one."""
from __future__ import annotations

from tests.ports import LOWEST_PORT, ephemeral_start, reserve_ports, worker_band


def test_each_worker_has_a_band_of_its_own_below_the_ephemeral_range() -> None:
    bands = [worker_band({"PYTEST_XDIST_WORKER_COUNT": "3", "PYTEST_XDIST_WORKER": f"gw{n}"}) for n in range(3)]
    assert bands[0].start == LOWEST_PORT and bands[-1].stop <= ephemeral_start()
    assert all(len(set(a) & set(b)) == 0 for i, a in enumerate(bands) for b in bands[i + 1:])
    assert worker_band({}) == range(LOWEST_PORT, ephemeral_start())  # no xdist: one worker


def test_reserved_ports_differ_and_are_not_handed_out_again_soon() -> None:
    first, second = reserve_ports(50), reserve_ports(50)
    assert len(set(first) | set(second)) == 100
    assert all(LOWEST_PORT <= port < ephemeral_start() for port in first + second)
