"""Address parsing: IDNA domains, case folding, UTF-8 local parts, and what is refused."""
from __future__ import annotations

import unicodedata

import pytest

from shared.errors import InvalidAddress
from shared.mail.addresses import (
    Address,
    normalise_domain,
    parse_address,
    parse_alias_source,
)


def test_plain_address_is_lower_cased() -> None:
    address = parse_address("John.Doe@Example.COM")
    assert address == Address("john.doe", "example.com")
    assert str(address) == "john.doe@example.com"


def test_angle_brackets_and_spaces_are_stripped() -> None:
    assert parse_address("  <a@example.com> ") == Address("a", "example.com")


def test_unicode_domain_becomes_a_label() -> None:
    address = parse_address("info@Bücher.Example")
    assert address.domain == "xn--bcher-kva.example"
    assert address.domain_unicode == "bücher.example"


def test_a_label_and_u_label_are_the_same_address() -> None:
    assert parse_address("ålice@bücher.example") == parse_address("Ålice@XN--BCHER-KVA.example")


def test_trailing_dot_of_domain_is_dropped() -> None:
    assert normalise_domain("Example.com.") == "example.com"


def test_utf8_local_part_is_kept_and_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "José")
    address = parse_address(f"{decomposed}@example.com")
    assert address.local == "josé"
    assert address.local == unicodedata.normalize("NFC", address.local)
    assert parse_address("用户@例子.测试").local == "用户"


def test_local_part_of_64_octets_is_accepted() -> None:
    assert parse_address("a" * 64 + "@example.com").local == "a" * 64
    assert parse_address("é" * 32 + "@example.com").local == "é" * 32


def test_special_atext_characters_are_accepted() -> None:
    assert parse_address("first.last+tag!#$%&'*/=?^_`{|}~-@example.com").local.startswith("first.last+tag")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "no-at-sign",
        "@example.com",
        "user@",
        "user@@example.com",
        "a@b@example.com",
        "a" * 65 + "@example.com",
        "é" * 33 + "@example.com",  # 66 octets in UTF-8
        "user@localhost",
        "user@-bad.example",
        "user@bad-.example",
        "user@under_score.example",
        "user@" + "a" * 64 + ".example",
        "user@exa mple.com",
        "user@example..com",
        "user\x00@example.com",
        "user@exam\x00ple.com",
        "user@[127.0.0.1]",
        "user@[IPv6:::1]",
        "user@127.0.0.1",
        "two words@example.com",
        '"quoted"@example.com',
        ".lead@example.com",
        "trail.@example.com",
        "dou..ble@example.com",
        "semi;colon@example.com",
        "user@example.com>",
    ],
)
def test_invalid_addresses_are_refused(text: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_address(text)


def test_domain_longer_than_255_octets_is_refused() -> None:
    with pytest.raises(InvalidAddress):
        normalise_domain(".".join(["a" * 60] * 5))


def test_alias_source_is_an_address_or_a_catch_all_domain() -> None:
    assert parse_alias_source("Sales@Example.com") == Address("sales", "example.com")
    assert parse_alias_source("@Bücher.example") == "xn--bcher-kva.example"
    with pytest.raises(InvalidAddress):
        parse_alias_source("@")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("exa mple", "it contains a space"),
        ("-x.com", "a label may not start with a hyphen ('-x')"),
        ("x-.com", "a label may not end with a hyphen ('x-')"),
        ("a..example", "it has an empty label (two dots in a row, or a dot first)"),
        (".example.com", "it has an empty label (two dots in a row, or a dot first)"),
        ("a" * 64 + ".com", f"the label '{'a' * 64}' has 64 characters; at most 63 are allowed"),
        ("a_b.example", "it contains the invalid character '_'"),
        ("example.123", "the last label '123' is all digits; a top-level domain is never a number"),
        ("localhost", "it needs at least one dot, as in example.com"),
        ("ab--cd.example", "hyphens in a label's third and fourth places are kept for xn-- names ('ab--cd')"),
        ("[192.0.2.1]", "address literals such as [192.0.2.1] are not accepted"),
        ("", "it is empty"),
        ("☃.example", "not a valid international domain name"),
    ],
)
def test_a_refused_domain_says_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidAddress) as refused:
        normalise_domain(text)
    assert str(refused.value) == f"invalid domain: {text!r}: {reason}"


def test_a_domain_over_253_characters_is_refused_with_its_length() -> None:
    with pytest.raises(InvalidAddress, match=r"^invalid domain: the name is 263 characters long; at most 253 are allowed$"):
        normalise_domain("a." * 130 + "com")
    assert normalise_domain("a." * 125 + "com") == "a." * 125 + "com"  # 253 characters


def test_an_address_with_a_bad_domain_names_the_domain_fault() -> None:
    with pytest.raises(InvalidAddress, match="it contains a space"):
        parse_address("jill@exa mple")
