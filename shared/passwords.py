"""Password hashing: argon2 for new hashes; Dovecot-style legacy hashes verified and upgraded.

Imported Dovecot hashes carry a scheme prefix (`{SHA512-CRYPT}$6$…`, `{BLF-CRYPT}$2y$…`,
`{ARGON2ID}$argon2id$…`); the prefix is dropped and passlib identifies the rest.
"""
from __future__ import annotations

import re

from passlib.context import CryptContext

CONTEXT = CryptContext(
    schemes=["argon2", "bcrypt", "sha512_crypt", "sha256_crypt"],
    default="argon2",
    deprecated=["bcrypt", "sha512_crypt", "sha256_crypt"],
    # OWASP's argon2id baseline (19 MiB, 2 passes): logins stay cheap enough for SMTP and POP3 bursts.
    argon2__memory_cost=19456,
    argon2__rounds=2,
    argon2__parallelism=1,
)
_DOVECOT_PREFIX = re.compile(r"^\{[A-Z0-9.-]+\}")
# Verified against when the user does not exist, so that costs the same as a wrong password.
DUMMY_HASH = CONTEXT.hash("beaconmail-dummy-password")


def hash_password(password: str) -> str:
    return CONTEXT.hash(password)


def strip_scheme(stored: str) -> str:
    return _DOVECOT_PREFIX.sub("", stored, count=1)


def verify_password(password: str, stored: str | None) -> tuple[bool, str | None]:
    """(ok, new_hash): new_hash is set when the stored hash should be replaced (caller saves it)."""
    if stored is None:
        CONTEXT.verify(password, DUMMY_HASH)
        return False, None
    try:
        ok, new_hash = CONTEXT.verify_and_update(password, strip_scheme(stored))
    except (ValueError, TypeError):
        CONTEXT.verify(password, DUMMY_HASH)
        return False, None
    if ok and new_hash is None and stored != strip_scheme(stored):
        new_hash = CONTEXT.hash(password)
    return bool(ok), new_hash


def is_importable_hash(stored: str) -> bool:
    return CONTEXT.identify(strip_scheme(stored)) is not None
