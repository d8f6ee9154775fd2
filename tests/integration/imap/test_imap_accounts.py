"""`beaconmail imap`: Dovecot logs in our accounts from our tables, on both databases."""
from __future__ import annotations

import imaplib
import subprocess
import uuid

import pyotp
import pytest
from passlib.hash import argon2, bcrypt, sha512_crypt

from services.cli import main
from shared.accounts import (
    add_alias_domain,
    get_mailbox,
    remove_alias_domain,
    remove_domain,
    remove_mailbox,
    second_factors,
    set_password,
    update_domain,
    update_mailbox,
)
from shared.accounts.passwords import CONTEXT
from shared.accounts.permissions import scope_of
from shared.accounts.views import CONSOLE, Actor
from tests.integration.pop3.support import RunningServer, deliver_to
from tests.integration.pop3.support import login as pop3_login

from .conftest import ImapWorld
from .support import (
    PASSWORD,
    can_login,
    client_context,
    curl,
    imap_messages,
    imap_plain,
    login,
    login_refused_afresh,
    within_contract,
)

CAPABILITIES = {"IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "QUOTA", "CONDSTORE", "NAMESPACE", "ENABLE"}
pytestmark = pytest.mark.integration
FOREIGN_ARGON2 = argon2.using(parallelism=4, memory_cost=19456, rounds=2)
MESSAGE = b"Subject: to the alias domain\r\nFrom: a@remote.example\r\n\r\nhello\r\n"


def test_login_over_starttls_and_implicit_tls_gives_the_capabilities(imap_world: ImapWorld) -> None:
    address, _id = imap_world.new_mailbox()
    with imap_plain(imap_world.settings) as client:
        client.starttls(client_context(imap_world.settings))
        client.login(address.upper(), PASSWORD)  # the address in any case
        assert capabilities(client) >= CAPABILITIES
    with login(imap_world.settings, address, PASSWORD) as client:
        assert capabilities(client) >= CAPABILITIES


def capabilities(client: imaplib.IMAP4) -> set[str]:
    """Asked again: imaplib keeps the ones from before the login."""
    return set(client.capability()[1][0].decode().upper().split())  # type: ignore[index, union-attr]


def test_a_loopback_client_may_log_in_before_tls(imap_world: ImapWorld) -> None:
    address, _id = imap_world.new_mailbox()
    with imap_plain(imap_world.settings) as client:
        assert "LOGINDISABLED" not in client.capabilities
        assert client.login(address, PASSWORD)[0] == "OK"


@pytest.mark.parametrize("stored", [
    pytest.param(lambda pw: CONTEXT.hash(pw), id="ours-argon2id"),
    pytest.param(lambda pw: "{SHA512-CRYPT}" + sha512_crypt.hash(pw), id="SHA512-CRYPT"),
    pytest.param(lambda pw: "{BLF-CRYPT}" + bcrypt.using(ident="2y").hash(pw), id="BLF-CRYPT"),
    pytest.param(lambda pw: "{ARGON2ID}" + CONTEXT.hash(pw), id="ARGON2ID"),
    pytest.param(lambda pw: sha512_crypt.hash(pw), id="bare-sha512-crypt"),
    # From other argon2 implementations: libsodium computes only parallelism 1 but verifies any.
    pytest.param(lambda pw: "{ARGON2ID}" + FOREIGN_ARGON2.hash(pw), id="ARGON2ID-parallelism-4"),
    pytest.param(lambda pw: FOREIGN_ARGON2.using(type="I").hash(pw), id="bare-argon2i"),
])
def test_every_hash_scheme_we_accept_logs_in(imap_world: ImapWorld, stored: object) -> None:
    address, _id = imap_world.new_mailbox(stored(PASSWORD), password_is_hash=True)  # type: ignore[operator]
    assert can_login(imap_world.settings, address, PASSWORD)
    assert not can_login(imap_world.settings, address, PASSWORD + "x")


def test_refused_at_once_when_disabled_removed_or_the_password_changed(imap_world: ImapWorld) -> None:
    settings, db = imap_world.settings, imap_world.db
    address, _id = imap_world.new_mailbox()
    assert can_login(settings, address, PASSWORD)
    set_password(db, address, "the new one", actor=CONSOLE)
    assert not can_login(settings, address, PASSWORD)
    assert can_login(settings, address, "the new one")
    update_mailbox(db, address, imap_enabled=False, actor=CONSOLE)
    assert not can_login(settings, address, "the new one")
    update_mailbox(db, address, imap_enabled=True, active=False, actor=CONSOLE)
    assert not can_login(settings, address, "the new one")
    update_mailbox(db, address, active=True, actor=CONSOLE)
    assert can_login(settings, address, "the new one")
    remove_mailbox(db, address, actor=CONSOLE)
    assert not can_login(settings, address, "the new one")


def test_a_disabled_domain_refuses_its_mailboxes(imap_world: ImapWorld) -> None:
    from shared.accounts import create_domain, create_mailbox

    create_domain(imap_world.db, "off.example", actor=CONSOLE)
    create_mailbox(imap_world.db, "ann@off.example", PASSWORD, actor=CONSOLE)
    assert can_login(imap_world.settings, "ann@off.example", PASSWORD)
    update_domain(imap_world.db, "off.example", active=False, actor=CONSOLE)
    assert not can_login(imap_world.settings, "ann@off.example", PASSWORD)
    remove_domain(imap_world.db, "off.example", actor=CONSOLE)


def test_a_login_at_an_alias_domain_is_the_target_domains_mailbox(imap_world: ImapWorld) -> None:
    """As `mailboxes.authenticate` (SMTP, POP3): local@alias logs in to local@domain; Dovecot is
    told the canonical address, so the Maildir, the indexes and the quota totals are that one's."""
    db, settings = imap_world.db, imap_world.settings
    alias = f"alias-{uuid.uuid4().hex[:8]}.example"
    add_alias_domain(db, alias, imap_world.domain, actor=CONSOLE)
    address, mailbox_id = imap_world.new_mailbox()
    at_alias = f"{address.split('@')[0]}@{alias.upper()}"  # the domain in any case, as the address's
    deliver_to(db, mailbox_id, MESSAGE)
    with login(settings, address, PASSWORD) as client:
        delivered = imap_messages(client)
    with login(settings, at_alias, PASSWORD) as client:
        assert imap_messages(client) == delivered and len(delivered) == 1
        assert client.append("Sent", None, None, MESSAGE)[0] == "OK"
    with login(settings, address, PASSWORD) as client:
        assert imap_messages(client, "Sent") == [MESSAGE]
    # quota_clone wrote its totals under the user Dovecot was given: the mailbox's counters count both.
    assert within_contract(lambda: get_mailbox(db, address, actor=CONSOLE).messages == 2)
    remove_alias_domain(db, alias, actor=CONSOLE)
    assert login_refused_afresh(settings, at_alias, PASSWORD)


def test_special_folders_exist_at_first_login_and_quota_is_the_mailboxes(imap_world: ImapWorld) -> None:
    address, _id = imap_world.new_mailbox(quota_bytes=10 * 1024 * 1024)
    with login(imap_world.settings, address, PASSWORD) as client:
        listed = b"\n".join(client.list()[1])  # type: ignore[arg-type]
        for folder in (b"Sent", b"Drafts", b"Trash", b"Junk"):
            assert b"\\" + folder + b") \"/\" " + folder in listed
        assert client.lsub()[1] and len(client.lsub()[1]) >= 4
        typ, data = client.getquotaroot("INBOX")
        assert typ == "OK" and b"STORAGE 0 10240" in b" ".join(d for group in data for d in group)  # type: ignore[union-attr]


def test_curl_lists_the_folders_over_imaps(imap_world: ImapWorld) -> None:
    address, _id = imap_world.new_mailbox()
    cert = imap_world.settings.data_dir / "tls" / "cert.pem"
    result = subprocess.run(
        [curl(), "-sS", "--cacert", str(cert), "--user", f"{address}:{PASSWORD}",
         f"imaps://localhost:{imap_world.settings.imaps_port}/"],
        capture_output=True, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert b"Junk" in result.stdout and b"INBOX" in result.stdout


def test_without_dovecot_imap_prints_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], imap_world: ImapWorld
) -> None:
    from tests.integration.imap.support import environment

    for name, value in environment(imap_world.settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("services.imap.server.DOVECOT", imap_world.settings.data_dir / "no-dovecot")
    assert main(["imap"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "apt-get install dovecot-imapd dovecot-" in lines[0], lines



def test_an_argon2d_hash_dovecot_cannot_read_logs_in_once_a_pop3_login_replaced_it(
    imap_world: ImapWorld, pop3: RunningServer
) -> None:
    """passlib reads an imported `$argon2d$` hash, Dovecot has no scheme for it: IMAP refuses it
    as a wrong password (NO, not BAD or a temporary failure) until our first login elsewhere
    replaces the hash with ours."""
    stored = FOREIGN_ARGON2.using(type="D").hash(PASSWORD)
    address, _id = imap_world.new_mailbox(stored, password_is_hash=True)
    assert login_refused_afresh(imap_world.settings, address, PASSWORD)
    pop3_login(pop3, address, PASSWORD).quit()
    assert can_login(imap_world.settings, address, PASSWORD)


def test_a_mailbox_with_a_second_factor_logs_in_without_its_main_password_only(imap_world: ImapWorld) -> None:
    """Its main password's row no longer matches Dovecot's passdb query: refused as a wrong
    password is (app passwords, in their own rows, are what mail programs use then)."""
    settings, db = imap_world.settings, imap_world.db
    address, _id = imap_world.new_mailbox()
    assert can_login(settings, address, PASSWORD)
    owner = Actor(scope_of(address, is_global_admin=False, managed_domains=()))
    secret = second_factors.begin_totp(db, address, actor=owner).secret
    assert can_login(settings, address, PASSWORD)  # an unconfirmed app is no factor yet
    second_factors.confirm_totp(db, address, pyotp.TOTP(secret).now(), actor=owner)
    assert login_refused_afresh(settings, address, PASSWORD)
    second_factors.remove_second_factors(db, address, actor=CONSOLE)
    assert can_login(settings, address, PASSWORD)
