"""The TLS pair: the configured one, or a self-signed one made once, also under a start-up race."""
from __future__ import annotations

import dataclasses
import multiprocessing
import ssl
import threading
from pathlib import Path
from typing import Any

from conftest import base_settings
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared.config import Settings
from shared.runtime.tls import ensure_tls_pair, server_ssl_context


def make_settings(tmp_path: Path) -> Settings:
    return base_settings(tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'unused.db'}")


def assert_matching_pair(cert_path: Path, key_path: Path, hostname: str) -> None:
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert hostname in names.get_values_for_type(x509.DNSName)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)  # refuses a key that does not match


def test_self_signed_pair_is_made_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    cert_path, key_path = ensure_tls_pair(settings)
    assert cert_path.parent == settings.data_dir / "tls"
    assert_matching_pair(cert_path, key_path, settings.hostname)
    assert key_path.stat().st_mode & 0o077 == 0
    first = (cert_path.read_bytes(), key_path.read_bytes())
    assert ensure_tls_pair(settings) == (cert_path, key_path)
    assert (cert_path.read_bytes(), key_path.read_bytes()) == first
    assert sorted(p.name for p in cert_path.parent.iterdir()) == ["cert.pem", "key.pem"]


def test_configured_pair_is_used_as_it_is(tmp_path: Path) -> None:
    made = ensure_tls_pair(make_settings(tmp_path / "elsewhere"))
    settings = dataclasses.replace(make_settings(tmp_path), tls_cert=made[0], tls_key=made[1])
    assert ensure_tls_pair(settings) == made
    assert not (settings.data_dir / "tls").exists()
    assert server_ssl_context(settings).minimum_version >= ssl.TLSVersion.TLSv1_2


def _make_pair(settings: Settings, start: Any, results: Any) -> None:
    start.wait(timeout=30)
    try:
        cert, key = ensure_tls_pair(settings)
        results.put((str(cert), str(key), cert.read_bytes(), key.read_bytes()))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        results.put(repr(exc))


def test_services_starting_together_end_with_one_matching_pair(tmp_path: Path) -> None:
    """Three processes and three threads (services in one process share a pid) race to make the pair."""
    settings = make_settings(tmp_path)
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(6), context.Queue()
    workers: list[Any] = [context.Process(target=_make_pair, args=(settings, start, results)) for _ in range(3)]
    workers += [threading.Thread(target=_make_pair, args=(settings, start, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert all(getattr(worker, "exitcode", 0) == 0 for worker in workers)
    assert len(set(outcomes)) == 1, f"every racer must see the same pair: {set(outcomes)}"
    cert_path, key_path = ensure_tls_pair(settings)
    assert outcomes[0][2:] == (cert_path.read_bytes(), key_path.read_bytes())
    assert_matching_pair(cert_path, key_path, settings.hostname)
    assert sorted(p.name for p in cert_path.parent.iterdir()) == ["cert.pem", "key.pem"]
