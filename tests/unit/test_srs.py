"""Reading SRS addresses back (shared.mail.srs.original_address), against addresses written
from the spec by the tests' own minting (integration.smtp.support.mint_srs0), not by srslib."""

from __future__ import annotations

from pathlib import Path

import pytest
import srslib  # type: ignore[import-untyped]
from conftest import base_settings
from integration.smtp.support import mint_srs0

from shared.config import Settings
from shared.errors import InvalidAddress
from shared.mail import srs

HOSTED, OTHER = "hosted.example", "second.example"
ORIGINAL = "Origin.Name@remote.example"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return base_settings(tmp_path)


def test_an_address_written_per_the_spec_leads_back_to_its_sender(settings: Settings) -> None:
    address = mint_srs0(settings, HOSTED, ORIGINAL)
    assert address.startswith("SRS0=") and address.endswith("=remote.example=Origin.Name@hosted.example")
    assert srs.original_address(settings, address, HOSTED) == ORIGINAL


def test_the_hash_is_compared_without_case_as_libsrs2_does(settings: Settings) -> None:
    """Some MTAs lower-case local parts on the way back; the original keeps its domain lower-cased."""
    address = mint_srs0(settings, HOSTED, ORIGINAL)
    assert srs.original_address(settings, address.lower(), HOSTED) == ORIGINAL.lower()
    assert srs.original_address(settings, address.upper(), HOSTED) == "ORIGIN.NAME@remote.example"


def test_addresses_older_than_21_days_are_refused(settings: Settings) -> None:
    assert srs.original_address(settings, mint_srs0(settings, HOSTED, ORIGINAL, days_ago=20), HOSTED) == ORIGINAL
    with pytest.raises(InvalidAddress):
        srs.original_address(settings, mint_srs0(settings, HOSTED, ORIGINAL, days_ago=21), HOSTED)


def test_a_shortened_hash_is_refused_although_srslib_alone_accepts_it(settings: Settings) -> None:
    short = mint_srs0(settings, HOSTED, ORIGINAL, hash_length=1)
    library = srslib.SRS(srs.domain_key(settings, HOSTED), validity_days=srs.MAX_AGE_DAYS)
    assert library.reverse(short) == ORIGINAL  # why shared.mail.srs checks the length itself
    with pytest.raises(InvalidAddress, match="length"):
        srs.original_address(settings, short, HOSTED)
    with pytest.raises(InvalidAddress):
        srs.original_address(settings, mint_srs0(settings, HOSTED, ORIGINAL, hash_length=5), HOSTED)


def test_an_address_written_for_one_domain_is_refused_at_another(settings: Settings) -> None:
    for_other = mint_srs0(settings, OTHER, ORIGINAL)
    assert srs.original_address(settings, for_other, OTHER) == ORIGINAL
    with pytest.raises(InvalidAddress):
        srs.original_address(settings, for_other.replace(OTHER, HOSTED), HOSTED)


def test_the_key_depends_on_the_secret_and_is_not_the_secret(tmp_path: Path, settings: Settings) -> None:
    rotated = base_settings(tmp_path, secret_key="another-secret")
    assert srs.domain_key(settings, HOSTED) != srs.domain_key(rotated, HOSTED)
    assert settings.secret_key.encode() not in srs.domain_key(settings, HOSTED)
    with pytest.raises(InvalidAddress):
        srs.original_address(rotated, mint_srs0(settings, HOSTED, ORIGINAL), HOSTED)


@pytest.mark.parametrize(
    "original",
    [
        f"{'a' * 65}@remote.example",  # a local part longer than RFC 5321 allows
        f"x@{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 50}.example",  # the whole address over the 254-octet path
        "x@evil.example@remote.example",  # an `@` that would change where the bounce goes
        "x@remote..example",
    ],
)
def test_what_a_valid_hash_decodes_to_is_still_checked(settings: Settings, original: str) -> None:
    with pytest.raises(InvalidAddress):
        srs.original_address(settings, mint_srs0(settings, HOSTED, original), HOSTED)


@pytest.mark.parametrize(
    "address",
    ["SRS0=@hosted.example", "SRS0==AB=remote.example=x@hosted.example", "SRS0=abcd=AB@hosted.example", "SRS2=abcd=AB=r.example=x@hosted.example"],
)
def test_malformed_srs_addresses_are_refused(settings: Settings, address: str) -> None:
    with pytest.raises(InvalidAddress):
        srs.original_address(settings, address, HOSTED)
