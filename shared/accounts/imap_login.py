"""Who may log in over IMAP, as the SQL that Dovecot's passdb and userdb run on our tables.

Dovecot checks the passwords itself (`beaconmail imap`), so the login rule of
`mailboxes.authenticate` is written here once more as a query: an active mailbox of an
active domain with its IMAP switch on, found by its full address in lower case, or as
local@alias-domain for local@the-domain (`lookups.hosted_domain`). The password query names the
mailbox's own address as Dovecot's user, so a login at an alias domain gets the same Maildir,
indexes and quota totals. The queries are built from the models, so a renamed column breaks the
tests, not the logins.

Quota: Dovecot counts each mailbox's bytes and messages over all its folders (the `count`
backend) and its `quota_clone` plugin writes the totals through the SQL dict into
`imap_usage`, whose triggers (migration 0009) make them our counters. The other choice, the
`dict` backend adding each change to our columns, counts a message POP3 deleted twice: Dovecot
frees the bytes of every expunge it notices at its next sync, and POP3 gave them back already.
Totals cannot drift that way; a delivery our SMTP wrote meanwhile is in them. quota_clone
writes when a session ends, or ten seconds after a change while it stays open (a constant
in Dovecot 2.3), so Dovecot also reports each finished APPEND, COPY, MOVE, EXPUNGE or CLOSE
to `beaconmail imap` at once, which recounts that Maildir on disk into the same row
(services.imap.changes, quota.recount_after_imap): totals again, from the same disk.

App passwords (shared.accounts.app_passwords): a second passdb, tried when the mailbox's own
password did not match, finds the app password by the first characters of the password the
client sent (`%w`) among those of the login's mailbox that name IMAP and have not expired,
and hands Dovecot its SHA-256 as {SHA256.HEX}; a revoked one has no row. Its row id goes out
as an extra field, which the auth policy's report carries back (services.imap.policy).

Hashes: passlib's argon2 hashes carry no scheme prefix; Dovecot's ARGON2ID scheme (libsodium,
as in `passwords.matches`) reads them, and ARGON2I reads an imported `$argon2i$` hash.
libsodium computes only parallelism 1 but verifies any (1.0.18, Debian 12's), so an imported
hash from another argon2 implementation logs in too. Imported hashes keep their `{SCHEME}`
prefix until a login elsewhere replaces them, and Dovecot understands those prefixes itself.
Any other hash (`$6$`, `$5$`, `$2b$`) goes to the default scheme CRYPT: glibc's crypt(3) reads
them all. Only an imported `$argon2d$` hash, which passlib reads and Dovecot does not, is
refused over IMAP as a wrong password would be, until a login over SMTP or POP3 (or the
portal) replaces it with ours.
"""
from __future__ import annotations

import pwd
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, Select, String, case, cast, func, literal, literal_column, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.orm import aliased

from shared.accounts.app_passwords import PREFIX_LENGTH
from shared.accounts.factor_check import second_factor_of
from shared.config import ConfigError, Settings
from shared.storage.db import libpq_conninfo, sqlite_file
from shared.storage.maildirs import hand_over
from shared.storage.models import AliasDomain, AppPassword, Domain, ImapUsage, Mailbox

