"""The send API's two message writers agree: whatever the direct writer for plain text-only
requests (`write_plain`) accepts, it writes byte for byte as EmailMessage (`write_mime`) does,
and whatever it passes on, `compose` writes through EmailMessage. Neither lets a header value
carry a line break into the header section."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from shared.mail.composition import MAX_LINE, Draft, FieldError, compose, write_mime, write_plain

MESSAGE_ID = "<0123456789abcdef0123456789abcdef@mail.alpha.example>"
DATE = "Sun, 06 Dec 2026 21:51:46 +0000"
BENCH_TEXT = ("x" * 76 + "\n") * 133
BENCH = Draft(author="user0@alpha.example", to=("user1@alpha.example",), subject="bench", text=BENCH_TEXT)

# Characters chosen to reach every branch of both writers: ASCII that needs quoting or looks
# like syntax, line breaks of every kind, non-ASCII (Chinese, a combining mark, U+2028).
TRICKY = "aZ09 .,:;<>@\"()\\=?_-\t\r\n\x00\x0b\x0c\x85\u2028é中文\u0301"
texts = st.text(alphabet=st.sampled_from(TRICKY), max_size=40) | st.text(max_size=20)
addresses = st.sampled_from([
    "a@alpha.example", "b.c+d@beta.example", "Ann Lee <a@alpha.example>", "\"Lee, Ann\" <a@alpha.example>",
    "李 <li@alpha.example>", "a@bücher.example", "x (comment) <x@alpha.example>", "=?utf-8?q?x?= <x@alpha.example>",
    "a." * 30 + "a@alpha.example", "Very Long Display Name Of Someone Important <someone.important@alpha.example>",
]) | texts
bodies = (
    st.text(alphabet=st.sampled_from("x .\r\nF\tom中é"), max_size=300)
    | st.lists(st.sampled_from(["From me", ".", "..", "", "x" * 78, "x" * 79, "x" * 998, "x" * 999, "é", " "]), max_size=6)
    .map("\n".join)
    | st.just(BENCH_TEXT)
)
drafts = st.builds(
    Draft,
    author=addresses,
    to=st.lists(addresses, min_size=1, max_size=3).map(tuple),
    cc=st.lists(addresses, max_size=2).map(tuple),
    subject=texts | st.sampled_from(["bench", "", " lead", "two  spaces", "=?utf-8?q?caf=C3=A9?=", "x" * 70, "报告"]),
    text=bodies,
    html=st.none() | st.just("<p>hi</p>"),
    headers=st.lists(st.tuples(st.sampled_from(["X-Tag", "Reply-To", "List-Id"]), texts), max_size=2, unique_by=lambda h: h[0])
    .map(tuple),
)

# Drafts on the direct writer's border: ASCII values with and without what needs quoting,
# folding or encoding, text with lines either side of the 78-character limit.
ascii_values = st.text(alphabet=st.sampled_from("aZ09 .,:;<>@\"()\\=?_-+!~"), min_size=1, max_size=80)
plain_addresses = st.sampled_from(["a@alpha.example", "b.c+d@beta.example", "Ann Lee <a@alpha.example>", "x@y"])
near_plain_drafts = st.builds(
    Draft,
    author=plain_addresses | ascii_values,
    to=st.lists(plain_addresses, min_size=1, max_size=4).map(tuple),
    cc=st.lists(plain_addresses | ascii_values, max_size=2).map(tuple),
    subject=ascii_values,
    text=st.lists(st.integers(min_value=0, max_value=80).map(lambda n: "x" * n), max_size=5).map("\n".join),
)

zones = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)).map(timezone)


def header_section(message: bytes) -> list[bytes]:
    return message.partition(b"\r\n\r\n")[0].split(b"\r\n")


def test_the_bench_message_takes_the_direct_writer_and_reads_the_same() -> None:
    plain = write_plain(BENCH, date=DATE, message_id=MESSAGE_ID)
    assert plain is not None
    assert plain == write_mime(BENCH, date=DATE, message_id=MESSAGE_ID)
    parsed = message_from_bytes(plain, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert (parsed["To"], parsed["Subject"], parsed["Content-Transfer-Encoding"]) == ("user1@alpha.example", "bench", "7bit")
    assert parsed.get_content().splitlines() == BENCH_TEXT.splitlines()


def test_the_line_limit_is_the_smtp_policys() -> None:
    assert policy.SMTP.max_line_length == MAX_LINE


@pytest.mark.parametrize("draft", [
    Draft(author="a@alpha.example", to=("b@alpha.example",), subject="x", text="long " * 16),
    Draft(author="a@alpha.example", to=("b@alpha.example",), subject="x", text="中文"),
    Draft(author="a@alpha.example", to=("b@alpha.example",), subject="中文", text="x"),
    Draft(author="a@alpha.example", to=("b@alpha.example",), subject="=?utf-8?q?x?=", text="x"),
    Draft(author="a@alpha.example", to=("b@alpha.example",), subject="", text="x"),
    Draft(author="\"A\" <a@alpha.example>", to=("b@alpha.example",), subject="x", text="x"),
    Draft(author="a@alpha.example", to=("b@alpha.example",), subject="x", text="x", headers=(("X-Tag", "t"),)),
    Draft(author="a@alpha.example", to=("b@alpha.example",), subject="x", text="x", html="<p>x</p>"),
    Draft(author="a@alpha.example", to=("b@alpha.example",), subject="x" * 70, text="x"),
])
def test_what_needs_encoding_quoting_or_folding_is_left_to_email_message(draft: Draft) -> None:
    assert write_plain(draft, date=DATE, message_id=MESSAGE_ID) is None


@settings(max_examples=400, deadline=None)
@given(drafts | near_plain_drafts, st.datetimes(timezones=zones) | st.datetimes(min_value=datetime(1970, 1, 1), timezones=zones))
@example(BENCH, datetime(2026, 12, 6, 21, 51, 46, tzinfo=timezone.utc))
def test_both_writers_write_the_same_message_and_no_value_breaks_a_line(draft: Draft, now: datetime) -> None:
    date = format_datetime(now)
    try:
        reference = write_mime(draft, date=date, message_id=MESSAGE_ID)
    except FieldError:
        event("refused")
        with pytest.raises(FieldError):
            compose(draft, hostname="mail.alpha.example", now=now)
        return
    plain = write_plain(draft, date=date, message_id=MESSAGE_ID)
    event("direct writer" if plain is not None else "EmailMessage only")
    if plain is not None:
        assert plain == reference
    for line in header_section(reference):
        assert line[:1].isspace() or b":" in line, line
    parsed = message_from_bytes(reference, policy=policy.default)
    expected_fields = 5 + bool(draft.cc) + len(draft.headers)
    assert len([name for name in parsed if name not in {"Content-Type", "Content-Transfer-Encoding", "MIME-Version"}]) == expected_fields
    assert str(parsed["Message-ID"]) == MESSAGE_ID
    assert not parsed.defects


@settings(max_examples=200, deadline=None)
@given(drafts.filter(lambda draft: draft.html is None and not draft.headers))
def test_text_reads_back_as_sent(draft: Draft) -> None:
    try:
        message = compose(draft, hostname="mail.alpha.example", now=datetime(2026, 12, 6, tzinfo=timezone.utc))
    except FieldError:
        return
    parsed = message_from_bytes(message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed["Content-Transfer-Encoding"] in {"7bit", "8bit", "quoted-printable", "base64"}
    assert all(len(line) <= 998 for line in message.split(b"\r\n"))
    if "=?" not in draft.subject:  # EmailMessage decodes encoded words a client sent as text
        assert parsed["Subject"].split() == draft.subject.split()
    sent_lines = draft.text.encode("utf-8").splitlines() if draft.text else []
    assert parsed.get_content().encode("utf-8").splitlines() == (sent_lines or [b""])
