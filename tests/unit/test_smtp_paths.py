"""The MAIL/RCPT path parser's shortcut answers exactly as the email package's parser does."""
from __future__ import annotations

import random

import pytest

from services.smtp import protocol
from services.smtp.protocol import parse_path, parse_path_fully

SAMPLES = [
    "<alice@example.com>",
    "<alice@example.com> SIZE=10240",
    "<alice@example.com> SIZE=10240 BODY=8BITMIME ",
    "<alice@example.com>  SMTPUTF8",
    "<alice@example.com> ",
    "<a.b+tag@mx-1.example.co.uk> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b",
    "<first.last!#$%&'*+/=?^_`{|}~-@example.com>",
    "<alice@example.com> (comment) SIZE=1",
    "<alice@example.com>SIZE=1",
    "<alice@example.com>\tSIZE=1",
    "<.alice@example.com>",
    "<alice.@example.com>",
    "<al..ice@example.com>",
    '<"alice smith"@example.com>',
    "<alice@[192.0.2.1]>",
    "<alice@example.com.>",
    "<@relay.example:alice@example.com>",
    "< alice@example.com>",
    " <alice@example.com>",
    "alice@example.com",
    "alice@example.com SIZE=1",
    "<alice@exa_mple.com>",
    "<alice>",
    "<>",
    "<alice@example.com",
    "<alice@example.com>>",
]


@pytest.mark.parametrize("arg", SAMPLES)
def test_the_shortcut_agrees_with_the_parser(arg: str) -> None:
    assert parse_path(arg) == parse_path_fully(arg)


def test_the_shortcut_agrees_with_the_parser_on_random_arguments() -> None:
    pieces = ["<", ">", "@", ".", " ", "a", "B", "0", "-", "_", "(", ")", '"', "SIZE=1", "example", "+", "\t", ":", "[", "]", ",", "\\"]
    generator = random.Random(5321)
    for _ in range(20_000):
        arg = "".join(generator.choice(pieces) for _ in range(generator.randint(1, 14)))
        assert parse_path(arg) == parse_path_fully(arg), arg


def test_common_paths_never_reach_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def parser(arg: str) -> None:
        raise AssertionError(f"the parser was asked about {arg!r}")

    monkeypatch.setattr(protocol, "parse_path_fully", parser)
    assert parse_path("<alice@example.com> SIZE=10240 BODY=8BITMIME") == ("alice@example.com", "SIZE=10240 BODY=8BITMIME")
    assert parse_path("<first.last+tag@mx-1.example.co.uk>") == ("first.last+tag@mx-1.example.co.uk", "")