DEFAULT_PASS_SCHEME = "CRYPT"
# Dovecot's scheme for each argon2 hash that passlib writes (or we import) without a prefix.
ARGON2_SCHEMES = (("$argon2id$", "{ARGON2ID}"), ("$argon2i$", "{ARGON2I}"))
# Dovecot never reads mail as root. A mail root that root owns (beaconmail run as root, as in a
# sandbox) goes to Debian's `mail` user, the traditional owner of mail spools; our processes,
# still root, hand each Maildir and message they make to it (shared.storage.maildirs).
ROOTLESS_MAIL_OWNER = "mail"
# Dovecot's variables for the login name and its parts before and after the first `@`, lower-cased
# (auth_username_format lower-cases it too). Dovecot escapes what it puts in an SQL query.
LOGIN_NAME, LOGIN_LOCAL, LOGIN_DOMAIN = "%Lu", "%Ln", "%Ld"
# The password the client sent (plaintext mechanisms only, which are all we offer).
LOGIN_PASSWORD = "%w"
# Each stands for its variable while SQLAlchemy renders the query: Dovecot expands every `%` in a
# query, so the rendered text's own `%` (LIKE patterns) are doubled before the variables go in.
_SENTINELS = {
    f"'\x00{n}\x00'": variable for n, variable in enumerate((LOGIN_NAME, LOGIN_LOCAL, LOGIN_DOMAIN, LOGIN_PASSWORD))
}
_LOGIN, _LOGIN_LOCAL, _LOGIN_DOMAIN, _LOGIN_PASSWORD = _SENTINELS
# App passwords are kept as the hex SHA-256 of the whole password, which this scheme checks.
APP_PASSWORD_SCHEME = "{SHA256.HEX}"
# The app password passdb's extra field naming the row: the auth policy's report carries it
# (services.imap.config), so an IMAP login notes the app password's use as SMTP and POP3 do.
APP_PASSWORD_FIELD = "beaconmail_app_password"
# Named parameters: the pyformat dialects would double each `%` of a literal themselves.
# (PostgreSQL's dialect class has no annotated __init__.)
DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(paramstyle="named"),
    "pgsql": postgresql.dialect(paramstyle="named"),  # type: ignore[no-untyped-call]
}


@dataclass(frozen=True)
class ImapDirectory:
    """What Dovecot needs to find our accounts and their Maildirs."""

    driver: str  # Dovecot's SQL driver: sqlite or pgsql
    connect: str  # its connect string: a file name, or libpq's key='value' pairs
    password_query: str
    app_password_query: str  # the second passdb's: an app password, found by its prefix
    user_query: str
    mail_uid: int  # the owner of the mail root, whose the Maildirs are
    mail_gid: int
    mail_user: str  # its name
    quota_maps: str  # the SQL dict's maps of quota_clone's keys onto imap_usage
    database_owner: str | None  # who owns the SQLite file (the dict writes it); None for PostgreSQL


def imap_directory(settings: Settings) -> ImapDirectory:
    """The queries and connection for the settings' database, and the Maildirs' owner (a
    root-owned mail root is handed over first). Raises ConfigError for a database Dovecot
    cannot read (neither SQLite nor PostgreSQL, or SQLite in memory)."""
    url = make_url(settings.database_url)
    driver = dovecot_driver(settings.database_url)
    settings.mail_root.mkdir(parents=True, exist_ok=True)
    if settings.mail_root.stat().st_uid == 0:
        hand_over(settings.mail_root, ROOTLESS_MAIL_OWNER)
    owner = settings.mail_root.stat()
    dialect = DIALECTS[driver]
    return ImapDirectory(
        driver=driver,
        connect=_connect_string(url, driver),
        password_query=_render(_password_select(), dialect),
        app_password_query=_render(_app_password_select(), dialect),
        user_query=_render(_user_select(settings.mail_root), dialect),
        mail_uid=owner.st_uid,
        mail_gid=owner.st_gid,
        mail_user=pwd.getpwuid(owner.st_uid).pw_name,
        quota_maps=quota_clone_maps(),
        database_owner=_database_owner(settings.database_url),
    )


def _database_owner(database_url: str) -> str | None:
    path = sqlite_file(database_url)
    return None if path is None else pwd.getpwuid(path.stat().st_uid).pw_name


