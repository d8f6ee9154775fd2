"""Failed-login throttling, kept per process (each replica throttles what it sees).

Failures are counted per client IP and per account in a sliding window. Each failure
beyond the first adds a growing delay before the reply; at the limit (0 = never), that
IP or account is refused until the lockout passes. A lock on an account does not stop the
right password from another IP that has no failures of its own.

Keys that went quiet are swept every SWEEP_EVERY failures, so memory follows the failures
of the last max(window, lockout) seconds, which the cost of each password check bounds,
instead of every IP and account name ever tried.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from shared.config import Settings

MAX_DELAY = 5.0
SWEEP_EVERY = 1024


class LoginThrottle:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = settings.auth_fail_limit
        self.window = settings.auth_fail_window
        self.lockout = settings.auth_lockout
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._recorded = 0
        # The portal calls this from several threads per worker; every public method holds the lock.
        self._lock = threading.Lock()

    def _recent(self, key: str, span: float | None = None) -> int:
        """Failures of `key` in the last `span` seconds (default: the window). They are kept
        for the lockout too, so an IP that failed against a locked account stays refused."""
        failures = self._failures.get(key)
        if not failures:
            return 0
        now = self.clock()
        while failures and failures[0] < now - max(self.window, self.lockout):
            failures.popleft()
        if not failures:
            del self._failures[key]
        horizon = now - (self.window if span is None else span)
        return sum(1 for at in failures if at >= horizon)

    def _locked(self, key: str) -> bool:
        until = self._locked_until.get(key)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del self._locked_until[key]
        return False

    def is_locked(self, ip: str, account: str) -> bool:
        """Refuse when the IP is locked, or when the account is locked and this IP has failed too."""
        ip_key, account_key = f"ip:{ip}", f"account:{account.lower()}"
        with self._lock:
            return self._locked(ip_key) or (self._locked(account_key) and self._recent(ip_key, self.lockout) > 0)

    def delay_for(self, ip: str, account: str) -> float:
        with self._lock:
            failures = max(self._recent(f"ip:{ip}"), self._recent(f"account:{account.lower()}"))
        return min(MAX_DELAY, 0.25 * (2 ** (failures - 1))) if failures else 0.0

    def record_failure(self, ip: str, account: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (f"ip:{ip}", f"account:{account.lower()}"):
                self._failures.setdefault(key, deque()).append(now)
                if self.limit and self._recent(key) >= self.limit:
                    self._locked_until[key] = now + self.lockout
            self._recorded += 1
            if self._recorded % SWEEP_EVERY == 0:
                self._sweep(now)

    def _sweep(self, now: float) -> None:
        horizon = now - max(self.window, self.lockout)
        for key in [key for key, failures in self._failures.items() if failures[-1] < horizon]:
            del self._failures[key]
        for key in [key for key, until in self._locked_until.items() if until <= now]:
            del self._locked_until[key]

    def record_success(self, ip: str, account: str) -> None:
        with self._lock:
            self._failures.pop(f"ip:{ip}", None)
