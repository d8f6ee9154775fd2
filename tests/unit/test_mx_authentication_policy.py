"""The DMARC evaluator's pure parts and the MX policy's decision for mixed recipient domains
(no sockets: the checks themselves are tested against dnsmasq in tests/integration/smtp)."""
from __future__ import annotations

import pytest

from shared.mail.authentication.author import Author, author_of
from shared.mail.authentication.dmarc import is_aligned, organisational_domain, parse_record
from shared.mail.authentication.inbound import Verdict, apply, judge
from shared.mail.authentication.results import AuthReport, DkimResult, DmarcResult, SpfResult


def report(spf: str = "none", dkim: tuple[DkimResult, ...] = (), dmarc: DmarcResult | None = None) -> AuthReport:
    return AuthReport(SpfResult(spf, "sender.example", False), dkim, dmarc or DmarcResult("none", ""), None)


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("v=DMARC1; p=reject", "reject"),
        ("v=DMARC1;p=quarantine;sp=none", "quarantine"),
        ("v=DMARC1; p=bogus; rua=mailto:r@x.example", "none"),  # RFC 7489 §6.6.3
        ("v=DMARC1; p=bogus", None),
        ("v=spf1 -all", None),
        ("p=reject; v=DMARC1", None),  # v= must come first
    ],
)
def test_records(text: str, policy: str | None) -> None:
    tags = parse_record(text)
    assert (tags["p"] if tags else None) == policy


def test_alignment_relaxed_by_organisational_domain_and_strict_by_equality() -> None:
    assert organisational_domain("mail.shop.example.co.uk") == "example.co.uk"
    assert is_aligned("mail.example.co.uk", "example.co.uk", strict=False)
    assert not is_aligned("mail.example.co.uk", "example.co.uk", strict=True)
    assert not is_aligned("other.co.uk", "example.co.uk", strict=False)


def test_a_hosted_sender_must_authenticate_and_dns_trouble_defers() -> None:
    assert judge(report(), Author(("hosted.example",)), {"hosted.example"}) is Verdict.FORGED_SENDER
    assert judge(report("temperror"), Author(("hosted.example",)), {"hosted.example"}) is Verdict.UNVERIFIED_SENDER
    signed = (DkimResult("pass", "mail.hosted.example", "s"),)
    assert judge(report(dkim=signed), Author(("hosted.example",)), {"hosted.example"}) is None
    with_l = (DkimResult("policy", "hosted.example", "s"),)
    assert judge(report(dkim=with_l), Author(("hosted.example",)), {"hosted.example"}) is Verdict.FORGED_SENDER


def test_dmarc_and_spf_verdicts() -> None:
    rejecting = DmarcResult("fail", "x.example", policy="reject", has_record=True)
    assert judge(report(dmarc=rejecting), Author(("x.example",)), ()) is Verdict.DMARC_REJECT
    relaxed = DmarcResult("fail", "x.example", policy="none", has_record=True)
    assert judge(report(dmarc=relaxed), Author(("x.example",)), ()) is None
    assert judge(report("fail"), Author(("x.example",)), ()) is Verdict.SPF_FAIL
    assert judge(report("softfail"), Author(("x.example",)), ()) is None
    assert judge(report(), Author((), ambiguous=True), ()) is Verdict.AMBIGUOUS_AUTHOR


def test_mixed_recipient_domains_refuse_only_when_all_enforce() -> None:
    assert apply(Verdict.DMARC_REJECT, {1, 2}, frozenset({1, 2})) == (Verdict.DMARC_REJECT, frozenset())
    assert apply(Verdict.DMARC_REJECT, {1, 2}, frozenset({1})) == (None, frozenset({1}))
    assert apply(Verdict.DMARC_REJECT, {1, 2}, frozenset()) == (None, frozenset())
    assert apply(Verdict.DMARC_QUARANTINE, {1, 2}, frozenset({1, 2})) == (None, frozenset({1, 2}))
    assert apply(None, {1}, frozenset({1})) == (None, frozenset())


@pytest.mark.parametrize(
    ("field", "domains", "ambiguous"),
    [
        (b"From: A <a@one.example>, B <b@two.example>, C <c@one.example>", ("one.example", "two.example"), False),
        (b"From: \"x@evil.example\" <a@one.example>", ("one.example",), False),
        (b"From: x@evil.example <a@one.example>", (), True),
        (b"From: undisclosed-recipients:;", (), True),
        (b"Subject: no author", (), False),
    ],
)
def test_every_author_domain_is_found_and_a_misleading_field_is_ambiguous(
    field: bytes, domains: tuple[str, ...], ambiguous: bool
) -> None:
    author = author_of(field + b"\r\n\r\nbody\r\n")
    assert (author.domains, author.ambiguous) == (domains, ambiguous)
