"""`beaconmail domain check` against a real DNS server (dnsmasq) serving the test's zone: the
installed script in a subprocess, its resolver set by BEACONMAIL_DNS_RESOLVER, on both databases."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared import accounts
from shared.accounts.permissions import scope_of
from shared.accounts.views import CONSOLE, Actor
from shared.config import Settings
from shared.errors import NotFound
from shared.mail import dkimkeys
from shared.storage.db import Database
from tests.dnsserver import DnsServer, Record

BEACONMAIL = str(Path(sys.executable).with_name("beaconmail"))
DOMAIN = "shop.example"
PORTS = {"SUBMISSIONS": "465", "SUBMISSION": "587", "IMAPS": "993", "IMAP": "143", "POP3S": "995", "POP3": "110"}


def our_public_key(settings: Settings) -> str:
    """The p= value of the domain's signing key, as the DNS provider was given it."""
    return dkimkeys.dns_record(settings, DOMAIN)[1].split("p=")[1]


def good_zone(settings: Settings) -> list[Record]:
    """Everything right, but not written the way the DNS records page writes it."""
    key = our_public_key(settings)
    spaced_key = " ".join(key[i : i + 64] for i in range(0, len(key), 64))
    return [
        Record("mx.test.example", "A", "192.0.2.25"),
        Record(DOMAIN, "MX", "5 backup.other.example"),
        Record(DOMAIN, "MX", "20 MX.Test.Example."),
        Record(DOMAIN, "TXT", "google-site-verification=abc"),
        Record(DOMAIN, "TXT", "v=spf1 ip4:198.51.100.0/24 +mx ~all"),
        Record(f"beacon._domainkey.{DOMAIN}", "TXT", f"v=DKIM1; p={spaced_key}; k=rsa"),
        Record(f"_dmarc.{DOMAIN}", "TXT", "v=DMARC1; p=reject"),
        Record(f"_submissions._tcp.{DOMAIN}", "SRV", "5 0 465 mx.test.example"),
        Record(f"_submission._tcp.{DOMAIN}", "SRV", "10 0 587 MX.test.example."),
        Record(f"_imaps._tcp.{DOMAIN}", "SRV", "0 1 993 mx.test.example"),
        Record(f"_imap._tcp.{DOMAIN}", "SRV", "10 1 143 mx.test.example"),
        Record(f"_pop3s._tcp.{DOMAIN}", "SRV", "20 1 995 mx.test.example"),
        Record(f"_pop3._tcp.{DOMAIN}", "SRV", "30 1 110 mx.test.example"),
        Record(f"autoconfig.{DOMAIN}", "CNAME", "mx.test.example"),
        Record(f"autodiscover.{DOMAIN}", "A", "192.0.2.26"),
    ]


def check(settings: Settings, resolver: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BEACONMAIL_DATA_DIR": str(settings.data_dir),
        "BEACONMAIL_DATABASE_URL": settings.database_url,
        "BEACONMAIL_HOSTNAME": "mx.test.example",
        "BEACONMAIL_DNS_RESOLVER": resolver,
        **{f"BEACONMAIL_{name}_PORT": port for name, port in PORTS.items()},
    }
    return subprocess.run([BEACONMAIL, "domain", "check", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def hosted(db: Database) -> Database:
    accounts.create_domain(db, DOMAIN, actor=CONSOLE)
    return db


def rows(done: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    parsed = json.loads(done.stdout)
    assert all(set(row) == {"type", "name", "expected", "found", "ok"} for row in parsed)
    return parsed  # type: ignore[no-any-return]


def test_a_zone_that_is_all_good_passes(hosted: Database, settings: Settings, tmp_path: Path) -> None:
    with DnsServer(good_zone(settings), tmp_path / "dns") as dns:
        done = check(settings, dns.setting, DOMAIN, "--json")
        table = check(settings, dns.setting, DOMAIN.upper())
    assert (done.returncode, done.stderr) == (0, "")
    found = rows(done)
    assert [row["type"] for row in found] == ["MX", "SPF", "DKIM", "DMARC", *["SRV"] * 6, "AUTOCONFIG", "AUTOCONFIG"]
    assert all(row["ok"] is True for row in found), [row for row in found if not row["ok"]]
    by_name = {(row["type"], row["name"]): row for row in found}
    assert by_name["MX", DOMAIN]["found"] in ("5 backup.other.example. | 20 mx.test.example.", "20 mx.test.example. | 5 backup.other.example.")
    assert by_name["DMARC", f"_dmarc.{DOMAIN}"]["found"] == "v=DMARC1; p=reject"
    assert by_name["AUTOCONFIG", f"autoconfig.{DOMAIN}"]["found"] == "CNAME mx.test.example. | 192.0.2.25"
    assert (table.returncode, table.stderr) == (0, "")
    assert len(table.stdout.splitlines()) == 12 and all(line.startswith("yes\t") for line in table.stdout.splitlines())


def test_wrong_key_two_spf_records_and_no_dmarc_fail_exactly_those_rows(
    hosted: Database, settings: Settings, tmp_path: Path
) -> None:
    zone = [record for record in good_zone(settings) if not record.name.startswith(("beacon.", "_dmarc."))]
    zone += [
        Record(DOMAIN, "TXT", "v=spf1 a:mx.test.example -all"),
        Record(f"beacon._domainkey.{DOMAIN}", "TXT", "v=DKIM1; k=rsa; p=" + our_public_key(settings)[:-8] + "AAAAAAAA"),
    ]
    with DnsServer(zone, tmp_path / "dns") as dns:
        done = check(settings, dns.setting, DOMAIN, "--json")
    assert done.returncode == 1
    assert done.stderr == f"beaconmail: 3 of 12 DNS records of {DOMAIN} do not match\n"
    failed = {row["type"]: row for row in rows(done) if not row["ok"]}
    assert set(failed) == {"SPF", "DKIM", "DMARC"}
    assert failed["SPF"]["found"].count("v=spf1") == 2  # type: ignore[union-attr]
    assert failed["DMARC"]["found"] == "" and failed["DMARC"]["name"] == f"_dmarc.{DOMAIN}"
    assert str(failed["DKIM"]["found"]).endswith("AAAAAAAA")


def test_a_refusing_dns_server_fails_every_row_without_a_crash(hosted: Database, settings: Settings, tmp_path: Path) -> None:
    """The server refuses names outside its own zone: each lookup fails, and says so."""
    with DnsServer([Record("elsewhere.example", "A", "192.0.2.1")], tmp_path / "dns") as dns:
        done = check(settings, dns.setting, DOMAIN, "--json")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    found = rows(done)
    assert len(found) == 12 and not any(row["ok"] for row in found)
    assert all("failed" in str(row["found"]) for row in found), found


def test_a_domain_that_is_not_ours_is_a_usage_error(hosted: Database, settings: Settings) -> None:
    for name, reason in (("other.example", "unknown domain"), ("not a domain", "")):
        done = check(settings, "127.0.0.1:9", name, "--json")
        assert (done.returncode, done.stdout) == (2, "")
        assert len(done.stderr.splitlines()) == 1 and reason in done.stderr


def test_a_manager_checks_only_their_own_domains(hosted: Database) -> None:
    """Before any lookup: whether the domain exists for them is not theirs to learn either."""
    manager = Actor(scope_of("boss@other.example", is_global_admin=False, managed_domains=("other.example",)))
    with pytest.raises(NotFound, match="unknown domain"):
        accounts.check_domain_dns(hosted, DOMAIN, actor=manager)
