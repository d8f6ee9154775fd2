"""Open connections per client IP in one service process, to cap them: one address (a flood,
or a slowloris holding sessions open as slowly as the idle timeouts allow) must not take
every session a process can hold, while other clients keep being served.

Counted per worker process; with BEACONMAIL_*_PROCESSES workers an
address may hold up to that many times the limit. Used from the event loop only.
"""

from __future__ import annotations

from collections import Counter

from shared.runtime.accepting import WorkerLoads


class ConnectionsPerIp:
    def __init__(self, limit: int, loads: WorkerLoads | None = None) -> None:
        """`loads`: where this worker process's total of open connections is shared with its siblings."""
        self.limit = limit  # 0: no cap
        self.loads = loads or WorkerLoads()
        self._open: Counter[str] = Counter()

    def admit(self, ip: str) -> bool:
        """Count a new connection from `ip` in, unless `ip` already holds `limit` of them."""
        if self.limit and self._open[ip] >= self.limit:
            return False
        self._open[ip] += 1
        self.loads.change(+1)
        return True

    def release(self, ip: str) -> None:
        self._open[ip] -= 1
        self.loads.change(-1)
        if self._open[ip] <= 0:
            del self._open[ip]

    def held_by(self, ip: str) -> int:
        return self._open[ip]
