"""Next-hop selection: smarthost syntax (MX lookups: tests/integration/smtp/test_relay_mx.py)."""

from __future__ import annotations

import pytest

from services.smtp.relay import parse_host_port


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("relay.example", ("relay.example", 25)),
        ("relay.example:587", ("relay.example", 587)),
        ("[2001:db8::1]", ("2001:db8::1", 25)),
        ("[2001:db8::1]:2525", ("2001:db8::1", 2525)),
    ],
)
def test_smarthost_syntax(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected
