"""Submission completes a message (RFC 6409 §8.2, §8.3): a missing Date or Message-ID is added
in front, nothing else changes."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email import message_from_bytes
from email.utils import parsedate_to_datetime

import pytest

from shared.mail.completion import complete_submission

NOW = datetime(2024, 11, 26, 13, 5, 9, tzinfo=timezone.utc)
HOST = "mx.hosted.example"
MESSAGE_ID = re.compile(rb"Message-ID: <([0-9a-f]{32})@mx\.hosted\.example>\r\n")


def complete(message: bytes) -> bytes:
    return complete_submission(message, hostname=HOST, now=NOW)


@pytest.mark.parametrize(
    "message",
    [
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a@b>\r\nSubject: x\r\n\r\nbody\r\n",
        b"subject: x\r\nmessage-id: <a@b>\r\nDATE: whatever the client wrote\r\n\r\nbody\r\n",
        b"Date:\r\n Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-Id:\r\n\t<a@b>\r\n\r\n",
        b"Message-ID: <a@b>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n",
    ],
    ids=["plain", "any case", "folded", "no body"],
)
def test_a_message_with_both_fields_is_kept_byte_for_byte(message: bytes) -> None:
    assert complete(message) == message


def test_a_missing_date_is_added_in_rfc_5322_form() -> None:
    message = b"Message-ID: <a@b>\r\nSubject: x\r\n\r\nbody\r\n"
    completed = complete(message)
    assert completed == b"Date: Tue, 26 Nov 2024 13:05:09 +0000\r\n" + message
    assert parsedate_to_datetime(message_from_bytes(completed)["Date"]) == NOW


def test_a_missing_message_id_is_unique_and_names_our_host() -> None:
    message = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: x\r\n\r\nbody\r\n"
    first, second = complete(message), complete(message)
    found = [MESSAGE_ID.match(completed) for completed in (first, second)]
    assert found[0] and found[1]
    assert first[found[0].end() :] == second[found[1].end() :] == message
    assert found[0].group(1) != found[1].group(1)


def test_both_are_added_and_fields_in_the_body_do_not_count() -> None:
    message = b"Subject: x\r\n\r\nDate: in the body\r\nMessage-ID: <in@body>\r\n"
    completed = complete(message)
    header = message_from_bytes(completed)
    assert header["Date"] == "Tue, 26 Nov 2024 13:05:09 +0000"
    assert MESSAGE_ID.search(completed)
    assert completed.endswith(message)


def test_a_message_without_a_header_section_keeps_its_text_in_the_body() -> None:
    completed = complete(b"just a line of text\r\n")
    parsed = message_from_bytes(completed)
    assert parsed["Date"] and parsed["Message-ID"]
    assert parsed.get_payload() == "just a line of text\r\n"
    assert completed.endswith(b"\r\n\r\njust a line of text\r\n")


def test_an_empty_header_section_gets_the_fields_before_its_blank_line() -> None:
    completed = complete(b"\r\nbody only\r\n")
    assert completed.endswith(b">\r\n\r\nbody only\r\n")
    assert message_from_bytes(completed).get_payload() == "body only\r\n"
