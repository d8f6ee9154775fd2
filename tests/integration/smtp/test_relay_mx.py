"""Next-hop selection through the suite's resolver, against a real DNS server: MX preference,
implicit MX, null MX, a domain that does not exist, a server that refuses."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.smtp.relay import Hop, RouteError, mx_hops
from shared.mail.resolver import Resolver
from tests.dnsserver import DnsServer, Record


def test_mx_hosts_by_preference(tmp_path: Path) -> None:
    records = [
        Record("remote.test", "MX", "20 backup.remote.test"),
        Record("remote.test", "MX", "10 mx.remote.test"),
    ]
    with DnsServer(records, tmp_path) as server:
        assert mx_hops(Resolver((server.address,)), "remote.test") == [
            Hop("mx.remote.test", 25, smarthost=False),
            Hop("backup.remote.test", 25, smarthost=False),
        ]


def test_no_mx_means_the_domain_itself(tmp_path: Path) -> None:
    with DnsServer([Record("remote.test", "A", "127.0.0.5")], tmp_path) as server:
        assert mx_hops(Resolver((server.address,)), "remote.test") == [Hop("remote.test", 25, smarthost=False)]


@pytest.mark.parametrize(
    ("records", "domain", "permanent", "code"),
    [
        ([Record("remote.test", "A", "127.0.0.5")], "gone.remote.test", True, "550 5.1.2"),
        ([Record("remote.test", "MX", "0 .")], "remote.test", True, "556 5.1.10"),
    ],
)
def test_undeliverable_domains(
    tmp_path: Path, records: list[Record], domain: str, permanent: bool, code: str
) -> None:
    with DnsServer(records, tmp_path) as server:
        with pytest.raises(RouteError) as error:
            mx_hops(Resolver((server.address,)), domain)
    assert error.value.permanent is permanent and error.value.reply.startswith(code)


def test_a_server_that_refuses_is_a_temporary_failure(tmp_path: Path) -> None:
    with DnsServer([], tmp_path) as server:  # no zone of its own, no upstream: REFUSED
        with pytest.raises(RouteError) as error:
            mx_hops(Resolver((server.address,)), "remote.test")
    assert not error.value.permanent and error.value.reply.startswith("451 4.4.3")
