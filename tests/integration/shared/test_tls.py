"""The TLS pair: the configured one, or a self-signed one made once, also under a start-up race;
and the contexts serving it, which load a changed pair without a restart."""
from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

from conftest import base_settings
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared.config import Settings
from shared.runtime.tls import ServedCertificate, ensure_tls_pair, server_ssl_context, watch_pair, write_private


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


def served_serial(context: ssl.SSLContext) -> int:
    """The serial a client is shown by a server handshake with `context`, over a socket pair."""
    server_side, client_side = socket.socketpair()
    client = ssl.create_default_context()
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    found: list[bytes | None] = []
    with server_side, client_side:
        shaking = threading.Thread(target=lambda: _server_handshake(context, server_side))
        shaking.start()
        with client.wrap_socket(client_side, server_hostname="mx.test.example") as tls:
            found.append(tls.getpeercert(binary_form=True))
        shaking.join(5)
    assert found[0] is not None
    return x509.load_der_x509_certificate(found[0]).serial_number


def _server_handshake(context: ssl.SSLContext, sock: socket.socket) -> None:
    # The client hangs up once it has read the certificate: that ends the handshake either way.
    with contextlib.suppress(ssl.SSLError, OSError):
        context.wrap_socket(sock, server_side=True).close()


def replace_pair(folder: Path, target: tuple[Path, Path]) -> int:
    """Write a new self-signed pair over `target` (key first), as a renewal does; its serial."""
    cert, key = ensure_tls_pair(make_settings(folder))
    write_private(target[1], key.read_bytes())
    write_private(target[0], cert.read_bytes())
    return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number


def test_a_changed_pair_is_loaded_into_the_same_context(tmp_path: Path) -> None:
    pair = ensure_tls_pair(make_settings(tmp_path / "a"))
    served = ServedCertificate(*pair)
    context = served.context
    first = served_serial(context)
    assert served.refresh() is False  # nothing changed
    second = replace_pair(tmp_path / "b", pair)
    assert served.refresh() is True and served.context is context
    assert served_serial(context) == second != first


def test_a_half_written_pair_keeps_the_last_good_certificate(tmp_path: Path) -> None:
    pair = ensure_tls_pair(make_settings(tmp_path / "a"))
    served = ServedCertificate(*pair)
    first = served_serial(served.context)
    other_cert, other_key = ensure_tls_pair(make_settings(tmp_path / "b"))
    write_private(pair[0], other_cert.read_bytes())  # the certificate, its key not yet
    assert served.refresh() is False
    assert served_serial(served.context) == first
    write_private(pair[1], other_key.read_bytes())
    assert served.refresh() is True
    assert served_serial(served.context) == x509.load_pem_x509_certificate(other_cert.read_bytes()).serial_number


def test_threaded_servers_get_a_new_context_and_the_old_one_stays_as_it_was(tmp_path: Path) -> None:
    pair = ensure_tls_pair(make_settings(tmp_path / "a"))
    served = ServedCertificate(*pair)
    old = served.current()
    first = served_serial(old)
    second = replace_pair(tmp_path / "b", pair)
    new = served.current()
    assert new is not old and served.current() is new
    assert (served_serial(old), served_serial(new)) == (first, second)


def test_a_pair_watcher_calls_back_on_a_change_and_not_otherwise(tmp_path: Path) -> None:
    pair = ensure_tls_pair(make_settings(tmp_path / "a"))
    changes: list[int] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_pair, args=(*pair, lambda: changes.append(1), stop, 0.05))
    watcher.start()
    try:
        time.sleep(0.2)
        assert changes == []
        replace_pair(tmp_path / "b", pair)
        deadline = time.monotonic() + 5
        while not changes and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        seen = len(changes)  # one, or two when it looked between the key and the certificate
        time.sleep(0.3)
        assert 1 <= seen <= 2 and len(changes) == seen
    finally:
        stop.set()
        watcher.join(5)
