"""The Received header we prepend (RFC 5321 §4.4, RFC 3848 protocol names)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.smtp.trace import (
    TraceInfo,
    address_literal,
    received_header,
    with_protocol,
)

NOW = datetime(2024, 11, 26, 13, 26, 0, tzinfo=timezone.utc)


class FakeTls:
    def version(self) -> str:
        return "TLSv1.3"

    def cipher(self) -> tuple[str, str, int]:
        return ("TLS_AES_256_GCM_SHA384", "TLSv1.3", 256)


def info(**changes: object) -> TraceInfo:
    base = dict(
        helo="client.example",
        ip="192.0.2.7",
        hostname="mx.hosted.example",
        extended=True,
        smtp_utf8=False,
        tls=None,
        authenticated_as=None,
        transaction_id="0123456789abcdef",
    )
    return TraceInfo(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (dict(extended=False), "SMTP"),
        ({}, "ESMTP"),
        (dict(tls=FakeTls()), "ESMTPS"),
        (dict(authenticated_as="a@b.example"), "ESMTPA"),
        (dict(tls=FakeTls(), authenticated_as="a@b.example"), "ESMTPSA"),
        (dict(tls=FakeTls(), authenticated_as="a@b.example", smtp_utf8=True), "UTF8SMTPSA"),
    ],
)
def test_protocol_names(changes: dict[str, object], expected: str) -> None:
    assert with_protocol(info(**changes)) == expected


def test_full_header_for_an_authenticated_tls_submission() -> None:
    header = received_header(info(tls=FakeTls(), authenticated_as="alice@hosted.example"), NOW)
    assert header == (
        b"Received: from client.example ([192.0.2.7])\r\n"
        b"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        b"\t(authenticated sender: alice@hosted.example)\r\n"
        b"\tby mx.hosted.example (Beacon Mail) with ESMTPSA id 0123456789abcdef;\r\n"
        b"\tTue, 26 Nov 2024 13:26:00 +0000\r\n"
    )


@pytest.mark.parametrize("helo", ["a(b)c", "x;y", "ünï.example", "a\\b"])
def test_odd_helo_names_do_not_reach_the_header(helo: str) -> None:
    assert received_header(info(helo=helo), NOW).startswith(b"Received: from unknown ([192.0.2.7])\r\n")


def test_address_literals() -> None:
    assert address_literal("::1") == "[IPv6:::1]"
    assert address_literal("127.0.0.1") == "[127.0.0.1]"
    assert address_literal("not an ip") == "[unknown]"