def dovecot_driver(database_url: str) -> str:
    """Dovecot's SQL driver for the database (which Debian package it needs)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise ConfigError(f"BEACONMAIL_DATABASE_URL: IMAP needs an SQLite file, not {url.database or 'memory'}")
        return "sqlite"
    if backend == "postgresql":
        return "pgsql"
    raise ConfigError(f"BEACONMAIL_DATABASE_URL: IMAP (Dovecot) reads SQLite or PostgreSQL, not {backend}")


def _connect_string(url: URL, driver: str) -> str:
    if driver == "sqlite":
        return str(Path(str(url.database)).absolute())
    return libpq_conninfo(url.render_as_string(hide_password=False))


def _login_rule() -> tuple[ColumnElement[bool], ...]:
    return (
        Mailbox.address == _login_address(),
        Mailbox.active.is_(True),
        Domain.active.is_(True),
        Mailbox.imap_enabled.is_(True),
    )


def _login_address() -> ColumnElement[str]:
    """The mailbox address a login names: local@target for local@alias-domain, else the login
    itself (a domain's name is never also an alias domain's: `create_domain` and `add_alias_domain`
    refuse it). One value, uncorrelated, so each database finds the row by mailbox.address's
    unique index as before; a scan matching local parts against alias names would not."""
    target = aliased(Domain)  # not the outer query's domain, which SQLAlchemy would correlate
    on_alias = (
        select(literal_column(_LOGIN_LOCAL) + literal("@") + target.name)
        .join(AliasDomain, AliasDomain.domain_id == target.id)
        .where(AliasDomain.name == literal_column(_LOGIN_DOMAIN))
        .scalar_subquery()
    )
    return func.coalesce(on_alias, literal_column(_LOGIN))


def _password_select() -> Select[str, str]:
    password = case(
        *((Mailbox.password_hash.startswith(prefix), literal(scheme) + Mailbox.password_hash) for prefix, scheme in ARGON2_SCHEMES),
        else_=Mailbox.password_hash,
    )
    # A mailbox with a second factor logs in over IMAP with app passwords only: its main
    # password's row does not match, so Dovecot answers as for a wrong password.
    return (
        select(Mailbox.address.label("user"), password.label("password"))
        .join(Domain)
        .where(*_login_rule(), ~second_factor_of(Mailbox.id))
    )


def _app_password_select() -> Select[str, str, int]:
    """The mailbox's app password that the password's first characters name, if it may log in to
    IMAP and has not expired; Dovecot compares the digest. A revoked one is gone (no row)."""
    prefix = func.substr(literal_column(_LOGIN_PASSWORD), 1, PREFIX_LENGTH)
    return (
        select(
            Mailbox.address.label("user"),
            (literal(APP_PASSWORD_SCHEME) + AppPassword.secret_hash).label("password"),
            AppPassword.id.label(APP_PASSWORD_FIELD),
        )
        .select_from(AppPassword)
        .join(Mailbox, AppPassword.mailbox_id == Mailbox.id)
        .join(Domain, Mailbox.domain_id == Domain.id)
        .where(
            *_login_rule(),
            AppPassword.prefix == prefix,
            AppPassword.imap_enabled.is_(True),
            or_(AppPassword.expires_at.is_(None), AppPassword.expires_at > func.now()),
        )
    )


def _user_select(mail_root: Path) -> Select[str, str]:
    """`home` is the Maildir; `quota_rule` the mailbox's quota (0: none, for Dovecot too)."""
    home = literal(f"{mail_root}/") + Mailbox.maildir
    quota_rule = literal("*:storage=") + cast(Mailbox.quota_bytes, String) + literal("B")
    return select(home.label("home"), quota_rule.label("quota_rule")).join(Domain).where(*_login_rule())


# quota_clone's keys (private to the user) and the imap_usage column each one goes to.
QUOTA_CLONE_KEYS = (("priv/quota/storage", ImapUsage.used_bytes), ("priv/quota/messages", ImapUsage.messages))


def quota_clone_maps() -> str:
    """The `map` blocks of Dovecot's SQL dict for quota_clone, from the model. Both keys map to
    one table and user, so the dict writes them in one statement (and the triggers fire once)."""
    blocks = [
        f"map {{\n  pattern = {key}\n  table = {ImapUsage.__tablename__}\n"
        f"  username_field = {ImapUsage.address.key}\n  value_field = {column.key}\n  value_type = uint\n}}"
        for key, column in QUOTA_CLONE_KEYS
    ]
    return "\n".join(blocks) + "\n"


def _render(statement: Select[str, str] | Select[str, str, int], dialect: Dialect) -> str:
    text = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    text = text.replace("\n", " ").replace("%", "%%")
    for sentinel, variable in _SENTINELS.items():
        text = text.replace(sentinel, f"'{variable}'")
    return text
