"""Password hashing: argon2 for new hashes, Dovecot-style legacy hashes verified and upgraded."""
from __future__ import annotations

import functools

import bcrypt
import pytest
from argon2 import PasswordHasher
from passlib.hash import sha512_crypt

from shared import passwords
from shared.passwords import hash_password, is_importable_hash, verify_password

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
    real_verify = passwords.CONTEXT.verify

    def spy(secret: str, stored: str, **kwargs: object) -> bool:
        checked.append(stored)
        return real_verify(secret, stored, **kwargs)

    monkeypatch.setattr(passwords.CONTEXT, "verify", spy)
    assert verify_password(PASSWORD, None) == (False, None)
    assert checked == [passwords.DUMMY_HASH]
    assert verify_password(PASSWORD, "garbage") == (False, None)
    assert checked == [passwords.DUMMY_HASH, passwords.DUMMY_HASH]
