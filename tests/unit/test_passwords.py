"""Password hashing: argon2 for new hashes, Dovecot-style legacy hashes verified and upgraded."""
from __future__ import annotations

import functools

import bcrypt
import nacl.pwhash.argon2id
import pytest
from argon2 import PasswordHasher
from passlib.hash import sha512_crypt

from shared.accounts import passwords
from shared.accounts.passwords import hash_password, is_importable_hash, verify_password

PASSWORD = "correct horse battery staple"


@functools.cache
def dovecot_hashes() -> dict[str, str]:
    """One hash per imported scheme, at cheap cost parameters, as Dovecot writes them."""
    blf = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return {
        "sha512-crypt": "{SHA512-CRYPT}" + sha512_crypt.using(rounds=5000).hash(PASSWORD),
        "blf-crypt-2y": "{BLF-CRYPT}" + blf.replace("$2b$", "$2y$", 1),
        "blf-crypt-2b": "{BLF-CRYPT}" + blf,
        "bare-bcrypt": blf,
        "argon2id-weak": "{ARGON2ID}" + PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD),
        "argon2id-current": "{ARGON2ID}" + hash_password(PASSWORD),
    }


def test_new_hashes_are_argon2id() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert stored != hash_password(PASSWORD)  # salted
    assert verify_password(PASSWORD, stored) == (True, None)
    assert verify_password("wrong", stored) == (False, None)


@pytest.mark.parametrize("scheme", list(dovecot_hashes()))
def test_dovecot_hash_verifies_and_asks_for_an_argon2_rehash(scheme: str) -> None:
    stored = dovecot_hashes()[scheme]
    assert is_importable_hash(stored)
    ok, new_hash = verify_password(PASSWORD, stored)
    assert ok
    assert new_hash is not None and new_hash.startswith("$argon2id$")
    assert verify_password(PASSWORD, new_hash) == (True, None)


@pytest.mark.parametrize("scheme", list(dovecot_hashes()))
def test_dovecot_hash_refuses_a_wrong_password_without_rehash(scheme: str) -> None:
    assert verify_password("not the password", dovecot_hashes()[scheme]) == (False, None)


@pytest.mark.parametrize("garbage", ["", "plain-text", "{PLAIN}secret", "{SHA512-CRYPT}$6$broken", "$argon2id$v=19$nonsense"])
def test_unusable_stored_hash_fails_closed(garbage: str) -> None:
    assert verify_password(PASSWORD, garbage) == (False, None)


@pytest.mark.parametrize("garbage", ["plain-text", "{PLAIN}secret", "{MD5}abc"])
def test_unknown_schemes_are_not_importable(garbage: str) -> None:
    assert not is_importable_hash(garbage)


def test_unknown_user_verifies_against_the_dummy_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real_matches = passwords.matches

    def spy(secret: str, stored: str) -> bool:
        checked.append(stored)
        return real_matches(secret, stored)

    monkeypatch.setattr(passwords, "matches", spy)
    assert verify_password(PASSWORD, None) == (False, None)
    assert checked == [passwords.DUMMY_HASH]
    assert verify_password(PASSWORD, "garbage") == (False, None)
    assert checked == [passwords.DUMMY_HASH, "garbage", passwords.DUMMY_HASH]  # unreadable: the dummy costs what a hash would


def test_the_dummy_hash_costs_what_a_new_hash_costs() -> None:
    assert not passwords.CONTEXT.needs_update(passwords.DUMMY_HASH)
    assert passwords.matches("beaconmail-dummy-password", passwords.DUMMY_HASH)


def argon2id(parallelism: int = 1, salt_len: int = 16, hash_len: int = 32, password: str = PASSWORD) -> str:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=parallelism, salt_len=salt_len, hash_len=hash_len).hash(password)


@pytest.mark.parametrize(("salt_len", "hash_len"), [(8, 16), (16, 32), (32, 32)])
@pytest.mark.parametrize("password", [PASSWORD, "pässwörd ✓", "x" * 300])
def test_libsodium_checks_argon2id_hashes_of_parallelism_1_as_argon2_cffi_made_them(
    monkeypatch: pytest.MonkeyPatch, salt_len: int, hash_len: int, password: str
) -> None:
    checked_by_libsodium: list[bytes] = []
    real_verify = nacl.pwhash.argon2id.verify

    def spy(hashed: bytes, secret: bytes) -> bool:
        checked_by_libsodium.append(hashed)
        return real_verify(hashed, secret)

    monkeypatch.setattr(nacl.pwhash.argon2id, "verify", spy)
    stored = argon2id(salt_len=salt_len, hash_len=hash_len, password=password)
    assert verify_password(password, stored)[0] is True
    assert verify_password(password + "!", stored) == (False, None)
    assert verify_password(password[:-1], stored) == (False, None)
    assert checked_by_libsodium == [stored.encode()] * 3


@pytest.mark.parametrize(
    "stored",
    [argon2id(parallelism=2), argon2id(salt_len=64, hash_len=64)],  # libsodium computes neither
    ids=["parallelism-2", "longer-than-libsodium-reads"],
)
def test_argon2id_hashes_libsodium_cannot_check_are_checked_by_passlib(stored: str) -> None:
    assert verify_password(PASSWORD, stored)[0] is True
    assert verify_password("not the password", stored) == (False, None)
