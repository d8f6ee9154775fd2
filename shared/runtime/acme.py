"""The certificate from an ACME CA (RFC 8555), obtained and renewed by the HTTP-01 challenge.

One certificate names the host and `autoconfig.`/`autodiscover.` of every hosted domain (the
caller says which names). It is written over the pair every listener serves
(`tls.managed_pair`), key first, each file in one rename: the listeners notice the change and
load it (`tls.ServedCertificate`, Dovecot by SIGHUP). Everything lives under DATA_DIR/tls/acme,
shared by every process and replica: the account key, the challenge answers (so the replica the
CA happens to ask can answer), a lock that lets one issuer work at a time, and status.json, which
keeps the last error and the failure count for /healthz, the dashboard and /metrics.
"""
from __future__ import annotations

import datetime
import fcntl
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import josepy
import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from shared.config import Settings
from shared.runtime.tls import ensure_tls_pair, managed_pair, tls_folder, write_private

log = logging.getLogger(__name__)

# The challenge token is base64url (RFC 8555 §8.3): anything else is not one of ours, and never a path.
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
# Renew when a third of the lifetime is left (Let's Encrypt's advice for 90-day certificates).
RENEW_AT_FRACTION_LEFT = 1 / 3
MAX_RETRY_DELAY = 3600.0
ORDER_TIMEOUT = datetime.timedelta(seconds=90)
NETWORK_TIMEOUT = 30
USER_AGENT = "beaconmail"
# What talking to the CA or writing the files raises: the last good certificate stays.
ISSUANCE_ERRORS = (errors.Error, josepy.errors.Error, requests.RequestException, OSError, ValueError)


def acme_folder(settings: Settings) -> Path:
    return tls_folder(settings) / "acme"


def challenge_folder(settings: Settings) -> Path:
    return acme_folder(settings) / "challenges"


def certificate_names(hostname: str, domains: list[str]) -> list[str]:
    """The host name first (the certificate's subject), then the clients' autoconfiguration names."""
    extra = {f"{prefix}.{domain}" for domain in domains for prefix in ("autoconfig", "autodiscover")}
    return [hostname.lower().rstrip("."), *sorted(extra - {hostname.lower()})]


def challenge_answer(settings: Settings, token: str) -> bytes | None:
    """The key authorization to serve for an HTTP-01 `token`, or None when it is not ours."""
    if not TOKEN.fullmatch(token):
        return None
    try:
        return (challenge_folder(settings) / token).read_bytes()
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class CertificateStatus:
    """The certificate the listeners serve, and how obtaining the next one went."""

    expires_at: datetime.datetime | None
    issuer: str | None
    names: tuple[str, ...]
    last_error: str | None
    failures_total: int
    consecutive_failures: int

    def as_json(self) -> dict[str, str | None]:
        return {
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "issuer": self.issuer,
            "last_error": self.last_error,
        }


