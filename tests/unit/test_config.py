"""Settings from BEACONMAIL_* variables: defaults, typed parsing, one clear error per bad value."""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from shared.config import (
    ConfigError,
    Settings,
    format_size,
    hostname_warning,
    load_settings,
    parse_size,
    passed_sockets,
)


def load(tmp_path: Path, **variables: str) -> Settings:
    environ = {"BEACONMAIL_DATA_DIR": str(tmp_path)} | {f"BEACONMAIL_{k.upper()}": v for k, v in variables.items()}
    return load_settings(environ)


def test_embedded_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'beaconmail.db'}"
    assert settings.data_dir == tmp_path
    assert settings.mail_root == tmp_path / "mail"
    assert settings.bind == "127.0.0.1"
    assert (settings.tls_cert, settings.tls_key, settings.relay_host) == (None, None, None)
    ports = (settings.smtp_port, settings.submission_port, settings.submissions_port)
    assert ports + (settings.pop3_port, settings.pop3s_port, settings.admin_port) == (2525, 2587, 2465, 1110, 1995, 8080)
    assert (settings.imap_port, settings.imaps_port) == (1143, 1993)
    assert settings.max_message_size == 25 * 1024 * 1024
    assert settings.allow_plaintext_auth is True  # loopback only by default
    assert settings.maildrop_lease_seconds > 0 and settings.alias_depth_limit > 0


def test_issue_20s_variables_and_their_defaults(tmp_path: Path) -> None:
    defaults = load(tmp_path)
    assert (defaults.log_retention_days, defaults.suppress_days, defaults.webhook_allow_private) == (30, 30, False)
    given = load_settings({"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_LOG_RETENTION_DAYS": "7",
                           "BEACONMAIL_SUPPRESS_DAYS": "3", "BEACONMAIL_WEBHOOK_ALLOW_PRIVATE": "1"})
    assert (given.log_retention_days, given.suppress_days, given.webhook_allow_private) == (7, 3, True)


def test_relative_data_dir_defaults_to_data_in_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"BEACONMAIL_SECRET_KEY": "s"})
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'beaconmail.db'}"


def test_embedded_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first, second = load(tmp_path).secret_key, load(tmp_path).secret_key
    assert len(first) >= 32 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert load(tmp_path, secret_key="explicit").secret_key == "explicit"


def test_secrets_are_not_in_repr(tmp_path: Path) -> None:
    text = repr(load(tmp_path, secret_key="hunter2", relay_password="swordfish"))
    assert "hunter2" not in text and "swordfish" not in text


def test_typed_values_are_parsed(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        smtp_port="25",
        bind="::1",
        max_message_size="10M",
        pop3_idle_timeout="30.5",
        allow_plaintext_auth="no",
        maildrop_lease_seconds="5",
        relay_host="smarthost.example:587",
        database_url="postgresql+psycopg://u@db/beacon",
    )
    assert settings.smtp_port == 25 and settings.bind == "::1"
    assert settings.max_message_size == 10 * 1024 * 1024
    assert settings.pop3_idle_timeout == 30.5
    assert settings.allow_plaintext_auth is False
    assert settings.maildrop_lease_seconds == 5
    assert settings.relay_host == "smarthost.example:587"
    assert settings.database_url == "postgresql+psycopg://u@db/beacon"


def test_plaintext_auth_is_off_by_default_on_a_public_bind(tmp_path: Path) -> None:
    assert load(tmp_path, bind="0.0.0.0").allow_plaintext_auth is False


