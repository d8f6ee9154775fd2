"""The DNS health judges: what was found against what a record is for, without a DNS server."""
from __future__ import annotations

from shared.mail.dnshealth import (
    SHOWN_CHARACTERS,
    Found,
    OurHost,
    authorises,
    dkim_key,
    judge_autoconfig,
    judge_dkim,
    judge_dmarc,
    judge_mx,
    judge_spf,
    judge_srv,
    shown_text,
)
from shared.mail.dnsrecords import DnsRecord

US = OurHost("mx.test.example", ("192.0.2.25", "2001:db8::25"))
MX = DnsRecord("shop.example.", "MX", "10 mx.test.example.", "mx")
SPF = DnsRecord("shop.example.", "TXT", "v=spf1 mx -all", "spf")
DKIM = DnsRecord("beacon._domainkey.shop.example.", "TXT", "v=DKIM1; k=rsa; p=MIIBkey+/=", "dkim")
DMARC = DnsRecord("_dmarc.shop.example.", "TXT", "v=DMARC1; p=quarantine", "dmarc")
SRV = DnsRecord("_imaps._tcp.shop.example.", "SRV", "0 1 993 mx.test.example.", "srv")
AUTOCONFIG = DnsRecord("autoconfig.shop.example.", "CNAME", "mx.test.example.", "autoconfig")


def test_mx_needs_our_host_among_the_targets_whatever_its_case_or_priority() -> None:
    assert judge_mx(MX, Found(("5 other.example.", "50 MX.TEST.EXAMPLE")), US).ok
    assert not judge_mx(MX, Found(("10 mx.test.example.evil.",)), US).ok
    assert not judge_mx(MX, Found(), US).ok


def test_spf_must_be_one_record_that_lets_us_send() -> None:
    assert judge_spf(SPF, Found(("verify=1", "v=spf1 +mx ~all")), US).ok
    assert judge_spf(SPF, Found(("V=SPF1 ip4:192.0.2.0/24 -all",)), US).ok
    two = judge_spf(SPF, Found(("v=spf1 mx -all", "v=spf1 a:mx.test.example -all")), US)
    assert not two.ok and two.found == "v=spf1 mx -all | v=spf1 a:mx.test.example -all"
    assert not judge_spf(SPF, Found(("v=spf10 mx",)), US).ok


def test_spf_authorisation_follows_order_and_qualifiers() -> None:
    domain = "shop.example"
    assert authorises("v=spf1 mx:shop.example -all", domain, US)
    assert authorises("v=spf1 a:MX.test.example. -all", domain, US)
    assert authorises("v=spf1 ip6:2001:db8::/32 -all", domain, US)
    assert not authorises("v=spf1 -mx ~all", domain, US)
    assert not authorises("v=spf1 -all mx", domain, US)  # nothing after `all` is read
    assert not authorises("v=spf1 +all", domain, US)
    assert not authorises("v=spf1 mx:elsewhere.example ip4:198.51.100.0/24 ip4:bogus -all", domain, US)
    assert not authorises("v=spf1 include:_spf.provider.example -all", domain, US)  # not followed


def test_dkim_compares_the_key_without_whitespace_and_in_any_tag_order() -> None:
    assert dkim_key("k=rsa; p = MIIB key+/= ;t=y") == "MIIBkey+/="
    assert dkim_key("v=DKIM1; k=rsa") is None
    assert judge_dkim(DKIM, Found(("p=MIIBk ey+/=; v=DKIM1",)), US).ok
    assert not judge_dkim(DKIM, Found(("v=DKIM1; p=MIIBotherkey",)), US).ok
    assert not judge_dkim(DKIM, Found(("v=DKIM1; p=MIIBkey+/=", "v=DKIM1; p=MIIBkey+/=")), US).ok
    assert not judge_dkim(DKIM, Found(("v=DKIM1; p=",)), US).ok  # a revoked key is not ours


def test_dmarc_needs_exactly_one_record() -> None:
    assert judge_dmarc(DMARC, Found(("v=DMARC1; p=none", "unrelated")), US).ok
    assert judge_dmarc(DMARC, Found(("v=DMARC1 ; p=reject",)), US).ok
    assert not judge_dmarc(DMARC, Found(("v=DMARC1; p=none", "v=DMARC1; p=reject")), US).ok
    assert not judge_dmarc(DMARC, Found(("v=DMARC10; p=none",)), US).ok
    assert not judge_dmarc(DMARC, Found(), US).ok


def test_srv_needs_our_host_and_port() -> None:
    assert judge_srv(SRV, Found(("5 0 993 MX.test.example.",)), US).ok
    assert not judge_srv(SRV, Found(("0 1 143 mx.test.example.",)), US).ok
    assert not judge_srv(SRV, Found(("0 1 993 imap.elsewhere.example.",)), US).ok


def test_autoconfig_names_must_lead_to_us_or_to_an_address() -> None:
    assert judge_autoconfig(AUTOCONFIG, Found(("CNAME MX.test.example.",)), US).ok
    assert judge_autoconfig(AUTOCONFIG, Found(("CNAME web.elsewhere.example.", "192.0.2.99")), US).ok
    assert judge_autoconfig(AUTOCONFIG, Found(("2001:db8::99",)), US).ok
    assert not judge_autoconfig(AUTOCONFIG, Found(("CNAME web.elsewhere.example.",)), US).ok
    assert not judge_autoconfig(AUTOCONFIG, Found(), US).ok


def test_a_failed_lookup_is_never_ok_and_says_why() -> None:
    failed = judge_mx(MX, Found(("10 mx.test.example.",), error="MX lookup of shop.example. failed: Timeout"), US)
    assert (failed.ok, failed.found) == (False, "MX lookup of shop.example. failed: Timeout")
    assert (failed.type, failed.name, failed.expected) == ("MX", "shop.example", "10 mx.test.example.")


def test_shown_values_are_one_line_of_bounded_length() -> None:
    assert shown_text("a\tb\nc\x00\u202e") == "a\\tb\\nc\\x00\\u202e"
    cut = shown_text("x" * (SHOWN_CHARACTERS + 50))
    assert cut == "x" * SHOWN_CHARACTERS + "… (50 more characters)"
