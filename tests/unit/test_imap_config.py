"""services/imap/config.py: the Dovecot configuration rendered from the settings (no Dovecot run)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from services.imap.config import Host, render
from shared.accounts.imap_login import ImapDirectory, imap_directory, quota_clone_maps
from shared.config import ConfigError
from tests.conftest import base_settings

DIRECTORY = ImapDirectory(
    "sqlite", "/d/beaconmail.db", "SELECT 1", "SELECT 3", "SELECT 2", mail_uid=8, mail_gid=8, mail_user="mail",
    quota_maps=quota_clone_maps(), database_owner="beacon",
)
# render() reads no file; a short data folder leaves room for Dovecot's socket paths.
DATA = Path("/srv/beaconmail")
CHANGES = "http://127.0.0.1:4321/secret"
ROOT = Host(Path("/t/cert.pem"), Path("/t/key.pem"), as_root=True, internal_user="dovecot", login_user="dovenull")


def test_listeners_tls_and_plaintext_rule() -> None:
    settings = base_settings(DATA, imap_port=1143, imaps_port=1993, bind="0.0.0.0")
    main = render(settings, DIRECTORY, ROOT, CHANGES).main
    assert "listen = *\n" in main and "port = 1143" in main and "port = 1993\n    ssl = yes" in main
    assert "ssl_cert = </t/cert.pem" in main and "disable_plaintext_auth = yes" in main
    assert "login_trusted_networks = 127.0.0.0/8 ::1/128" in main  # loopback only may skip TLS
    assert "auth_cache_size = 0" in main and "auth_username_format = %Lu" in main
    assert f"mail_location = maildir:~:INDEX={DATA}/imap/index/%d/%n" in main
    assert "mail_uid = 8" in main and "chroot =" not in main


def test_without_root_the_login_processes_are_not_chrooted() -> None:
    host = dataclasses.replace(ROOT, as_root=False, internal_user="me", login_user="me")
    assert "  chroot =" in render(base_settings(DATA), DIRECTORY, host, CHANGES).main


def test_a_data_folder_too_long_for_sockets_puts_them_in_a_folder_of_its_own() -> None:
    long_one, other = render(base_settings(DATA / ("x" * 80)), DIRECTORY, ROOT, CHANGES), render(base_settings(DATA / ("y" * 80)), DIRECTORY, ROOT, CHANGES)
    assert f"base_dir = {DATA}/imap/run" in render(base_settings(DATA), DIRECTORY, ROOT, CHANGES).main
    base_dirs = {line for text in (long_one.main, other.main) for line in text.splitlines() if line.startswith("base_dir")}
    assert len(base_dirs) == 2 and all(len(line) < 80 for line in base_dirs)


def test_queries_follow_the_login_rule_and_keep_dovecot_variables(tmp_path: Path) -> None:
    directory = imap_directory(base_settings(tmp_path, database_url="postgresql+psycopg://u:p'w@db/bm?sslmode=require"))
    assert directory.driver == "pgsql" and directory.connect == "host='db' dbname='bm' user='u' password='p\\'w' sslmode='require'"
    # The login itself, or local@target for local@alias-domain: one value for the unique index.
    for query in (directory.password_query, directory.user_query):
        assert "mailbox.address = coalesce((SELECT '%Ln' || '@' || domain_1.name" in query
        assert "WHERE alias_domain.name = '%Ld'), '%Lu')" in query
    assert "mailbox.imap_enabled" in directory.password_query and "domain.active" in directory.password_query
    assert "LIKE '$argon2id$' || '%%'" in directory.password_query  # a literal % for Dovecot


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite://"])
def test_a_database_dovecot_cannot_read_is_one_clear_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="BEACONMAIL_DATABASE_URL"):
        imap_directory(base_settings(tmp_path, database_url=url))


def test_up_without_dovecot_leaves_imap_off_and_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.embedded import available_services

    monkeypatch.setattr("services.imap.server.DOVECOT", DATA / "no-dovecot")
    assert available_services(base_settings(DATA)) == ("smtp", "pop3", "admin", "web")
    assert "IMAP is off: IMAP needs Dovecot: dovecot-core not installed" in capsys.readouterr().err


def test_each_command_that_stores_or_removes_is_posted_with_its_user() -> None:
    main = render(base_settings(DATA), DIRECTORY, ROOT, CHANGES).main
    assert f"transport = http-post\n  transport_args = {CHANGES}\n" in main
    assert "exporter = beaconmail_changes\n" in main and "  fields = user\n" in main
    (filter_line,) = [line for line in main.splitlines() if line.strip().startswith("filter = ")]
    assert filter_line.strip().startswith("filter = event=imap_command_finished AND (")
    for command in ("APPEND", "COPY", "UID COPY", "MOVE", "UID MOVE", "EXPUNGE", "UID EXPUNGE", "CLOSE"):
        assert f'cmd_name="{command}"' in filter_line
