"""Every check of one message, in the order each needs the last: SPF and DKIM, then DMARC
on their results, ARC on its own."""
from __future__ import annotations

from shared.mail.authentication import dmarc
from shared.mail.authentication.author import Author, author_of
from shared.mail.authentication.chain import verify_chain
from shared.mail.authentication.results import FAIL, NONE, PASS, PERMERROR, TEMPERROR, AuthReport, DmarcResult
from shared.mail.authentication.sender_policy import check_spf
from shared.mail.authentication.signatures import verify_signatures
from shared.mail.resolver import Resolver


def authenticate(resolver: Resolver, message: bytes, *, ip: str, helo: str, return_path: str) -> tuple[AuthReport, Author]:
    """`message` as it arrived (CRLF lines, before we add anything); `return_path` "" for <>."""
    spf = check_spf(resolver, ip=ip, return_path=return_path, helo=helo)
    signatures = verify_signatures(resolver, message)
    author = author_of(message)
    if author.ambiguous:
        result = DmarcResult(PERMERROR, "")
    elif author.domains:
        result = min((dmarc.evaluate(resolver, domain, spf, signatures) for domain in author.domains), key=_severity)
    else:
        result = DmarcResult(NONE, "")
    return AuthReport(spf, signatures, result, verify_chain(resolver, message)), author


def _severity(result: DmarcResult) -> int:
    """Lower is stricter: of several authors' results, the strictest is the message's (RFC 7489 §6.6.1)."""
    if result.result == FAIL:
        return _POLICY_SEVERITY.get(result.policy or "none", 2)
    return _RESULT_SEVERITY.get(result.result, _RESULT_SEVERITY[NONE])


_POLICY_SEVERITY = {"reject": 0, "quarantine": 1, "none": 2}
_RESULT_SEVERITY = {TEMPERROR: 3, PERMERROR: 4, NONE: 5, PASS: 6}
