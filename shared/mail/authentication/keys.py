"""How dkimpy gets and reads DKIM keys (and ARC seals' keys): the TXT lookup it calls, answered
by the suite's resolver; each key record parsed once; RSA signatures checked by OpenSSL.

dkimpy parses the key record (base64, its own ASN.1 reader) for every signature it verifies,
and checks RSA in Python (`pow` and byte-at-a-time conversions): most of what a check costs
at the MX. It has no hook for either, so we replace the two module-level functions its
verifier calls, as sender_policy does for pyspf's lookup, and keep everything else of dkimpy
(canonicalisation, header and body hashes, tag checks, the minimum key size):

- `load_pk_from_dns` still asks the lookup dkimpy is given (our TTL-cached resolver) for the
  record, then parses it through a cache keyed by its name and text: a key published anew at
  the same selector is a new text, parsed once the resolver's answer changes.
- RSA keys that parse as dkimpy reads them become an `OpenSslRsaKey` (still dkimpy's dict, so
  anything else reading it sees what it expects); `RSASSA_PKCS1_v1_5_verify` checks those with
  `cryptography` and hands any other key to dkimpy's own code.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import dkim  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from shared.mail.resolver import DnsFailure, Resolver

KEY_LOOKUP_TIME = 5.0
# s= and d= come from the message: a name they make that is no DNS name is a bad signature,
# not a lookup that failed (which would make it a temperror, and a forger's mail deferred).
_DNS_NAME = re.compile(rb"(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{1,63}\.?")


class KeyLookupFailed(Exception):
    """The key could not be looked up (DNS trouble): a temporary error, not a bad signature."""


def key_lookup(resolver: Resolver) -> Callable[..., bytes | None]:
    """A dkimpy `dnsfunc`: the key record's text, None when there is none."""

    def lookup(name: bytes, timeout: float = KEY_LOOKUP_TIME) -> bytes | None:
        if not _DNS_NAME.fullmatch(name):
            return None
        try:
            records = resolver.txt(name.decode("ascii", "replace"), lifetime=min(timeout, KEY_LOOKUP_TIME))
        except DnsFailure as failure:
            raise KeyLookupFailed(str(failure)) from None
        return records[0].encode("utf-8") if records else None

    return lookup


# Distinct key records kept parsed; a sender with many selectors, or a forger publishing a key
# per message, only pushes older ones out.
KEY_CACHE_SIZE = 512
# Smaller keys stay with dkimpy: it refuses them anyway (minkey), and a digest too large for a
# tiny modulus is its KeyFormatError (permerror), which OpenSSL would report as a bad signature.
_OPENSSL_MIN_BITS = 1024
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}

_library_evaluate_pk = dkim.evaluate_pk
_library_verify = dkim.RSASSA_PKCS1_v1_5_verify


class OpenSslRsaKey(dict[str, int]):
    """dkimpy's RSA key (`modulus`, `publicExponent`) with the same key loaded in OpenSSL."""

    def __init__(self, numbers: dict[str, int], key: rsa.RSAPublicKey) -> None:
        super().__init__(numbers)
        self.key = key


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def parse_key_record(name: bytes, record: bytes | str | None) -> tuple[Any, int | None, bytes | None, bool]:
    """dkimpy's reading of the key record at `name` (key, size in bits, k=, whether s=tlsrpt),
    RSA keys loaded in OpenSSL. Raises what dkimpy raises for a bad record (never cached)."""
    key, size, kind, tlsrpt = _library_evaluate_pk(name, record)
    if kind == b"rsa" and size is not None and size >= _OPENSSL_MIN_BITS:
        try:
            loaded = rsa.RSAPublicNumbers(key["publicExponent"], key["modulus"]).public_key()
        except ValueError:  # OpenSSL refuses the numbers (even exponent, ...): dkimpy decides
            return key, size, kind, tlsrpt
        key = OpenSslRsaKey(key, loaded)
    return key, size, kind, tlsrpt


def load_pk_from_dns(name: bytes, dnsfunc: Callable[..., Any], timeout: float = 5) -> tuple[Any, ...]:
    return parse_key_record(name, dnsfunc(name, timeout=timeout))


def verify_rsa(digest: Any, signature: bytes, key: Any) -> bool:
    """dkimpy's RSASSA-PKCS1-v1_5 verification (`digest`: its hash object), by OpenSSL when
    the key was loaded there and the hash is one we map."""
    algorithm = _HASHES.get(digest.name)
    if not isinstance(key, OpenSslRsaKey) or algorithm is None:
        return _library_verify(digest, signature, key)  # type: ignore[no-any-return]
    try:
        key.key.verify(signature, digest.digest(), padding.PKCS1v15(), Prehashed(algorithm()))
    except InvalidSignature:
        return False
    return True


dkim.load_pk_from_dns = load_pk_from_dns
dkim.RSASSA_PKCS1_v1_5_verify = verify_rsa
