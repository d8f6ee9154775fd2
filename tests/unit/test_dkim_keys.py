"""dkimpy's key parsing cache and OpenSSL verification (shared.mail.authentication.keys): the
same verdicts as dkimpy's own code, a key republished at the same selector is used as soon as
the answer changes, and the cache stays bounded. No sockets: dkimpy is given the key record
through its own `dnsfunc` interface, the way our resolver's answer reaches it."""
from __future__ import annotations

import base64
import functools
import subprocess

import dkim
import nacl.signing
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.mail.authentication import keys
from tests.conftest import require_programs

SELECTOR, DOMAIN = b"sel", b"example.org"
MESSAGE = b"From: <a@example.org>\r\nTo: <b@example.net>\r\nSubject: keys\r\n\r\nHello.\r\n"


@functools.cache
def rsa_key(bits: int, number: int = 0) -> tuple[bytes, bytes]:
    """A private key (PEM) and its key record; `number` tells keys of one size apart."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key_pair(key)


def small_rsa_key() -> tuple[bytes, bytes]:
    """A 512-bit key, which `cryptography` will not make but senders still publish."""
    require_programs("openssl", install_hint="apt-get install openssl")
    pem = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512"], capture_output=True, check=True
    ).stdout
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key_pair(key)


def key_pair(key: rsa.RSAPrivateKey) -> tuple[bytes, bytes]:
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def signed(private: bytes, content: bytes = MESSAGE, algorithm: bytes = b"rsa-sha256") -> bytes:
    signature = dkim.sign(
        content, SELECTOR, DOMAIN, private, include_headers=[b"from", b"subject"], signature_algorithm=algorithm
    )
    return bytes(signature) + content


def verdict(message: bytes, record: bytes | None) -> bool:
    """dkimpy's verification of the message's signature with `record` published at its selector."""
    published = {SELECTOR + b"._domainkey." + DOMAIN + b".": record}
    return bool(dkim.DKIM(message, minkey=1024).verify(dnsfunc=lambda name, timeout=5: published.get(name)))


@pytest.mark.parametrize("algorithm", [b"rsa-sha256", b"rsa-sha1"])
def test_openssl_gives_dkimpys_verdicts(algorithm: bytes) -> None:
    private, record = rsa_key(2048)
    assert isinstance(keys.parse_key_record(b"name.", record)[0], keys.OpenSslRsaKey)
    good = signed(private, algorithm=algorithm)
    head, _, body = good.partition(b"b=")
    flipped = head + b"b=" + (b"A" if body[:1] != b"A" else b"B") + body[1:]
    assert verdict(good, record)
    assert not verdict(good.replace(b"Subject: keys", b"Subject: kEys!"), record)  # a signed header changed
    assert not verdict(flipped, record)  # the signature's bytes changed
    assert not verdict(good, rsa_key(2048, 1)[1])  # another key at the selector


def test_a_key_republished_at_the_same_selector_is_used_once_the_answer_changes() -> None:
    (old_private, old_record), (new_private, new_record) = rsa_key(2048), rsa_key(2048, 1)
    old_message, new_message = signed(old_private), signed(new_private)
    assert verdict(old_message, old_record) and not verdict(new_message, old_record)
    assert verdict(new_message, new_record) and not verdict(old_message, new_record)


def test_small_and_ed25519_keys_keep_dkimpys_handling() -> None:
    private, record = small_rsa_key()
    assert not isinstance(keys.parse_key_record(b"name.", record)[0], keys.OpenSslRsaKey)
    with pytest.raises(dkim.KeyFormatError):  # below minkey: dkimpy's error, as before (a permerror)
        verdict(signed(private), record)
    seed = nacl.signing.SigningKey.generate()
    ed_record = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(seed.verify_key))
    assert verdict(signed(base64.b64encode(bytes(seed)), algorithm=b"ed25519-sha256"), ed_record)


def test_a_missing_or_broken_record_is_dkimpys_key_error_and_never_cached() -> None:
    before = keys.parse_key_record.cache_info().currsize
    for record in (None, b"v=DKIM1; k=rsa; p=bm90IGEga2V5"):
        with pytest.raises(dkim.KeyFormatError):
            keys.load_pk_from_dns(b"broken.", lambda name, timeout=5, record=record: record)
    assert keys.parse_key_record.cache_info().currsize == before


def test_the_cache_is_bounded_and_drops_the_oldest() -> None:
    record = rsa_key(2048)[1]
    names = [f"s{number}._domainkey.example.org.".encode() for number in range(keys.KEY_CACHE_SIZE + 10)]
    for name in names:
        keys.parse_key_record(name, record)
    info = keys.parse_key_record.cache_info()
    assert info.currsize == info.maxsize == keys.KEY_CACHE_SIZE
    keys.parse_key_record(names[-1], record)
    assert keys.parse_key_record.cache_info().hits == info.hits + 1
    keys.parse_key_record(names[0], record)
    assert keys.parse_key_record.cache_info().misses == info.misses + 1
