"""A message's summary from its header section: decoded, bounded, and never an error."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.mail.summaries import MAX_SHOWN, summarise

STORED_AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).timestamp()
CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def test_fields_are_decoded() -> None:
    head = (
        b"Date: Mon, 30 Nov 2026 23:30:00 -0500\r\nFrom: =?gb2312?b?1cXI/Q==?= <zhang@example.cn>\r\n"
        b"Subject: =?utf-8?b?5Lit5paH?=\r\n =?utf-8?q?_and_more?=\r\nX-Spam-Score: -0.25\r\n"
        b"X-Spam-Reasons: R_SPF_FAIL,\r\n  DMARC quarantine, ,\r\n"
    )
    summary = summarise(head, STORED_AT)
    assert summary.date == datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
    assert summary.sender == "张三 <zhang@example.cn>" and summary.subject == "中文 and more"
    assert summary.spam_score == -0.25 and summary.spam_reasons == ("R_SPF_FAIL", "DMARC quarantine")


def test_missing_fields_read_as_empty_and_the_date_as_stored() -> None:
    summary = summarise(b"", STORED_AT)
    assert (summary.sender, summary.subject, summary.spam_score, summary.spam_reasons) == ("", "", None, ())
    assert summary.date == datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "head",
    [
        b"Date: yesterday-ish\r\nX-Spam-Score: lots\r\n",
        b"Date: Mon, 99 Foo 2026 99:99:99 +9999\r\nX-Spam-Score: nan\r\n",
        b"X-Spam-Score: inf\r\nSubject: =?x-unknown?q?abc?=\r\n",
        b"Subject: =?utf-8?b?broken base64?=\r\nFrom: \xff\xfe raw bytes\r\n",
        b"no colon here\r\n\x00\x01\r\n",
    ],
)
def test_malformed_fields_never_raise(head: bytes) -> None:
    summary = summarise(head, STORED_AT)
    assert summary.spam_score is None and summary.date == datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert summary.subject.isprintable() and summary.sender.isprintable()


def test_control_characters_and_length_are_bounded() -> None:
    summary = summarise(b"Subject: =?utf-8?q?a=0Db=1Bc?=" + b"x" * 5000 + b"\r\n", STORED_AT)
    assert summary.subject.startswith("a\N{REPLACEMENT CHARACTER}b\N{REPLACEMENT CHARACTER}c")
    assert len(summary.subject) == MAX_SHOWN


@pytest.mark.parametrize("eml", sorted(CORPUS.glob("*.eml")), ids=lambda path: path.name[:3])
def test_every_corpus_message_summarises(eml: Path) -> None:
    summary = summarise(eml.read_bytes().split(b"\n\n", 1)[0][:65536], STORED_AT)
    assert summary.subject.isprintable() and summary.sender.isprintable()