INVALID = [
    ("smtp_port", "smtp"),
    ("submission_port", "65536"),
    ("submissions_port", "-1"),
    ("pop3_port", "1.5"),
    ("pop3s_port", "x"),
    ("imap_port", "143.0"),
    ("imaps_port", "99999"),
    ("admin_port", "80a"),
    ("imap_port", "143x"),
    ("imaps_port", "99999"),
    ("bind", "localhost"),
    ("bind", "300.1.1.1"),
    ("database_url", "beaconmail.db"),
    ("max_message_size", "ten megabytes"),
    ("max_message_size", "-5M"),
    ("max_message_size", "5X"),
    ("smtp_processes", "0"),
    ("smtp_processes", "all"),
    ("pop3_processes", "-2"),
    ("max_recipients", "-1"),
    ("max_connections_per_ip", "lots"),
    ("max_recipients", "many"),
    ("submission_rate_per_hour", "1e3"),
    ("pop3_idle_timeout", "0"),
    ("pop3_idle_timeout", "soon"),
    ("allow_plaintext_auth", "maybe"),
    ("webhook_allow_private", "maybe"),
    ("maildrop_lease_seconds", "-3"),
    ("login_max_failures", "five"),
    ("login_max_failures", "0"),
    ("login_lockout", "forever"),
    ("password_min_length", "0"),
    ("login_delay", "-1"),
    ("alias_depth_limit", "deep"),
    ("proxy_hops", "-1"),
    ("relay_host", "smarthost.example:port"),
    ("relay_host", "smarthost.example:70000"),
    ("relay_host", ":25"),
    ("queue_lifetime", "0"),
    ("queue_retry_base", "five minutes"),
    ("log_retention_days", "0"),
    ("suppress_days", "0"),
    ("dns_resolver", "127.0.0.1:99999"),
    ("dns_resolver", "no-such-host.invalid"),
    ("dnsbl", "zen spamhaus org"),
    ("dnsbl", "bl"),
    ("rspamd_url", "127.0.0.1:11333"),
    ("rspamd_url", "ftp://127.0.0.1:11333"),
    ("http_port", "eighty"),
    ("https_port", "65536"),
    ("acme_directory", "acme.example/directory"),
    ("acme_email", "nobody"),
    ("acme_email", "mailto:a@b.example"),
    ("acme_ca_bundle", "/nonexistent/ca.pem"),
    ("acme_check_interval", "0"),
]
UNTYPED = {"str", "str | None", "Path", "Path | None"}


def test_every_typed_variable_has_an_invalid_case() -> None:
    typed = {f.name for f in fields(Settings) if f.type not in UNTYPED} | {"relay_host", "bind", "database_url"}
    assert typed <= {name for name, _ in INVALID}


@pytest.mark.parametrize(("name", "value"), INVALID)
def test_invalid_value_names_the_variable_and_what_it_expects(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **{name: value})
    message = str(caught.value)
    # The bad part of the value closes the line: all of it, or the one item of a list that is wrong.
    assert re.fullmatch(rf"BEACONMAIL_{name.upper()}: expected [^\n]+, got '[^'\n]*'", message), message
    assert message.rpartition(", got ")[2][1:-1] in value


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("smtp_port", "abc", "BEACONMAIL_SMTP_PORT: expected a port number 0-65535, got 'abc'"),
        ("smtp_port", "+25", "BEACONMAIL_SMTP_PORT: expected a port number 0-65535, got '+25'"),
        ("max_recipients", "1_000", "BEACONMAIL_MAX_RECIPIENTS: expected a whole number, 0 or more, got '1_000'"),
        ("pop3_processes", "0", "BEACONMAIL_POP3_PROCESSES: expected a whole number, 1 or more, got '0'"),
        ("login_lockout", "nan", "BEACONMAIL_LOGIN_LOCKOUT: expected a number greater than 0, got 'nan'"),
        ("queue_lifetime", "inf", "BEACONMAIL_QUEUE_LIFETIME: expected a number greater than 0, got 'inf'"),
        ("bind", "localhost", "BEACONMAIL_BIND: expected an IP address to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::, got 'localhost'"),
        ("max_message_size", "5X", "BEACONMAIL_MAX_MESSAGE_SIZE: expected a size in bytes or with a K/M/G/T suffix, e.g. 25M, got '5X'"),
        ("dnsbl", "zen.spamhaus.org,bl", "BEACONMAIL_DNSBL: expected DNS blocklist zones such as zen.spamhaus.org, comma-separated, got 'bl'"),
    ],
)
def test_invalid_value_message_in_words(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **{name: value})
    assert str(caught.value) == message


@pytest.mark.parametrize("missing", ["tls_cert", "tls_key"])
def test_tls_cert_and_key_go_together(tmp_path: Path, missing: str) -> None:
    pair = {"tls_cert": str(tmp_path / "cert.pem"), "tls_key": str(tmp_path / "key.pem")}
    del pair[missing]
    with pytest.raises(ConfigError, match="BEACONMAIL_TLS_CERT"):
        load(tmp_path, **pair)
    both = load(tmp_path, tls_cert=str(tmp_path / "c.pem"), tls_key=str(tmp_path / "k.pem"))
    assert (both.tls_cert, both.tls_key) == (tmp_path / "c.pem", tmp_path / "k.pem")


def test_file_variant_reads_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("from-a-file\n")
    (tmp_path / "url").write_text("postgresql+psycopg://u@db/x")
    settings = load(tmp_path, secret_key_file=str(tmp_path / "secret"), database_url_file=str(tmp_path / "url"))
    assert settings.secret_key == "from-a-file"
    assert settings.database_url == "postgresql+psycopg://u@db/x"


