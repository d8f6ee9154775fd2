"""The RFC 3834 rule on its own: headers in, a reply or None out."""
from __future__ import annotations

from datetime import date, datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from shared.errors import InvalidValue
from shared.mail.autoreply import Notice, build_reply, checked_notice

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)
AWAY = Notice(True, "Away until Monday", "I am away.\nBack on Monday.", date(2026, 12, 1), date(2026, 12, 14))
ORIGINAL = b"From: Ann <ann@remote.example>\r\nSubject: Lunch?\r\nMessage-ID: <m1@remote.example>\r\n" \
    b"References: <m0@remote.example>\r\n\r\nHi\r\n"


def reply(original: bytes = ORIGINAL, sender: str = "ann@remote.example", notice: Notice = AWAY) -> bytes | None:
    return build_reply(original, envelope_sender=sender, mailbox="me@hosted.example", notice=notice, hostname="mx.test", now=NOW)


def test_reply_follows_rfc_3834() -> None:
    built = reply()
    assert built is not None
    message = message_from_bytes(built, policy=policy.default)
    assert message["Auto-Submitted"] == "auto-replied"
    assert (message["From"], message["To"], message["Subject"]) == ("me@hosted.example", "ann@remote.example", "Away until Monday")
    assert message["In-Reply-To"] == "<m1@remote.example>"
    assert message["References"] == "<m0@remote.example> <m1@remote.example>"
    assert message["Message-ID"].endswith("@mx.test>")
    assert message.get_content().splitlines() == ["I am away.", "Back on Monday."]
    assert b"\r\n" in built and b"\n" not in built.replace(b"\r\n", b"")


def test_empty_subject_answers_with_auto_and_the_original_subject() -> None:
    built = reply(notice=Notice(True, "", "away"))
    assert built is not None and message_from_bytes(built, policy=policy.default)["Subject"] == "Auto: Lunch?"


@pytest.mark.parametrize(
    ("header", "sender"),
    [
        (b"", ""),  # the null sender <>
        (b"Auto-Submitted: auto-generated\r\n", "ann@remote.example"),
        (b"Auto-Submitted: auto-replied; owner-email=x@y\r\n", "ann@remote.example"),
        (b"Precedence: bulk\r\n", "ann@remote.example"),
        (b"Precedence: list\r\n", "ann@remote.example"),
        (b"Precedence: junk\r\n", "ann@remote.example"),
        (b"List-Id: <news.remote.example>\r\n", "ann@remote.example"),
        (b"List-Unsubscribe: <mailto:u@remote.example>\r\n", "ann@remote.example"),
        (b"", "MAILER-DAEMON@remote.example"),
        (b"", "postmaster@remote.example"),
        (b"", "owner-news@remote.example"),
        (b"", "news-request@remote.example"),
        (b"", "noreply@remote.example"),
        (b"", "Me@Hosted.example"),  # the mailbox itself
    ],
)
def test_no_reply(header: bytes, sender: str) -> None:
    assert reply(header + ORIGINAL, sender) is None


def test_auto_submitted_no_is_a_person() -> None:
    assert reply(b"Auto-Submitted: no\r\n" + ORIGINAL) is not None


def test_stored_line_breaks_never_become_headers() -> None:
    built = reply(notice=Notice(True, "Away\r\nBcc: victim@else.example", "x"))
    assert built is not None and b"\r\nBcc:" not in built
    injected = reply(ORIGINAL.replace(b"Subject: Lunch?", b"Subject: =?utf-8?q?a=0D=0ABcc:_v@x?="), notice=Notice(True, "", "x"))
    assert injected is not None and b"\r\nBcc:" not in injected


def test_active_days_are_inclusive() -> None:
    assert AWAY.is_active(date(2026, 12, 1)) and AWAY.is_active(date(2026, 12, 14))
    assert not AWAY.is_active(date(2026, 11, 30)) and not AWAY.is_active(date(2026, 12, 15))
    assert Notice(True, "", "x").is_active(date(2030, 1, 1)) and not Notice(False, "", "x").is_active(date(2026, 12, 7))


@pytest.mark.parametrize(
    "notice",
    [Notice(True, "a\r\nb", "x"), Notice(True, "s", "x", date(2026, 12, 2), date(2026, 12, 1)), Notice(True, "s", " "),
     Notice(False, "s" * 256, "")],
)
def test_invalid_settings_are_refused(notice: Notice) -> None:
    with pytest.raises(InvalidValue):
        checked_notice(notice)


def test_every_corpus_message_gets_a_reply_or_none() -> None:
    for path in sorted((Path(__file__).parents[1] / "corpus").glob("*.eml")):
        built = reply(path.read_bytes(), notice=Notice(True, "", "away"))
        assert built is None or b"Auto-Submitted: auto-replied" in built, path.name
