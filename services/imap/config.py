"""Dovecot's whole configuration, rendered from the settings: nothing in it is edited by hand.

Pure: the caller passes what it found on the machine (the TLS pair, who owns the Maildirs,
whether it runs as root) and writes the files. Written for Dovecot 2.3 (Debian 12).
"""
from __future__ import annotations

import hashlib
import ipaddress
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shared.accounts.imap_login import APP_PASSWORD_FIELD, DEFAULT_PASS_SCHEME, ImapDirectory
from shared.config import ConfigError, Settings

# The folders every mailbox has from its first login, on disk Maildir++'s `.Sent` and so on.
SPECIAL_FOLDERS = (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"), ("Junk", "\\Junk"))
# Characters of a login name: an address's atext (RFC 5322) and `@`. No `/` (the index folder is
# per address) and no `%` (Dovecot's variables); quotes are escaped by the SQL driver.
USERNAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@+!#$&'*=?^`{|}~"
# The IMAP commands that can store or remove a message (their UID forms are named apart),
# each a reason to recount the user's mailbox (services.imap.changes).
CHANGING_COMMANDS = ("APPEND", "COPY", "UID COPY", "MOVE", "UID MOVE", "EXPUNGE", "UID EXPUNGE", "CLOSE")
# Below the listener's url: where Dovecot's auth process asks the policy (services.imap.changes).
POLICY_PATH = "/policy"
# How long the stats service waits for our listener, which answers before it recounts.
CHANGES_TIMEOUT = "2 secs"
# Loopback clients may log in before TLS (the contract); TLS is required from anywhere else.
LOOPBACK_NETWORKS = "127.0.0.0/8 ::1/128"
# The longest socket Dovecot makes under base_dir ("token-login/imap-urlauth"), with room to
# spare: a unix socket's path must fit in 107 bytes.
SOCKET_ROOM = 32
MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class Host:
    """What `beaconmail imap` found on this machine."""

    tls_cert: Path
    tls_key: Path
    as_root: bool
    internal_user: str  # Dovecot's unprivileged processes (auth, stats, ...)
    login_user: str  # the imap-login processes, which talk to the network before login


@dataclass(frozen=True)
class DovecotFiles:
    main: str  # dovecot.conf
    sql: str  # the passdb/userdb file it names (holds the database password)
    app_password_sql: str  # the second passdb's: app passwords (holds it too)
    quota_dict: str  # the SQL dict quota_clone writes through (holds it too)


def imap_folder(settings: Settings) -> Path:
    """Everything of Dovecot's under the data folder: config, sockets, state, indexes."""
    return settings.data_dir / "imap"


def runtime_folder(settings: Settings) -> Path:
    """Dovecot's sockets: under the data folder, or, when that path is too long for a unix
    socket, in the temporary folder under a name drawn from the data folder's (still one per
    installation: two never share one)."""
    run = imap_folder(settings) / "run"
    if len(str(run)) + SOCKET_ROOM <= MAX_SOCKET_PATH:
        return run
    digest = hashlib.sha256(str(settings.data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"beaconmail-imap-{digest}"


def sql_file(settings: Settings) -> Path:
    return imap_folder(settings) / "dovecot-sql.conf.ext"


def app_password_sql_file(settings: Settings) -> Path:
    return imap_folder(settings) / "dovecot-sql-app-passwords.conf.ext"


def quota_dict_file(settings: Settings) -> Path:
    return imap_folder(settings) / "dovecot-dict-sql.conf.ext"


def dict_user(directory: ImapDirectory, host: Host) -> str:
    """Who runs the dict service: for SQLite the database file's owner (it writes the file and
    its journal beside it), else Dovecot's internal user."""
    return directory.database_owner or host.internal_user


def render(settings: Settings, directory: ImapDirectory, host: Host, changes_url: str) -> DovecotFiles:
    """`changes_url`: where Dovecot posts each finished command of CHANGING_COMMANDS, and below
    which it asks the auth policy (POLICY_PATH)."""
    return DovecotFiles(
        _main(settings, directory, host, changes_url),
        _sql(directory, directory.password_query, with_users=True),
        _sql(directory, directory.app_password_query, with_users=False),
        _quota_dict(directory),
    )


def _main(settings: Settings, directory: ImapDirectory, host: Host, changes_url: str) -> str:
    folder = imap_folder(settings)
    run = runtime_folder(settings)
    # Dovecot's indexes and uidlists stay out of the Maildir: POP3 and SMTP see what they always saw.
    index = _path(folder / "index", "BEACONMAIL_DATA_DIR") + "/%d/%n"
    lines = [
        "# Written by `beaconmail imap` from the BEACONMAIL_* environment at each start: edits are lost.",
        "protocols = imap",
        f"listen = {_listen(settings.bind)}",
        f"base_dir = {run}",
        f"state_dir = {folder / 'state'}",
        "log_path = /dev/stderr",
        f"hostname = {_quoted(settings.hostname)}",
        "ssl = yes",
        f"ssl_cert = <{host.tls_cert}",
        f"ssl_key = <{host.tls_key}",
        "ssl_min_protocol = TLSv1.2",
        "disable_plaintext_auth = yes",
        f"login_trusted_networks = {LOOPBACK_NETWORKS}",
        "auth_mechanisms = plain login",
        "auth_username_format = %Lu",
        f"auth_username_chars = {_quoted(USERNAME_CHARS)}",
        # No cache: a disabled mailbox or a changed password is refused at the next login.
        "auth_cache_size = 0",
        *_policy(settings, changes_url + POLICY_PATH),
        *_users(directory, host),
        f"mail_location = maildir:~:INDEX={index}:CONTROL={index}",
        *_quota(settings, directory, host),
        *_changes(changes_url),
        "namespace inbox {",
        "  inbox = yes",
        "  separator = /",
        *(line for name, flag in SPECIAL_FOLDERS for line in _special_folder(name, flag)),
        "}",
        "service imap-login {",
        f"  inet_listener imap {{\n    port = {settings.imap_port}\n  }}",
        f"  inet_listener imaps {{\n    port = {settings.imaps_port}\n    ssl = yes\n  }}",
        *_login_chroot(host),
        "}",
        f"passdb {{\n  driver = sql\n  args = {sql_file(settings)}\n}}",
        # Tried when the mailbox's own password did not match (Dovecot's default result_failure = continue).
        f"passdb {{\n  driver = sql\n  args = {app_password_sql_file(settings)}\n}}",
        f"userdb {{\n  driver = sql\n  args = {sql_file(settings)}\n}}",
    ]
    return "\n".join(lines) + "\n"


def _sql(directory: ImapDirectory, password_query: str, *, with_users: bool) -> str:
    lines = [
        f"driver = {directory.driver}",
        f"connect = {_quoted(directory.connect)}",
        f"default_pass_scheme = {DEFAULT_PASS_SCHEME}",
        f"password_query = {password_query}",
    ]
    if with_users:
        lines.append(f"user_query = {directory.user_query}")
    return "\n".join(lines) + "\n"


def _policy(settings: Settings, url: str) -> list[str]:
    """Dovecot's auth policy hook, for the lockout every service shares (shared.accounts.logins):
    before a password is checked, may this address try this account; after, how it went (with
    the app password used, if one was). A refusal is answered as a wrong password."""
    nonce = hashlib.sha256(f"dovecot auth policy {settings.secret_key}".encode()).hexdigest()
    return [
        f"auth_policy_server_url = {url}",
        f"auth_policy_hash_nonce = {nonce}",
        "auth_policy_request_attributes = "
        f"login=%{{requested_username}} remote=%{{rip}} app_password=%{{passdb:{APP_PASSWORD_FIELD}}}",
        "auth_policy_check_before_auth = yes",
        "auth_policy_check_after_auth = no",
        "auth_policy_report_after_auth = yes",
    ]


def _quota(settings: Settings, directory: ImapDirectory, host: Host) -> list[str]:
    """Dovecot enforces the userdb's quota_rule on what it counts in every folder and quota_clone
    hands the totals to our counters through the dict service (see shared.accounts.imap_login).
    The count backend counts sizes with CRLF line ends; Dovecot stores what it saves with CRLF,
    as we store everything, so its counts are the bytes on disk (and POP3 can stream a message
    an IMAP client moved into INBOX as it is)."""
    return [
        "mail_save_crlf = yes",
        "mail_plugins = $mail_plugins quota quota_clone",
        "protocol imap {",
        "  mail_plugins = $mail_plugins imap_quota",
        "}",
        "plugin {",
        "  quota = count:User quota",
        "  quota_vsizes = yes",
        "  quota_clone_dict = proxy::quota_clone",
        "}",
        "dict {",
        f"  quota_clone = {directory.driver}:{quota_dict_file(settings)}",
        "}",
        "service dict {",
        f"  user = {dict_user(directory, host)}",
        "  unix_listener dict {",
        "    mode = 0600",
        f"    user = {directory.mail_user}",
        "  }",
        "}",
    ]


def _changes(url: str) -> list[str]:
    """quota_clone is late while a session stays open (services.imap.changes): the stats
    service posts every finished command that may have changed the user's storage, with the
    user's name, to `url` at once."""
    commands = " OR ".join(f"cmd_name={_quoted(name)}" for name in CHANGING_COMMANDS)
    return [
        "event_exporter beaconmail_changes {",
        "  format = json",
        "  format_args = time-rfc3339",  # required, though we include no time
        "  transport = http-post",
        f"  transport_args = {url}",
        f"  transport_timeout = {CHANGES_TIMEOUT}",
        "}",
        "metric beaconmail_storage_changed {",
        "  exporter = beaconmail_changes",
        "  exporter_include = name fields",
        "  fields = user",
        f"  filter = event=imap_command_finished AND ({commands})",
        "}",
    ]


def _quota_dict(directory: ImapDirectory) -> str:
    return f"connect = {_quoted(directory.connect)}\n" + directory.quota_maps


def _users(directory: ImapDirectory, host: Host) -> list[str]:
    """Mail processes run as the Maildirs' owner, whoever that is (root included, in a
    sandbox): first_valid_uid/gid let exactly that one through."""
    return [
        f"default_internal_user = {host.internal_user}",
        f"default_login_user = {host.login_user}",
        f"mail_uid = {directory.mail_uid}",
        f"mail_gid = {directory.mail_gid}",
        f"first_valid_uid = {directory.mail_uid}",
        f"last_valid_uid = {directory.mail_uid}",
        f"first_valid_gid = {directory.mail_gid}",
        f"last_valid_gid = {directory.mail_gid}",
    ]


def _login_chroot(host: Host) -> list[str]:
    """Without root, Dovecot can neither chroot its login processes nor change their user."""
    return [] if host.as_root else ["  chroot ="]


def _special_folder(name: str, flag: str) -> list[str]:
    return [f"  mailbox {name} {{", f"    special_use = {flag}", "    auto = subscribe", "  }"]


def _listen(bind: str) -> str:
    address = ipaddress.ip_address(bind)
    if address.is_unspecified:
        return "*" if address.version == 4 else "*, ::"
    return bind


def _path(path: Path, variable: str) -> str:
    """A folder inside mail_location, where `:` separates the parts."""
    if ":" in str(path):
        raise ConfigError(f"{variable}: Dovecot cannot use a folder with ':' in its name: {path}")
    return str(path)


def _quoted(value: str) -> str:
    """A Dovecot config string: double quotes, backslash escapes (keeps `#` and spaces)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