def test_direct_value_wins_over_file_variant(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("from-a-file")
    assert load(tmp_path, secret_key="direct", secret_key_file=str(tmp_path / "secret")).secret_key == "direct"


def test_file_variant_values_are_validated_too(tmp_path: Path) -> None:
    (tmp_path / "port").write_text("not-a-port")
    with pytest.raises(ConfigError, match="BEACONMAIL_SMTP_PORT"):
        load(tmp_path, smtp_port_file=str(tmp_path / "port"))


def test_unreadable_file_variant_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BEACONMAIL_SECRET_KEY_FILE"):
        load(tmp_path, secret_key_file=str(tmp_path / "missing"))


def test_empty_value_means_default(tmp_path: Path) -> None:
    assert load(tmp_path, smtp_port="").smtp_port == 2525


def test_an_empty_file_variant_is_refused_not_taken_for_the_default(tmp_path: Path) -> None:
    (tmp_path / "database_url").write_text("\n")
    with pytest.raises(ConfigError, match=r"^BEACONMAIL_DATABASE_URL_FILE: '.*database_url' is empty$"):
        load(tmp_path, database_url_file=str(tmp_path / "database_url"))


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("512", 512),
        ("1K", 1024),
        ("1k", 1024),
        ("2M", 2 * 1024**2),
        ("3G", 3 * 1024**3),
        ("10MB", 10 * 1024**2),
        ("10MiB", 10 * 1024**2),
        (" 7 K ", 7 * 1024),
    ],
)
def test_parse_size_uses_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "K", "1.5M", "-1K", "1Q", "M1", "1 000"])
def test_parse_size_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize("relay", ["smarthost.example", "smarthost.example:2525", "[::1]:25", "[::1]", "10.0.0.1:587"])
def test_relay_host_with_or_without_port(tmp_path: Path, relay: str) -> None:
    assert load(tmp_path, relay_host=relay).relay_host == relay


def test_passed_sockets_are_named_from_descriptor_3_for_this_process_only() -> None:
    passed = {"LISTEN_PID": "4242", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "pop3:pop3s"}
    assert passed_sockets(passed, pid=4242) == {"pop3": 3, "pop3s": 4}
    assert passed_sockets(passed, pid=4243) == {}  # meant for the process that started us
    assert passed_sockets({}, pid=4242) == {}


@pytest.mark.parametrize(
    ("count", "names", "variable"),
    [("two", "pop3:pop3s", "LISTEN_FDS"), ("-1", "pop3", "LISTEN_FDS"), ("2", "pop3", "LISTEN_FDNAMES")],
)
def test_bad_passed_sockets_name_the_variable(count: str, names: str, variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        passed_sockets({"LISTEN_PID": "7", "LISTEN_FDS": count, "LISTEN_FDNAMES": names}, pid=7)


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (None, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"), (20 * 1024**3, "20 GiB"), (21474836480, "20 GiB"),
     (1610612736, "1.5 GiB"), (3 * 1024**4, "3 TiB")],
)
def test_format_size_writes_binary_units(size: int | None, text: str) -> None:
    assert format_size(size) == text


def test_format_size_takes_the_callers_number_format() -> None:
    assert format_size(1610612736, lambda number: f"{number:.2f}".replace(".", ",")) == "1,50 GiB"
def test_front_door_ports_default_to_unprivileged_ones(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert (settings.http_port, settings.https_port, settings.acme_directory) == (8081, 8443, None)


def test_acme_and_a_given_certificate_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ACME_DIRECTORY and BEACONMAIL_TLS_CERT"):
        load(tmp_path, acme_directory="https://acme.example/dir", tls_cert="/c.pem", tls_key="/k.pem")


def test_the_database_url_may_come_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text("postgresql+psycopg://beaconmail:s3cret@db/beaconmail\n")
    environ = {"BEACONMAIL_DATA_DIR": str(tmp_path), "BEACONMAIL_DATABASE_URL_FILE": str(secret)}
    assert load_settings(environ).database_url == "postgresql+psycopg://beaconmail:s3cret@db/beaconmail"


@pytest.mark.parametrize(
    ("hostname", "warned"),
    [("mail.example.com", "the example"), ("MAIL.EXAMPLE.COM.", "the example"), ("mailhost", "not a fully qualified"),
     ("localhost", "not a fully qualified"), ("10.0.0.1", "not a fully qualified"), ("mx.beacon.test", None)],
)
def test_a_placeholder_or_short_hostname_is_warned_about(hostname: str, warned: str | None) -> None:
    warning = hostname_warning(hostname)
    assert (warning is None) if warned is None else (warned in str(warning) and "BEACONMAIL_HOSTNAME" in str(warning))
