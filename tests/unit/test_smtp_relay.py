"""Next-hop selection: smarthost syntax, MX preference, implicit MX, null MX, DNS failures."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.name
import dns.resolver
import pytest

from services.smtp.relay import Hop, RouteError, mx_hops, parse_host_port


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


@dataclass
class Mx:
    preference: int
    exchange: dns.name.Name


def resolving_to(result: object):  # type: ignore[no-untyped-def]
    def resolve(name: str, rdtype: str, lifetime: float) -> object:
        assert rdtype == "MX"
        if isinstance(result, Exception):
            raise result
        return result

    return resolve


def test_mx_hosts_by_preference(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = [Mx(20, dns.name.from_text("backup.remote.example")), Mx(10, dns.name.from_text("mx.remote.example"))]
    monkeypatch.setattr(dns.resolver, "resolve", resolving_to(answer))
    assert mx_hops("remote.example") == [
        Hop("mx.remote.example", 25, smarthost=False),
        Hop("backup.remote.example", 25, smarthost=False),
    ]


def test_no_mx_means_the_domain_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dns.resolver, "resolve", resolving_to(dns.resolver.NoAnswer()))
    assert mx_hops("remote.example") == [Hop("remote.example", 25, smarthost=False)]


@pytest.mark.parametrize(
    ("outcome", "permanent", "code"),
    [
        (dns.resolver.NXDOMAIN(), True, "550 5.1.2"),
        ([Mx(0, dns.name.root)], True, "556 5.1.10"),
        (dns.exception.Timeout(), False, "451 4.4.3"),
        (dns.resolver.NoNameservers(), False, "451 4.4.3"),
    ],
)
def test_undeliverable_domains(monkeypatch: pytest.MonkeyPatch, outcome: object, permanent: bool, code: str) -> None:
    monkeypatch.setattr(dns.resolver, "resolve", resolving_to(outcome))
    with pytest.raises(RouteError) as error:
        mx_hops("remote.example")
    assert error.value.permanent is permanent and error.value.reply.startswith(code)
