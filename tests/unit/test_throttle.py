"""Failed-login throttling: growing delays, lockout per IP and per account, a sliding window."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from shared.config import load_settings
from shared.runtime.throttle import MAX_DELAY, SWEEP_EVERY, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_throttle(tmp_path: Path, clock: Clock, *, limit: int = 3, window: float = 60.0, lockout: float = 300.0) -> LoginThrottle:
    settings = load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_SECRET_KEY": "s"})
    settings = dataclasses.replace(settings, auth_fail_limit=limit, auth_fail_window=window, auth_lockout=lockout)
    return LoginThrottle(settings, clock=clock)


def fail_from_three_ips(throttle: LoginThrottle, account: str) -> None:
    for n in range(3):
        throttle.record_failure(f"198.51.100.{n}", account)


def test_no_failures_no_delay_no_lock(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock)
    assert throttle.delay_for("192.0.2.1", "a@example.com") == 0.0
    assert not throttle.is_locked("192.0.2.1", "a@example.com")


def test_delay_grows_with_failures_and_is_capped(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock, limit=100)
    delays = []
    for _ in range(10):
        throttle.record_failure("192.0.2.1", "a@example.com")
        delays.append(throttle.delay_for("192.0.2.1", "a@example.com"))
    assert delays[0] > 0
    assert delays == sorted(delays) and delays[3] > delays[0]
    assert max(delays) == MAX_DELAY


def test_ip_is_locked_at_the_limit_for_any_account(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock)
    for n in range(3):
        assert not throttle.is_locked("192.0.2.1", f"user{n}@example.com")
        throttle.record_failure("192.0.2.1", f"user{n}@example.com")
    assert throttle.is_locked("192.0.2.1", "someone-else@example.com")
    assert not throttle.is_locked("192.0.2.2", "someone-else@example.com")


def test_locked_account_still_admits_a_clean_ip(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock)
    fail_from_three_ips(throttle, "victim@example.com")
    assert throttle.is_locked("198.51.100.0", "victim@example.com")
    assert not throttle.is_locked("203.0.113.9", "victim@example.com")


def test_account_key_ignores_case(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock)
    fail_from_three_ips(throttle, "Victim@Example.com")
    assert throttle.is_locked("198.51.100.1", "victim@example.com")


def test_lockout_ends_after_the_lockout_time(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock, window=60, lockout=300)
    for _ in range(3):
        throttle.record_failure("192.0.2.1", "a@example.com")
    clock.now += 299
    assert throttle.is_locked("192.0.2.1", "a@example.com")
    clock.now += 2
    assert not throttle.is_locked("192.0.2.1", "a@example.com")
    assert throttle.delay_for("192.0.2.1", "a@example.com") == 0.0


def test_failures_older_than_the_window_do_not_count(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock, window=60, lockout=300)
    throttle.record_failure("192.0.2.1", "a@example.com")
    throttle.record_failure("192.0.2.1", "a@example.com")
    clock.now += 61
    throttle.record_failure("192.0.2.1", "a@example.com")
    assert not throttle.is_locked("192.0.2.1", "a@example.com")
    assert throttle.delay_for("192.0.2.1", "a@example.com") == pytest.approx(0.25)


def test_failures_inside_the_window_lock_even_when_spread_out(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock, window=60, lockout=30)
    for _ in range(3):
        throttle.record_failure("192.0.2.1", "a@example.com")
        clock.now += 20
    assert throttle.is_locked("192.0.2.1", "a@example.com")
    clock.now += 15
    assert not throttle.is_locked("192.0.2.1", "a@example.com")


def test_success_clears_the_ip(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock)
    throttle.record_failure("192.0.2.1", "a@example.com")
    throttle.record_failure("192.0.2.1", "b@example.com")
    throttle.record_success("192.0.2.1", "a@example.com")
    assert throttle.delay_for("192.0.2.1", "c@example.com") == 0.0
    assert not throttle.is_locked("192.0.2.1", "c@example.com")


def test_limit_of_zero_never_locks(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock, limit=0)
    for _ in range(20):
        throttle.record_failure("192.0.2.1", "a@example.com")
    assert not throttle.is_locked("192.0.2.1", "a@example.com")
    assert throttle.delay_for("192.0.2.1", "a@example.com") == MAX_DELAY


def test_ip_that_failed_stays_refused_for_the_whole_account_lockout(tmp_path: Path, clock: Clock) -> None:
    throttle = make_throttle(tmp_path, clock, window=60, lockout=300)
    fail_from_three_ips(throttle, "victim@example.com")
    clock.now += 120  # past the window, inside the lockout
    assert throttle.is_locked("198.51.100.1", "victim@example.com")
    assert not throttle.is_locked("203.0.113.9", "victim@example.com")


def test_keys_that_went_quiet_are_forgotten(tmp_path: Path, clock: Clock) -> None:
    """A spray of one failure per IP and account name must not grow the process forever."""
    throttle = make_throttle(tmp_path, clock)
    for n in range(3 * SWEEP_EVERY):
        throttle.record_failure(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", f"user{n}@example.com")
    clock.now += 301  # past the window and the lockout
    for _ in range(SWEEP_EVERY):
        throttle.record_failure("192.0.2.1", "target@example.com")
    # Only the two keys of the last round remain (white-box: the sweep has no other effect to observe).
    assert set(throttle._failures) == {"ip:192.0.2.1", "account:target@example.com"}
    assert set(throttle._locked_until) == {"ip:192.0.2.1", "account:target@example.com"}
    assert throttle.is_locked("192.0.2.1", "target@example.com")
