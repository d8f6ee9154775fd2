"""What each check found, in RFC 8601's words (pass, fail, softfail, neutral, none, policy,
temperror, permerror)."""
from __future__ import annotations

from dataclasses import dataclass

PASS, FAIL, NONE, POLICY = "pass", "fail", "none", "policy"
TEMPERROR, PERMERROR = "temperror", "permerror"


@dataclass(frozen=True)
class SpfResult:
    result: str
    domain: str  # the domain checked: the envelope sender's, or the HELO name for the null sender
    helo: bool  # True when `domain` is the HELO name (RFC 7208 §2.3, §2.4)


@dataclass(frozen=True)
class DkimResult:
    result: str
    domain: str  # d=, "" when the signature could not be read
    selector: str  # s=


@dataclass(frozen=True)
class DmarcResult:
    result: str
    domain: str  # the author (From:) domain, "" when the message has no usable one
    policy: str | None = None  # the effective policy of a failing message: none, quarantine, reject
    has_record: bool = False  # the author domain (or its organisational domain) publishes DMARC


@dataclass(frozen=True)
class AuthReport:
    spf: SpfResult
    dkim: tuple[DkimResult, ...]
    dmarc: DmarcResult
    arc: str | None  # None: the message carries no ARC set

    @property
    def dns_failed(self) -> bool:
        results = [self.spf.result, self.dmarc.result, *(d.result for d in self.dkim)]
        return TEMPERROR in results
