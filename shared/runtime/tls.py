"""The TLS pair for every listener: the configured one, the one ACME obtained, or a self-signed
one made once; and the contexts that serve it, loaded again when its files change."""
from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import os
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.config import Settings

log = logging.getLogger(__name__)

# How often a listener looks at its pair's files: a renewed or replaced certificate is served
# within this many seconds (the promise is 60), at the cost of two stat() calls.
RELOAD_INTERVAL = 5.0


def tls_folder(settings: Settings) -> Path:
    return settings.data_dir / "tls"


def managed_pair(settings: Settings) -> tuple[Path, Path]:
    """Where the suite keeps the pair it makes: self-signed, then (with ACME) the obtained one."""
    return tls_folder(settings) / "cert.pem", tls_folder(settings) / "key.pem"


def ensure_tls_pair(settings: Settings) -> tuple[Path, Path]:
    if settings.tls_cert is not None and settings.tls_key is not None:
        return settings.tls_cert, settings.tls_key
    cert_path, key_path = managed_pair(settings)
    if not cert_path.exists():
        _make_self_signed(settings.hostname, cert_path, key_path)
    return cert_path, key_path


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` by a file with `data`, readable by its owner alone, in one rename."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _make_self_signed(hostname: str, cert_path: Path, key_path: Path) -> None:
    """Write the pair to private temporary names, then link the key and rename the cert into
    place: the cert appears last, so a process that sees it also sees the matching key."""
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt_names: list[x509.GeneralName] = [x509.DNSName(hostname), x509.DNSName("localhost")]
    alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    suffix = f".{os.getpid()}.{secrets.token_hex(4)}.tmp"  # unique per call: threads share a pid
    tmp_key, tmp_cert = key_path.with_name(key_path.name + suffix), cert_path.with_name(cert_path.name + suffix)
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    tmp_cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    try:
        os.link(tmp_key, key_path)
    except FileExistsError:
        pass  # another process won the race; its cert follows its key
    else:
        os.rename(tmp_cert, cert_path)
    finally:
        tmp_key.unlink(missing_ok=True)
        tmp_cert.unlink(missing_ok=True)
    _wait_for(cert_path)


def _wait_for(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"TLS certificate {path} did not appear")
        time.sleep(0.05)


def _new_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True)
class FileStamp:
    """What changes when a file is replaced or rewritten."""

    inode: int
    mtime_ns: int
    size: int


def pair_stamp(cert: Path, key: Path) -> tuple[FileStamp, FileStamp] | None:
    try:
        stats = cert.stat(), key.stat()
    except FileNotFoundError:
        return None
    cert_stat, key_stat = (FileStamp(st.st_ino, st.st_mtime_ns, st.st_size) for st in stats)
    return cert_stat, key_stat


class ServedCertificate:
    """The pair every TLS listener of a process serves, loaded again when its files change.

    Asynchronous listeners keep one SSLContext for their lifetime: `refresh()` loads the new
    pair into it, in the event loop's thread, and every later handshake serves it (a context
    copies its certificate into each connection, so open sessions are untouched). Threaded
    servers ask `current()` for each connection: it builds a new context on a change and never
    alters one another thread may be using. A pair that does not load (a certificate renamed
    into place before its key) is tried again at the next look; the last good one stays.
    Known limit: OpenSSL keeps one certificate per key type in a context, so a pair of another
    type (RSA after EC) loaded in place sits beside the old one, which some clients may still
    be shown until the service restarts; the pairs this suite makes are always EC P-256."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert, self.key = cert, key
        self.context = _new_context()
        self._stamp = pair_stamp(cert, key)
        self.context.load_cert_chain(cert, key)
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: Settings) -> ServedCertificate:
        return cls(*ensure_tls_pair(settings))

    def _changed(self) -> tuple[FileStamp, FileStamp] | None:
        stamp = pair_stamp(self.cert, self.key)
        return stamp if stamp is not None and stamp != self._stamp else None

    def _load(self, context: ssl.SSLContext, stamp: tuple[FileStamp, FileStamp]) -> bool:
        """Load the pair into `context` only once it is known to load: a failed load_cert_chain
        leaves a context with the new certificate and the old key, which refuses every handshake.
        Both files are read once, so the check and the load see the same bytes."""
        try:
            with _pair_in_memory(self.cert.read_bytes(), self.key.read_bytes()) as combined:
                _new_context().load_cert_chain(combined)
                context.load_cert_chain(combined)
        except (OSError, ssl.SSLError) as exc:
            log.warning("TLS pair %s not loaded, keeping the previous one: %s", self.cert, exc)
            return False
        self._stamp = stamp
        log.info("TLS certificate %s loaded again", self.cert)
        return True

    def refresh(self) -> bool:
        """Load a changed pair into `context`; True when it did."""
        stamp = self._changed()
        return stamp is not None and self._load(self.context, stamp)

    def current(self) -> ssl.SSLContext:
        """The context for a new connection of a threaded server."""
        if self._changed() is not None:
            with self._lock:
                stamp = self._changed()
                if stamp is not None:
                    fresh = _new_context()
                    if self._load(fresh, stamp):
                        self.context = fresh
        return self.context


@contextmanager
def _pair_in_memory(cert: bytes, key: bytes) -> Iterator[str]:
    """A path to the chain and key together, in memory only (the key never touches a disk again)."""
    fd = os.memfd_create("beaconmail-tls-pair", 0)
    try:
        os.write(fd, cert + b"\n" + key)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


async def keep_fresh(certificate: ServedCertificate, interval: float = RELOAD_INTERVAL) -> None:
    """Refresh `certificate` every `interval` seconds until cancelled (an asyncio service's task)."""
    while True:
        await asyncio.sleep(interval)
        certificate.refresh()


def watch_pair(
    cert: Path, key: Path, on_change: Callable[[], None], stop: threading.Event, interval: float = RELOAD_INTERVAL
) -> None:
    """Call `on_change` each time the pair's files change, until `stop` is set (for a server of
    another program, such as Dovecot, told to read them again)."""
    seen = pair_stamp(cert, key)
    while not stop.wait(interval):
        stamp = pair_stamp(cert, key)
        if stamp is not None and stamp != seen:
            seen = stamp
            on_change()


def server_ssl_context(settings: Settings) -> ssl.SSLContext:
    """A context with the pair as it is now, for a listener that does not follow changes."""
    return ServedCertificate.of(settings).context