def _read_certificate(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _dns_names(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(extension.value.get_values_for_type(x509.DNSName))


def _read_record(settings: Settings) -> dict[str, object]:
    try:
        record = json.loads((acme_folder(settings) / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def certificate_status(settings: Settings) -> CertificateStatus:
    cert_path = settings.tls_cert or managed_pair(settings)[0]
    certificate = _read_certificate(cert_path)
    record = _read_record(settings)
    last_error = record.get("last_error")
    return CertificateStatus(
        expires_at=certificate.not_valid_after_utc if certificate else None,
        issuer=certificate.issuer.rfc4514_string() if certificate else None,
        names=_dns_names(certificate) if certificate else (),
        last_error=last_error if isinstance(last_error, str) else None,
        failures_total=int(cast(int, record.get("failures_total", 0))),
        consecutive_failures=int(cast(int, record.get("consecutive_failures", 0))),
    )


def renewal_reason(certificate: x509.Certificate | None, names: list[str], now: datetime.datetime) -> str | None:
    """Why a new certificate is needed, or None while this one will do."""
    if certificate is None:
        return "no certificate yet"
    if certificate.issuer == certificate.subject:
        return "the certificate is self-signed"
    if sorted(_dns_names(certificate)) != sorted(names):
        return "the names changed"
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    if now >= certificate.not_valid_after_utc - lifetime * RENEW_AT_FRACTION_LEFT:
        return "a third of its lifetime is left"
    return None


class AcmeIssuer:
    """Obtains the certificate when it is missing, names other hosts, or is a third from its end."""

    def __init__(self, settings: Settings) -> None:
        if settings.acme_directory is None:
            raise ValueError("AcmeIssuer needs BEACONMAIL_ACME_DIRECTORY")
        self.settings = settings
        self.directory_url = settings.acme_directory
        self.folder = acme_folder(settings)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        challenge_folder(settings).mkdir(exist_ok=True, mode=0o700)
        ensure_tls_pair(settings)  # served until the first certificate arrives

    def check(self, names: list[str]) -> float:
        """Obtain a certificate if one is due; returns the seconds until the next check."""
        interval = self.settings.acme_check_interval
        with self._turn() as ours:
            if not ours:
                return interval  # another process or replica is at it
            cert_path, _key_path = managed_pair(self.settings)
            reason = renewal_reason(_read_certificate(cert_path), names, datetime.datetime.now(datetime.timezone.utc))
            if reason is None:
                return interval
            log.info("obtaining a certificate for %s from %s: %s", ", ".join(names), self.directory_url, reason)
            try:
                self._obtain(names)
            except Exception as exc:  # noqa: BLE001 - a boundary: see below
                # Anything else is a bug, logged with its traceback; it is still a failure to
                # show and retry, because a renewal thread that died would let the
                # certificate expire with nobody told.
                if not isinstance(exc, ISSUANCE_ERRORS):
                    log.exception("unexpected error while obtaining a certificate")
                failures = self._record_failure(exc)
                delay = min(interval * 2.0 ** (failures - 1), MAX_RETRY_DELAY)
                log.error("certificate not obtained (attempt %d), retrying in %g s: %s", failures, delay, exc)
                return delay
            self._record({"last_error": None, "consecutive_failures": 0})
            log.info("certificate obtained for %s", ", ".join(names))
            return interval

    @contextmanager
    def _turn(self) -> Iterator[bool]:
        with open(self.folder / "lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _record(self, changes: dict[str, object]) -> None:
        record = _read_record(self.settings) | changes
        write_private(self.folder / "status.json", json.dumps(record).encode())

    def _record_failure(self, exc: Exception) -> int:
        record = _read_record(self.settings)
        failures = int(cast(int, record.get("consecutive_failures", 0))) + 1
        self._record(
            {
                "last_error": _describe(exc),
                "consecutive_failures": failures,
                "failures_total": int(cast(int, record.get("failures_total", 0))) + 1,
            }
        )
        return failures

    def _client(self) -> client.ClientV2:
        key_path = self.folder / "account.pem"
        if not key_path.exists():
            fresh = ec.generate_private_key(ec.SECP256R1())
            write_private(key_path, fresh.private_bytes(*_PRIVATE_PEM))
        account_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(account_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} is not the EC account key this suite made")
        bundle = self.settings.acme_ca_bundle
        # requests' `verify` takes a CA file as well as a bool; acme passes it straight through.
        verify = cast(bool, str(bundle)) if bundle is not None else True
        net = client.ClientNetwork(
            JWKEC(key=account_key), alg=ES256, verify_ssl=verify, user_agent=USER_AGENT,
            timeout=NETWORK_TIMEOUT,
        )
        acme = client.ClientV2(client.ClientV2.get_directory(self.directory_url, net), net)
        registration = messages.NewRegistration.from_data(email=self.settings.acme_email, terms_of_service_agreed=True)
        try:
            acme.new_account(registration)
        except errors.ConflictError as existing:  # this key has an account already: act as it
            net.account = messages.RegistrationResource(uri=existing.location, body=messages.Registration())
        return acme

    def _obtain(self, names: list[str]) -> None:
        acme = self._client()
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(*_PRIVATE_PEM)
        order = acme.new_order(crypto_util.make_csr(key_pem, names))
        published: list[Path] = []
        try:
            for authorization in order.authorizations:
                if authorization.body.status == messages.STATUS_VALID:
                    continue
                published.append(self._answer(acme, authorization))
            order = acme.poll_and_finalize(order, datetime.datetime.now() + ORDER_TIMEOUT)
        finally:
            for path in published:
                path.unlink(missing_ok=True)
        cert_path, key_path = managed_pair(self.settings)
        # Key first: a listener that reads the new certificate with the old key fails to load the
        # pair and keeps its previous one until its next look, when both are new.
        write_private(key_path, key_pem)
        write_private(cert_path, order.fullchain_pem.encode())

    def _answer(self, acme: client.ClientV2, authorization: messages.AuthorizationResource) -> Path:
        offered = [c for c in authorization.body.challenges if isinstance(c.chall, challenges.HTTP01)]
        if not offered:
            raise ValueError(f"the CA offers no HTTP-01 challenge for {authorization.body.identifier.value}")
        challenge = offered[0]
        response, validation = challenge.response_and_validation(acme.net.key)
        path = challenge_folder(self.settings) / str(challenge.chall.encode("token"))
        write_private(path, validation.encode())
        acme.answer_challenge(challenge, response)
        return path


_PRIVATE_PEM = (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _describe(exc: Exception) -> str:
    """One line for the dashboard: the CA's problem document when there is one."""
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:500]


def follow_certificate(
    settings: Settings, names: Callable[[], list[str]], stop: threading.Event
) -> None:
    """Check the certificate now and then until `stop` is set (a thread of `beaconmail web`)."""
    issuer = AcmeIssuer(settings)
    delay = 0.0
    while not stop.wait(delay):
        delay = issuer.check(names())
