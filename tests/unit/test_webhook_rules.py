"""The webhook rules without a network or a database: signatures as Standard Webhooks defines
them, which addresses count as public, the URL shapes refused, the retry schedule."""
from __future__ import annotations

import dataclasses
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from shared.config import load_settings
from shared.errors import InvalidValue
from shared.mail.webhook_delivery import RETRY_PERIOD, retry_delay
from shared.mail.webhooks import allowed_addresses, is_public, new_secret, parse_url, signature


def test_our_signature_is_the_standard_ones() -> None:
    secret = new_secret()
    moment = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    body = '{"type":"message.delivered","data":{"id":"ab"}}'
    assert signature(secret, "msg_1", int(moment.timestamp()), body) == Webhook(secret).sign("msg_1", moment, body)
    assert secret.startswith("whsec_") and new_secret() != secret


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.0.1", False),
        ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
        ("240.0.0.1", False), ("::1", False), ("fe80::1", False), ("fc00::1", False), ("::ffff:10.0.0.1", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "http:///path", "https://u:p@example.com/", "http://example.com:99999/", "http://a b/",
     "javascript:alert(1)", "https://example.com/" + "a" * 2100],
)
def test_url_shapes_that_are_refused(url: str) -> None:
    with pytest.raises(InvalidValue):
        parse_url(url)


def test_the_setting_lets_private_addresses_through() -> None:
    settings = load_settings({"BEACONMAIL_DATA_DIR": "/nonexistent", "BEACONMAIL_SECRET_KEY": "x"})
    with pytest.raises(InvalidValue, match="non-public"):
        allowed_addresses(settings, "http://127.0.0.1:8080/hook")
    allowing = dataclasses.replace(settings, webhook_allow_private=True)
    assert [str(a) for a in allowed_addresses(allowing, "http://127.0.0.1:8080/hook")] == ["127.0.0.1"]
    assert load_settings({"BEACONMAIL_DATA_DIR": "/x", "BEACONMAIL_SECRET_KEY": "x",
                          "BEACONMAIL_WEBHOOK_ALLOW_PRIVATE": "1"}).webhook_allow_private


def test_retries_back_off_and_fit_the_period() -> None:
    delays = [retry_delay(attempt) for attempt in range(1, 9)]
    assert delays[:3] == [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30)]
    assert delays == sorted(delays) and delays[-1] == timedelta(hours=10)
    assert sum(delays[:6], timedelta()) < RETRY_PERIOD < sum(delays, timedelta())
