"""Password hashing: argon2 for new hashes; Dovecot-style legacy hashes verified and upgraded.

Imported Dovecot hashes carry a scheme prefix (`{SHA512-CRYPT}$6$…`, `{BLF-CRYPT}$2y$…`,
`{ARGON2ID}$argon2id$…`); the prefix is dropped and passlib identifies the rest.

passlib (with argon2-cffi) makes every hash and decides when one needs replacing; libsodium
(PyNaCl), the library Dovecot uses, checks the argon2id hashes it can compute (parallelism 1:
ours and most imported ones), in well under half of argon2-cffi's CPU: the check is a login's
largest cost, and each POP3 or SMTP AUTH login pays it (figures in bench/RESULTS.md).
"""
from __future__ import annotations

import functools
import re

import nacl.exceptions
import nacl.pwhash
import nacl.pwhash.argon2id
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
_SODIUM_ARGON2ID = re.compile(r"\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$")
# Verified against when the user does not exist, so that costs the same as a wrong password. A
# literal with CONTEXT's parameters (a test keeps them equal): hashing it at import cost every
# process that imports the accounts, each `beaconmail` command included, an argon2 run.
DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$TonxnpPSGuM8x1hrjbF27g$EqPrzgPjzZJkeX6boaw4Kamln/Fz5NKvUrhlY/2nNPw"


@functools.cache
def _common_passwords() -> frozenset[str]:
    # Imported on first use: the list is large, and only setting a password needs it.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common_password(password: str) -> bool:
    """Whether `password` (in any case) is one of the most common passwords, the first that a
    guesser tries."""
    return password.lower() in _common_passwords()


def hash_password(password: str) -> str:
    hashed: str = CONTEXT.hash(password)
    return hashed


def strip_scheme(stored: str) -> str:
    return _DOVECOT_PREFIX.sub("", stored, count=1)


def matches(password: str, hashed: str) -> bool:
    """Whether `password` hashes to `hashed` (no scheme prefix): every check is made here.
    Raises ValueError or TypeError for a hash no library understands."""
    if _SODIUM_ARGON2ID.match(hashed) and len(hashed) <= nacl.pwhash.PWHASH_SIZE:
        try:
            return bool(nacl.pwhash.argon2id.verify(hashed.encode("ascii"), password.encode("utf-8")))
        except nacl.exceptions.InvalidkeyError:  # a wrong password, or a hash libsodium cannot read
            return False
    return bool(CONTEXT.verify(password, hashed))


def verify_password(password: str, stored: str | None) -> tuple[bool, str | None]:
    """(ok, new_hash): new_hash is set when the stored hash should be replaced (caller saves it)."""
    if stored is None:
        matches(password, DUMMY_HASH)
        return False, None
    hashed = strip_scheme(stored)
    try:
        ok = matches(password, hashed)
    except (ValueError, TypeError):
        matches(password, DUMMY_HASH)
        return False, None
    if ok and (hashed != stored or CONTEXT.needs_update(hashed, secret=password)):
        return True, CONTEXT.hash(password)
    return ok, None


def is_importable_hash(stored: str) -> bool:
    return CONTEXT.identify(strip_scheme(stored)) is not None
