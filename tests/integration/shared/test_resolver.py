"""The suite's resolver against a real DNS server: the servers of BEACONMAIL_DNS_RESOLVER are the
ones asked, answers are kept within their TTL, and each kind of failure is told apart."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.config import ConfigError, load_settings
from shared.mail.resolver import DnsFailure, NoSuchDomain, Resolver, resolver_for
from tests.dnsserver import DnsServer, Record

RECORDS = [
    Record("example.test", "TXT", "v=spf1 ip4:127.0.0.2 -all"),
    Record("long.example.test", "TXT", "k=rsa; p=" + "A" * 400),
    Record("mx.example.test", "A", "127.0.0.9"),
    Record("mx.example.test", "A", "127.0.0.10"),
    Record("example.test", "MX", "10 mx.example.test"),
]


def test_answers_come_from_the_configured_server(tmp_path: Path) -> None:
    with DnsServer(RECORDS, tmp_path) as server:
        settings = load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_DNS_RESOLVER": server.setting})
        resolver = resolver_for(settings)
        assert resolver.txt("example.test") == ["v=spf1 ip4:127.0.0.2 -all"]
        assert resolver.txt("long.example.test") == ["k=rsa; p=" + "A" * 400]  # strings joined
        assert sorted(resolver.addresses("mx.example.test")) == ["127.0.0.10", "127.0.0.9"]
        assert [str(r.exchange) for r in resolver.query("example.test", "MX")] == ["mx.example.test."]  # type: ignore[attr-defined]
        assert resolver.query("example.test", "A") == []
        with pytest.raises(NoSuchDomain):
            resolver.query("missing.example.test", "MX")
        assert resolver.txt("missing.example.test") == []


def test_answers_are_kept_within_their_ttl(tmp_path: Path) -> None:
    with DnsServer(RECORDS, tmp_path, ttl=60) as server:
        resolver = Resolver((server.address,))
        assert resolver.txt("example.test") == ["v=spf1 ip4:127.0.0.2 -all"]
    assert resolver.txt("example.test") == ["v=spf1 ip4:127.0.0.2 -all"]  # server gone: from the cache
    with pytest.raises(DnsFailure):
        resolver.txt("other.example.test", lifetime=0.5)


def test_answers_expire_with_their_ttl(tmp_path: Path) -> None:
    with DnsServer(RECORDS, tmp_path, ttl=1) as server:
        resolver = Resolver((server.address,))
        resolver.txt("example.test")
    time.sleep(1.5)
    with pytest.raises(DnsFailure):
        resolver.txt("example.test", lifetime=0.5)


@pytest.mark.parametrize("value", ["127.0.0.1:99999", "127.0.0.1:x", ":53", ","])
def test_a_bad_resolver_setting_is_one_line(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="BEACONMAIL_DNS_RESOLVER"):
        load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_DNS_RESOLVER": value})


def test_several_servers_and_ipv6_brackets(tmp_path: Path) -> None:
    settings = load_settings(
        {"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_DNS_RESOLVER": "127.0.0.1:5353, [::1], localhost"}
    )
    assert settings.dns_resolver[:2] == (("127.0.0.1", 5353), ("::1", 53))
    assert settings.dns_resolver[2][1] == 53
