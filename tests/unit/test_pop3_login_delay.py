"""LOGIN-DELAY bookkeeping (RFC 2449 §6.5) with a fake clock."""

from __future__ import annotations

from services.pop3.session import LoginDelay


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_second_login_within_the_delay_is_refused_until_it_passes() -> None:
    clock = Clock()
    delay = LoginDelay(60, clock)
    assert delay.allows("alice@hosted.example")
    delay.record("alice@hosted.example")
    clock.now += 59
    assert not delay.allows("alice@hosted.example")
    assert delay.allows("bob@hosted.example")  # per account
    clock.now += 1
    assert delay.allows("alice@hosted.example")  # counted from the last session's start


def test_only_a_session_that_began_counts() -> None:
    delay = LoginDelay(60, Clock())
    assert delay.allows("alice@hosted.example")  # asked, but the maildrop was [IN-USE]: not recorded
    assert delay.allows("alice@hosted.example")


def test_zero_means_no_delay() -> None:
    delay = LoginDelay(0, Clock())
    delay.record("alice@hosted.example")
    assert delay.allows("alice@hosted.example")
