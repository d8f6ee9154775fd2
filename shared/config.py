"""The one settings object, built from BEACONMAIL_* environment variables.

Only this module reads os.environ. Every value is typed and checked here, so a
bad configuration fails at start with one line naming the variable.
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PREFIX = "BEACONMAIL_"
SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
SIZE_STEPS = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message is one line."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    mail_root: Path
    hostname: str
    bind: str
    tls_cert: Path | None
    tls_key: Path | None
    secret_key: str
    relay_host: str | None
    smtp_port: int
    smtp_processes: int
    submission_port: int
    submissions_port: int
    pop3_port: int
    pop3s_port: int
    imap_port: int
    imaps_port: int
    pop3_processes: int
    admin_port: int
    max_message_size: int
    max_recipients: int
    max_connections_per_ip: int
    submission_rate_per_hour: int
    pop3_idle_timeout: float
    allow_plaintext_auth: bool
    maildrop_lease_seconds: int
    login_max_failures: int
    login_lockout: float
    password_min_length: int
    login_delay: int
    alias_depth_limit: int
    proxy_hops: int
    relay_user: str | None
    relay_password: str | None
    queue_lifetime: float
    queue_retry_base: float
    log_retention_days: int
    suppress_days: int
    metrics_token: str | None
    dns_resolver: tuple[tuple[str, int], ...]
    dnsbl: tuple[str, ...]
    rspamd_url: str | None
    webhook_allow_private: bool
    portal_url: str | None
    http_port: int
    https_port: int
    acme_directory: str | None
    acme_email: str | None
    acme_ca_bundle: Path | None
    acme_check_interval: float

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if f.name in ('secret_key', 'relay_password', 'metrics_token') else getattr(self, f.name)!r}"
            for f in fields(self)
        )
        return f"Settings({shown})"


def parse_size(text: str) -> int:
    """Bytes, or a number with a binary K/M/G/T suffix (1K = 1024)."""
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = cleaned[-1:] if cleaned[-1:] in SIZE_UNITS else ""
    number = cleaned[: len(cleaned) - len(unit)].strip()
    if not number.isdigit():
        raise ValueError(f"not a size: {text!r} (use bytes or a K/M/G suffix)")
    return int(number) * SIZE_UNITS[unit]


def format_size(size: int | None, number: Callable[[float], str] = "{:g}".format) -> str:
    """A byte count for people, in binary units as parse_size reads them: 21474836480 -> "20 GiB",
    1610612736 -> "1.5 GiB" (one decimal). `number` writes the figure (the portal's is the
    visitor's locale); the one rule for sizes in the CLI, the portal and the errors of shared."""
    if not size:
        return "0 B"
    for unit, factor in SIZE_STEPS:
        if size >= factor:
            return f"{number(round(size / factor, 1))} {unit}"
    return f"{size} B"


def _expected(what: str, text: str) -> ValueError:
    """The one shape of every complaint about a value, in words a reader of the variable knows."""
    return ValueError(f"expected {what}, got {text!r}")


def _whole_number(text: str, what: str, lowest: int, highest: int | None = None) -> int:
    # int() alone would take "+5", "1_0" and " 5", and its complaint names base 10.
    if not re.fullmatch(r"[0-9]+", text.strip()):
        raise _expected(what, text)
    value = int(text)
    if value < lowest or (highest is not None and value > highest):
        raise _expected(what, text)
    return value


def _port(text: str) -> int:
    return _whole_number(text, "a port number 0-65535", 0, 65535)


def _available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _positive_int(text: str) -> int:
    return _whole_number(text, "a whole number, 0 or more", 0)


def _at_least_one(text: str) -> int:
    return _whole_number(text, "a whole number, 1 or more", 1)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _expected("a number greater than 0", text) from None
    if not (math.isfinite(value) and value > 0):
        raise _expected("a number greater than 0", text)
    return value


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError:
        raise _expected("a size in bytes or with a K/M/G/T suffix, e.g. 25M", text) from None


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise _expected("true or false (or yes/no, on/off, 1/0)", text)


def _bind_address(text: str) -> str:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise _expected("an IP address to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::", text) from None
    return text


def _database_url(text: str) -> str:
    if "://" not in text:
        raise _expected("a database URL, e.g. sqlite:///path/beaconmail.db or postgresql+psycopg://user@host/db", text)
    return text


def _relay_host(text: str) -> str:
    """`host` or `host:port`; an IPv6 address goes in brackets."""
    host, colon, port = text.rpartition(":")
    if not colon or text.endswith("]"):
        host, port = text, "25"
    if not host.strip("[]") or not port.isdigit() or not 0 < int(port) <= 65535:
        raise _expected("HOST or HOST:PORT (an IPv6 address in brackets)", text)
    return text


def _dns_resolver(text: str) -> tuple[tuple[str, int], ...]:
    """`HOST[:PORT]`, comma-separated; an IPv6 address goes in brackets. A host name is looked up
    once, here, by the system's resolver."""
    servers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        if item.startswith("["):
            host, _bracket, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else "53"
        else:
            host, colon, port = item.rpartition(":")
            if not colon:
                host, port = item, "53"
        if not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise _expected("HOST or HOST:PORT, comma-separated (an IPv6 address in brackets)", item)
        servers.append((_ip_of(host), int(port)))
    if not servers:
        raise _expected("HOST or HOST:PORT, comma-separated", text)
    return tuple(servers)


def _ip_of(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return str(socket.getaddrinfo(host, 53, proto=socket.IPPROTO_UDP)[0][4][0])
    except OSError:
        raise _expected("an IP address or a host name the system can resolve", host) from None


def _dnsbl(text: str) -> tuple[str, ...]:
    zones = tuple(zone.strip().strip(".").lower() for zone in text.split(",") if zone.strip().strip("."))
    for zone in zones:
        if "." not in zone or not re.fullmatch(r"[a-z0-9._-]+", zone):
            raise _expected("DNS blocklist zones such as zen.spamhaus.org, comma-separated", zone)
    return zones


def _http_url(text: str) -> str:
    scheme, separator, rest = text.partition("://")
    if scheme.lower() not in {"http", "https"} or not separator or not rest.strip("/"):
        raise _expected("an http:// or https:// URL", text)
    return text.rstrip("/")


def _contact_email(text: str) -> str:
    if not re.fullmatch(r"[^@\s:/]+@[^@\s:/]+\.[^@\s:/]+", text.strip()):
        raise _expected("an email address for the certificate authority to write to, e.g. postmaster@example.com", text)
    return text.strip()


def _readable_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise _expected("a readable file", text)
    return path.absolute()


def _is_loopback(bind: str) -> bool:
    return ipaddress.ip_address(bind).is_loopback


def _read(environ: Mapping[str, str], name: str) -> str | None:
    """A variable's value, or the content of the file named by NAME_FILE (for secrets)."""
    key = PREFIX + name.upper()
    if key in environ:
        return environ[key]
    file_key = key + "_FILE"
    if file_key in environ:
        try:
            content = Path(environ[file_key]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{file_key}: cannot read {environ[file_key]!r}: {exc.strerror}") from exc
        # An empty variable means the default, an empty secret file a mistake: taken as unset, an
        # empty database URL file had a service start on a SQLite file of its own.
        if not content:
            raise ConfigError(f"{file_key}: {environ[file_key]!r} is empty")
        return content
    return None


def _value(environ: Mapping[str, str], name: str, parse: Callable[[str], Any], default: Any) -> Any:
    raw = _read(environ, name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}{name.upper()}: {exc}") from exc


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = _value(env, "data_dir", Path, Path("./data")).absolute()
    bind = _value(env, "bind", _bind_address, "127.0.0.1")
    tls_cert = _value(env, "tls_cert", Path, None)
    tls_key = _value(env, "tls_key", Path, None)
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError(f"{PREFIX}TLS_CERT and {PREFIX}TLS_KEY must be set together")
    acme_directory = _value(env, "acme_directory", _http_url, None)
    if acme_directory is not None and tls_cert is not None:
        raise ConfigError(
            f"{PREFIX}ACME_DIRECTORY and {PREFIX}TLS_CERT exclude each other: the certificate is either obtained or given"
        )
    return Settings(
        database_url=_value(env, "database_url", _database_url, f"sqlite:///{data_dir / 'beaconmail.db'}"),
        data_dir=data_dir,
        mail_root=_value(env, "mail_root", Path, data_dir / "mail").absolute(),
        hostname=_value(env, "hostname", str, socket.getfqdn() or "localhost"),
        bind=bind,
        tls_cert=tls_cert,
        tls_key=tls_key,
        secret_key=_value(env, "secret_key", str, None) or _embedded_secret(data_dir),
        relay_host=_value(env, "relay_host", _relay_host, None),
        smtp_port=_value(env, "smtp_port", _port, 2525),
        # A process runs Python on one core at a time. pop3: one per core. smtp: two per core, so
        # that while one worker's threads wait (an fsync, the GIL passing between the event loop
        # and a delivery) another uses the core. Measured faster than one per core on SQLite and
        # no slower on PostgreSQL; more than two did worse (bench/RESULTS.md).
        smtp_processes=_value(env, "smtp_processes", _at_least_one, 2 * _available_cpus()),
        submission_port=_value(env, "submission_port", _port, 2587),
        submissions_port=_value(env, "submissions_port", _port, 2465),
        pop3_port=_value(env, "pop3_port", _port, 1110),
        pop3s_port=_value(env, "pop3s_port", _port, 1995),
        imap_port=_value(env, "imap_port", _port, 1143),
        imaps_port=_value(env, "imaps_port", _port, 1993),
        pop3_processes=_value(env, "pop3_processes", _at_least_one, _available_cpus()),
        admin_port=_value(env, "admin_port", _port, 8080),
        max_message_size=_value(env, "max_message_size", _size, 25 * 1024**2),
        max_recipients=_value(env, "max_recipients", _positive_int, 500),
        # Postfix's smtpd_client_connection_count_limit is 50 as well.
        max_connections_per_ip=_value(env, "max_connections_per_ip", _positive_int, 50),
        submission_rate_per_hour=_value(env, "submission_rate_per_hour", _positive_int, 500),
        pop3_idle_timeout=_value(env, "pop3_idle_timeout", _positive_float, 600.0),
        allow_plaintext_auth=_value(env, "allow_plaintext_auth", _bool, _is_loopback(bind)),
        maildrop_lease_seconds=_value(env, "maildrop_lease_seconds", _positive_int, 60),
        # The lockout of one client address for one account, kept in the database (shared.accounts.lockout).
        login_max_failures=_value(env, "login_max_failures", _at_least_one, 10),
        login_lockout=_value(env, "login_lockout", _positive_float, 900.0),
        password_min_length=_value(env, "password_min_length", _at_least_one, 10),
        login_delay=_value(env, "login_delay", _positive_int, 0),
        alias_depth_limit=_value(env, "alias_depth_limit", _positive_int, 10),
        # TLS-terminating proxies in front of the admin portal whose X-Forwarded-* headers are trusted.
        proxy_hops=_value(env, "proxy_hops", _positive_int, 0),
        relay_user=_value(env, "relay_user", str, None),
        relay_password=_value(env, "relay_password", str, None),
        queue_lifetime=_value(env, "queue_lifetime", _positive_float, 5 * 24 * 3600.0),
        queue_retry_base=_value(env, "queue_retry_base", _positive_float, 300.0),
        # Days the message log keeps an entry; the smtp service's worker deletes older ones.
        log_retention_days=_value(env, "log_retention_days", _at_least_one, 30),
        # Days a hosted domain sends nothing to an address a remote server refused with a 5xx.
        suppress_days=_value(env, "suppress_days", _at_least_one, 30),
        # Bearer token a Prometheus scraper sends for /metrics; unset, /metrics is not served.
        metrics_token=_value(env, "metrics_token", str, None),
        # Every lookup of the suite (SPF, DKIM, DMARC, ARC, blocklists, outbound MX, DNS health)
        # asks these servers; empty: the system's resolver (/etc/resolv.conf).
        dns_resolver=_value(env, "dns_resolver", _dns_resolver, ()),
        dnsbl=_value(env, "dnsbl", _dnsbl, ()),
        rspamd_url=_value(env, "rspamd_url", _http_url, None),
        # Webhook URLs on loopback, private, link-local or reserved addresses are refused unless
        # this is set: otherwise anyone who may add a webhook could make the server call its own network.
        webhook_allow_private=_value(env, "webhook_allow_private", _bool, False),
        # The portal's address as its users reach it: password-reset links point there (never
        # to the Host a request named, which anyone can set).
        portal_url=_value(env, "portal_url", _http_url, None),
        # The front door (`beaconmail web`): ACME challenges and a redirect on http_port, the portal on https_port.
        http_port=_value(env, "http_port", _port, 8081),
        https_port=_value(env, "https_port", _port, 8443),
        acme_directory=acme_directory,
        acme_email=_value(env, "acme_email", _contact_email, None),
        acme_ca_bundle=_value(env, "acme_ca_bundle", _readable_file, None),
        # How often the certificate's names and expiry are checked; also the first retry delay after a failure.
        acme_check_interval=_value(env, "acme_check_interval", _positive_float, 60.0),
    )


# sd_listen_fds(3): a service manager that holds the listening sockets passes them from here on.
LISTEN_FDS_START = 3


def passed_sockets(environ: Mapping[str, str] | None = None, pid: int | None = None) -> dict[str, int]:
    """The listening sockets a service manager (a systemd socket unit, a test) passed this process,
    by name, as sd_listen_fds(3) describes: LISTEN_PID (ours, or they were meant for a parent),
    LISTEN_FDS (how many, from descriptor 3 on) and LISTEN_FDNAMES (their names, ':'-separated)."""
    env = os.environ if environ is None else environ
    if "LISTEN_FDS" not in env or env.get("LISTEN_PID") != str(os.getpid() if pid is None else pid):
        return {}
    count = env["LISTEN_FDS"]
    if not count.isdigit():
        raise ConfigError(f"LISTEN_FDS: expected a number of descriptors, got {count!r}")
    names = env.get("LISTEN_FDNAMES", "").split(":")
    if len(names) != int(count):
        raise ConfigError(f"LISTEN_FDNAMES: expected {count} names separated by ':', got {len(names)}")
    return {name: LISTEN_FDS_START + index for index, name in enumerate(names)}


PLACEHOLDER_HOSTNAME = "mail.example.com"


def hostname_warning(hostname: str) -> str | None:
    """Why BEACONMAIL_HOSTNAME will not do for mail from and to the internet, or None when it may."""
    if hostname.lower().rstrip(".") == PLACEHOLDER_HOSTNAME:
        return (
            f"{PREFIX}HOSTNAME is {PLACEHOLDER_HOSTNAME}, the example from the documentation: set it to this "
            "server's name in DNS, or certificates, greetings and DNS records will name the wrong host"
        )
    labels = hostname.rstrip(".").split(".")
    if len(labels) < 2 or not all(labels) or labels[-1].isdigit():
        return (
            f"{PREFIX}HOSTNAME is {hostname!r}, not a fully qualified domain name: set it to this server's "
            "name in DNS (such as mail.yourdomain.com), or other servers and certificate authorities cannot find it"
        )
    return None


def _embedded_secret(data_dir: Path) -> str:
    """Embedded mode keeps a generated secret in the data folder so sessions survive restarts."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".secret_key.{os.getpid()}")
    candidate.write_text(secrets.token_urlsafe(48))
    os.chmod(candidate, 0o600)
    try:
        os.link(candidate, path)  # first writer wins when several services start at once
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return path.read_text().strip()
