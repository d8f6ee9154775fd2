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
    assert delay.admit("alice@hosted.example")
    clock.now += 59
    assert not delay.admit("alice@hosted.example")
    assert delay.admit("bob@hosted.example")  # per account
    clock.now += 1
    assert delay.admit("alice@hosted.example")  # counted from the last admitted login


def test_zero_means_no_delay() -> None:
    delay = LoginDelay(0, Clock())
    assert delay.admit("alice@hosted.example") and delay.admit("alice@hosted.example")
