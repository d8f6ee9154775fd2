"""The `beaconmail` command as scripts use it: the installed console script in a subprocess."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from services.admin import create_app
from services.cli import main
from shared import accounts
from shared.accounts import second_factors
from shared.accounts.permissions import scope_of
from shared.accounts.views import CONSOLE, Actor
from shared.config import Settings
from shared.errors import AuthFailed
from shared.storage.db import Database
from tests.conftest import require_user_attributes

BEACONMAIL = str(Path(sys.executable).with_name("beaconmail"))


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `beaconmail` in this process (a subprocess per command costs a second of imports)."""
    for name in list(os.environ):
        if name.startswith("BEACONMAIL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BEACONMAIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BEACONMAIL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BEACONMAIL_SECRET_KEY", "cli-test")

    def run(*args: str, stdin: str | None = None) -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def ok(result: Result) -> str:
    assert result.code == 0, result.err
    return result.out


def fails(result: Result) -> str:
    """A failure: non-zero exit, exactly one line on stderr."""
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


@pytest.fixture
def initialised(run):  # type: ignore[no-untyped-def]
    ok(run("init"))
    ok(run("domain", "add", "Example.COM", "--max-mailboxes", "3", "--max-aliases", "2", "--quota", "10M"))
    return run


def test_init_is_repeatable_and_commands_need_it(run) -> None:  # type: ignore[no-untyped-def]
    assert "run `beaconmail init`" in fails(run("domain", "list"))
    ok(run("init"))
    ok(run("init"))
    assert ok(run("domain", "list")) == ""


def test_init_keeps_uidls_of_messages_stored_before_the_attribute_once(run, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """The upgrade's init says what it stamped; every init after it prints what init always printed."""
    old = settings.mail_root / "example.com" / "alice" / "cur" / "1700000000.M1P1Q1R0.mx,S=5"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"12345")
    require_user_attributes(old.parent)
    first = ok(run("init")).splitlines()
    assert first[1:] == ["uidls kept on 1 messages"]
    assert os.getxattr(old, "user.beaconmail.uidl") == b"1700000000.M1P1Q1R0.mx"
    assert len(ok(run("init")).splitlines()) == 1


def test_domain_add_list_remove(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("domain", "add", "bücher.example", "--default-mailbox-quota", "1K"))
    lines = ok(run("domain", "list")).splitlines()
    assert lines == [
        "example.com\tyes\t3\t2\t10485760\t0",
        "bücher.example\tyes\t0\t0\t0\t0",
    ]
    records = json.loads(ok(run("domain", "list", "--json")))
    assert {r["name"]: r["max_mailboxes"] for r in records} == {"example.com": 3, "bücher.example": 0}
    assert all({"name", "active", "max_aliases", "quota_bytes", "mailboxes"} <= r.keys() for r in records)
    assert "already exists" in fails(run("domain", "add", "EXAMPLE.com"))
    assert "invalid domain" in fails(run("domain", "add", "not a domain"))
    assert "not a size" in fails(run("domain", "add", "x.example", "--quota", "ten"))
    ok(run("domain", "remove", "bücher.example"))
    assert "unknown domain" in fails(run("domain", "remove", "bücher.example"))
    assert [r["name"] for r in json.loads(ok(run("domain", "list", "--json")))] == ["example.com"]


def test_domain_sender_lists(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    assert ok(run("domain", "allow", "example.com", "Partner@Bücher.example")) == (
        "sender allowed for example.com: partner@xn--bcher-kva.example\n"
    )
    assert ok(run("domain", "block", "example.com", "@Spam.Example")) == "sender blocked for example.com: spam.example\n"
    ok(run("domain", "block", "example.com", "partner@bücher.example"))  # replaces the allow
    lines = ok(run("domain", "senders", "example.com")).splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["partner@bücher.example", "block"],
        ["spam.example", "block"],
    ]
    records = json.loads(ok(run("domain", "senders", "example.com", "--json")))
    assert [(r["sender"], r["listing"]) for r in records] == [("partner@bücher.example", "block"), ("spam.example", "block")]
    assert all(set(r) == {"sender", "listing", "created"} and r["created"].endswith("+00:00") for r in records)
    assert lines[0].split("\t")[2] == records[0]["created"]
    assert ok(run("domain", "unlist", "example.com", "spam.example")) == "sender unlisted for example.com: spam.example\n"
    assert [r["sender"] for r in json.loads(ok(run("domain", "senders", "example.com", "--json")))] == [
        "partner@bücher.example"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("domain", "allow", "unknown.example", "a@b.example"), "unknown domain: unknown.example"),
        (("domain", "senders", "unknown.example"), "unknown domain: unknown.example"),
        (("domain", "block", "example.com", "a b@c.example"), "invalid sender: 'a b@c.example' (give local@domain, domain or @domain)"),
        (("domain", "block", "example.com", "*@spam.example"), "invalid sender: '*@spam.example': no wildcards; list a whole domain as example.com"),
        (("domain", "allow", "example.com", "a\nb@c.example"), "invalid sender: 'a\\nb@c.example' holds control characters"),
        (("domain", "unlist", "example.com", "a@b.example"), "sender not listed for example.com: a@b.example"),
        (("domain", "checks", "example.com", "maybe"), "Invalid value for '{on|off}': 'maybe' is not one of 'on', 'off'."),
        (("domain", "checks", "unknown.example", "off"), "unknown domain: unknown.example"),
    ],
)
def test_sender_list_mistakes_are_one_line(initialised, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    assert fails(initialised(*args)) == f"beaconmail: {message}"
    assert ok(initialised("domain", "senders", "example.com")) == ""


def test_domain_checks_switch(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    assert json.loads(ok(run("domain", "list", "--json")))[0]["inbound_checks"] is True
    assert ok(run("domain", "checks", "example.com", "off")) == "inbound checks off: example.com\n"
    assert json.loads(ok(run("domain", "list", "--json")))[0]["inbound_checks"] is False
    ok(run("domain", "checks", "Example.COM", "on"))
    assert json.loads(ok(run("domain", "list", "--json")))[0]["inbound_checks"] is True


def test_domain_forwarding_switch(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("mailbox", "add", "alice@example.com", "--password", "x-password-1"))
    assert json.loads(ok(run("domain", "list", "--json")))[0]["forbid_external_forwarding"] is False
    assert ok(run("domain", "forwarding", "Example.COM", "internal")) == "forwarding internal: example.com\n"
    assert json.loads(ok(run("domain", "list", "--json")))[0]["forbid_external_forwarding"] is True
    assert fails(run("domain", "forwarding", "example.com", "off")) == (
        "beaconmail: Invalid value for '{external|internal}': 'off' is not one of 'external', 'internal'."
    )
    assert fails(run("domain", "forwarding", "unknown.example", "external")) == "beaconmail: unknown domain: unknown.example"
    assert ok(run("domain", "forwarding", "example.com", "external")) == "forwarding external: example.com\n"
    assert json.loads(ok(run("domain", "list", "--json")))[0]["forbid_external_forwarding"] is False


def test_domain_two_factor_requirement(db: Database, initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    assert json.loads(ok(run("domain", "list", "--json")))[0]["require_2fa"] is False
    assert ok(run("domain", "add", "strict.example", "--require-2fa")) == "domain added: strict.example\n"
    assert accounts.get_domain(db, "strict.example", actor=CONSOLE).require_2fa is True
    assert ok(run("domain", "set", "Example.COM", "--require-2fa")) == "two-factor sign-in required: example.com\n"
    assert accounts.get_domain(db, "example.com", actor=CONSOLE).require_2fa is True
    assert ok(run("domain", "set", "example.com", "--no-require-2fa")) == "two-factor sign-in not required: example.com\n"
    assert accounts.get_domain(db, "example.com", actor=CONSOLE).require_2fa is False
    assert fails(run("domain", "set", "example.com")) == "beaconmail: give --require-2fa or --no-require-2fa"
    assert fails(run("domain", "set", "nowhere.example", "--require-2fa")) == "beaconmail: unknown domain: nowhere.example"
    assert [e.detail for e in accounts.list_audit(db, actor=CONSOLE, action="domain.update")][:2] == [
        "require_2fa=False", "require_2fa=True"
    ]


def test_mailbox_2fa_reset(db: Database, initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("mailbox", "add", "ann@example.com", "--password", "ann-password-1"))
    owner = Actor(scope_of("ann@example.com", is_global_admin=False, managed_domains=()))
    secret = second_factors.begin_totp(db, "ann@example.com", actor=owner).secret
    second_factors.confirm_totp(db, "ann@example.com", pyotp.TOTP(secret).now(), actor=owner)
    assert second_factors.list_second_factors(db, "ann@example.com", actor=CONSOLE).any
    assert ok(run("mailbox", "2fa", "reset", "ann@example.com")) == "second factors removed: ann@example.com\n"
    assert not second_factors.list_second_factors(db, "ann@example.com", actor=CONSOLE).any
    assert [(e.actor, e.target) for e in accounts.list_audit(db, actor=CONSOLE, action="2fa.reset")] == [
        ("cli", "ann@example.com")
    ]
    assert fails(run("mailbox", "2fa", "reset", "nobody@example.com")) == "beaconmail: unknown mailbox: nobody@example.com"
    assert fails(run("mailbox", "2fa", "reset", "not an address")) == "beaconmail: invalid address: 'not an address'"


def test_mailbox_lifecycle(initialised, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("mailbox", "add", "Alice@example.com", "--password", "pw-a-123456", "--quota", "1M", "--name", "Alice A"))
    ok(run("mailbox", "add", "bob@example.com", "--password-stdin", stdin="pw b 123456\n"))
    assert (settings.mail_root / "example.com" / "alice" / "new").is_dir()
    records = {r["address"]: r for r in json.loads(ok(run("mailbox", "list", "--json")))}
    assert records["alice@example.com"]["quota_bytes"] == 1024 * 1024
    assert records["alice@example.com"]["name"] == "Alice A"
    assert records["bob@example.com"]["used_bytes"] == 0 and records["bob@example.com"]["messages"] == 0
    assert ok(run("mailbox", "list", "example.com")).splitlines()[0].startswith("alice@example.com\tAlice A\t1048576")
    assert "unknown domain" in fails(run("mailbox", "list", "other.example"))

    assert "exactly one of --password" in fails(run("mailbox", "add", "c@example.com"))
    assert "exactly one of --password" in fails(run("mailbox", "add", "c@example.com", "--password", "x-password-1", "--password-stdin"))
    assert "nothing on standard input" in fails(run("mailbox", "add", "c@example.com", "--password-stdin", stdin=""))
    assert "already" in fails(run("mailbox", "add", "ALICE@example.com", "--password", "x-password-1"))
    assert "invalid" in fails(run("mailbox", "add", "no-at-sign", "--password", "x-password-1"))
    assert "unknown domain" in fails(run("mailbox", "add", "c@elsewhere.example", "--password", "x-password-1"))
    assert "must not exceed" in fails(run("mailbox", "add", "c@example.com", "--password", "x-password-1", "--quota", "11M"))

    ok(run("mailbox", "passwd", "alice@example.com", "--password-stdin", stdin="new-pw-123456\n"))
    assert "unknown mailbox" in fails(run("mailbox", "passwd", "zed@example.com", "--password", "x-password-1"))
    ok(run("mailbox", "remove", "bob@example.com"))
    assert not (settings.mail_root / "example.com" / "bob").exists()
    assert "unknown mailbox" in fails(run("mailbox", "remove", "bob@example.com"))


def test_mailbox_limit_is_enforced(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    for name in ("a", "b", "c"):
        ok(run("mailbox", "add", f"{name}@example.com", "--password", "x-password-1"))
    assert "maximum of 3 mailboxes" in fails(run("mailbox", "add", "d@example.com", "--password", "x-password-1"))
    assert len(json.loads(ok(run("mailbox", "list", "--json")))) == 3


def test_roles(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("mailbox", "add", "boss@example.com", "--password", "x-password-1"))
    assert "global-admin" in ok(run("mailbox", "grant", "boss@example.com", "--global"))
    assert "manager:example.com" in ok(run("mailbox", "grant", "boss@example.com", "--domain", "example.com"))
    roles = json.loads(ok(run("mailbox", "list", "--json")))[0]["roles"]
    assert roles == ["global-admin", "manager:example.com"]
    ok(run("mailbox", "revoke", "boss@example.com", "--global"))
    assert json.loads(ok(run("mailbox", "list", "--json")))[0]["roles"] == ["manager:example.com"]
    assert "exactly one" in fails(run("mailbox", "grant", "boss@example.com"))
    assert "unknown domain" in fails(run("mailbox", "grant", "boss@example.com", "--domain", "nope.example"))


def test_aliases_and_catch_all(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("mailbox", "add", "alice@example.com", "--password", "x-password-1"))
    ok(run("alias", "add", "info@example.com", "alice@example.com", "friend@remote.example"))
    ok(run("alias", "add", "@example.com", "alice@example.com"))
    records = json.loads(ok(run("alias", "list", "--json")))
    assert records == [
        {"source": "@example.com", "destinations": ["alice@example.com"]},
        {"source": "info@example.com", "destinations": ["alice@example.com", "friend@remote.example"]},
    ]
    assert ok(run("alias", "list", "example.com")).splitlines()[1] == "info@example.com\talice@example.com,friend@remote.example"
    assert "maximum of 2 aliases" in fails(run("alias", "add", "sales@example.com", "alice@example.com"))
    assert "already" in fails(run("alias", "add", "alice@example.com", "info@example.com"))
    assert "unknown domain" in fails(run("alias", "add", "x@nope.example", "alice@example.com"))
    assert fails(run("alias", "add", "x@example.com")).startswith("beaconmail: ")
    ok(run("alias", "remove", "info@example.com"))
    assert "unknown alias" in fails(run("alias", "remove", "info@example.com"))


def test_alias_to_an_unknown_hosted_address_is_refused(initialised) -> None:  # type: ignore[no-untyped-def]
    """Mail to it would be accepted and then bounce. (Destinations must exist, so creating
    aliases alone cannot close a loop; the use cases' tests change one to try.)"""
    run = initialised
    result = run("alias", "add", "one@example.com", "two@example.com")
    assert result.code == 1
    assert fails(result) == "beaconmail: no mailbox, alias or group at two@example.com"
    assert "two@example.com" in fails(run("group", "add", "team@example.com", "--member", "two@example.com"))
    ok(run("alias", "add", "two@example.com", "friend@remote.example"))
    ok(run("alias", "add", "one@example.com", "two@example.com"))
    assert [r["source"] for r in json.loads(ok(run("alias", "list", "--json")))] == ["one@example.com", "two@example.com"]


def test_groups(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("mailbox", "add", "alice@example.com", "--password", "x-password-1"))
    ok(run("group", "add", "team@example.com", "--member", "alice@example.com", "--member", "ext@remote.example", "--policy", "members"))
    assert json.loads(ok(run("group", "list", "--json"))) == [
        {"address": "team@example.com", "members": ["alice@example.com", "ext@remote.example"], "policy": "members"}
    ]
    assert "Invalid value" in fails(run("group", "add", "g2@example.com", "--member", "a@example.com", "--policy", "some"))
    assert "Missing option" in fails(run("group", "add", "g2@example.com"))
    ok(run("group", "remove", "team@example.com"))
    assert "unknown group" in fails(run("group", "remove", "team@example.com"))


def test_quota_recalc_reports_each_mailbox(initialised, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("mailbox", "add", "alice@example.com", "--password", "x-password-1"))
    stray = settings.mail_root / "example.com" / "alice" / "cur" / "1.M1P1.host,S=5"
    stray.write_bytes(b"12345")
    assert ok(run("quota", "recalc")).splitlines() == ["alice@example.com\tfixed\t0->5\t0->1"]
    assert ok(run("quota", "recalc", "alice@example.com")).splitlines() == ["alice@example.com\tok\t5->5\t1->1"]
    assert json.loads(ok(run("mailbox", "list", "--json")))[0]["used_bytes"] == 5
    assert "unknown mailbox" in fails(run("quota", "recalc", "nobody@example.com"))


def test_console_script_contract(settings: Settings) -> None:
    """The installed `beaconmail` script: exit codes and one-line errors as other tools see them."""
    env = {"PATH": "/usr/bin:/bin", "BEACONMAIL_DATA_DIR": str(settings.data_dir), "BEACONMAIL_DATABASE_URL": settings.database_url}

    def script(*args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([BEACONMAIL, *args], capture_output=True, text=True, env=env | (extra or {}), timeout=60)

    assert script("init").returncode == 0
    added = script("domain", "add", "example.com")
    assert (added.returncode, added.stdout) == (0, "domain added: example.com\n")
    listed = script("domain", "list")
    assert listed.stdout.startswith("example.com\tyes\t")
    for failure, code, text in (
        (script("domain", "add", "example.com"), 1, "already exists"),
        (script("frobnicate"), 2, "No such command"),
        (script("domain", "list", extra={"BEACONMAIL_SMTP_PORT": "seventy"}), 2, "BEACONMAIL_SMTP_PORT"),
    ):
        assert failure.returncode == code
        assert len(failure.stderr.strip().splitlines()) == 1 and text in failure.stderr


def test_api_tokens_create_list_revoke(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("mailbox", "add", "boss@example.com", "--password", "x-password-1"))
    ok(run("mailbox", "grant", "boss@example.com", "--global"))
    ok(run("mailbox", "add", "staff@example.com", "--password", "x-password-1"))
    created = run("token", "create", "--user", "Boss@Example.com", "--scope", "write", "--domain", "example.com", "--expires", "30", "--name", "deploy")
    scoped = ok(created)
    assert created.err == "" and scoped.count("\n") == 1 and scoped.startswith("bm_")  # the secret alone
    everything = ok(run("token", "create", "--user", "boss@example.com"))  # read only unless asked
    assert everything != scoped

    records = json.loads(ok(run("token", "list", "--json")))
    assert [(r["name"], r["owner"], r["access"], r["domains"]) for r in records] == [
        ("cli", "boss@example.com", "read", []),
        ("deploy", "boss@example.com", "write", ["example.com"]),
    ]
    assert records[0]["expires_at"] is None and records[1]["expires_at"] > records[1]["created_at"]
    assert scoped.startswith(f"bm_{records[1]['prefix']}.") and records[1]["last_used_at"] is None
    newest = ok(run("token", "list")).splitlines()[0]
    assert newest == f"{records[0]['id']}\tboss@example.com\tcli\t{records[0]['prefix']}\tread\t*\tnever"
    assert len(ok(run("token", "list", "--user", "BOSS@example.com")).splitlines()) == 2
    assert ok(run("token", "list", "--user", "staff@example.com")) == ""

    assert "unknown mailbox" in fails(run("token", "list", "--user", "nobody@example.com"))
    assert "only global admins and domain managers" in fails(run("token", "create", "--user", "staff@example.com", "--scope", "read"))
    assert "unknown mailbox" in fails(run("token", "create", "--user", "nobody@example.com", "--scope", "read"))
    assert "unknown domain" in fails(run("token", "create", "--user", "boss@example.com", "--scope", "read", "--domain", "nope.example"))
    assert "Missing option '--user'" in fails(run("token", "create", "--scope", "read"))
    assert "Invalid value for '--scope'" in fails(run("token", "create", "--user", "boss@example.com", "--scope", "admin"))
    assert "Invalid value for '--expires'" in fails(run("token", "create", "--user", "boss@example.com", "--scope", "read", "--expires", "0"))
    assert "Invalid value for 'ID'" in fails(run("token", "revoke", "first"))

    assert ok(run("token", "revoke", str(records[1]["id"]))) == f"token revoked: {records[1]['id']}\n"
    assert f"unknown token: {records[1]['id']}" in fails(run("token", "revoke", str(records[1]["id"])))
    assert [r["name"] for r in json.loads(ok(run("token", "list", "--json")))] == ["cli"]


def test_a_send_token_for_any_mailbox(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("mailbox", "add", "staff@example.com", "--password", "x-password-1"))
    assert ok(run("token", "create", "--user", "staff@example.com", "--scope", "send", "--name", "shop")).startswith("bm_")
    (record,) = json.loads(ok(run("token", "list", "--json")))
    assert (record["owner"], record["name"], record["access"], record["domains"]) == ("staff@example.com", "shop", "send", [])
    assert "takes no domains" in fails(run("token", "create", "--user", "staff@example.com", "--scope", "send", "--domain", "example.com"))


def test_a_token_made_by_the_console_script_works_against_the_api(settings: Settings, db: Database) -> None:
    """The installed script prints a secret that the JSON API accepts with the scope asked for, until revoked."""
    env = {"PATH": "/usr/bin:/bin", "BEACONMAIL_DATA_DIR": str(settings.data_dir), "BEACONMAIL_DATABASE_URL": settings.database_url}

    def script(*args: str) -> str:
        done = subprocess.run([BEACONMAIL, *args], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
        return done.stdout

    for name in ("example.com", "other.example"):
        accounts.create_domain(db, name, actor=CONSOLE)
    accounts.create_mailbox(db, "boss@example.com", "x", actor=CONSOLE)
    accounts.grant_role(db, "boss@example.com", global_admin=True, actor=CONSOLE)
    secret = script("token", "create", "--user", "boss@example.com", "--scope", "read", "--domain", "example.com").rstrip("\n")
    api = create_app(settings, database=db).test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    listed = api.get("/api/v1/domains", headers=headers)
    assert listed.status_code == 200 and [d["name"] for d in listed.get_json()["items"]] == ["example.com"]
    assert api.get("/api/v1/domains/other.example", headers=headers).status_code == 404
    assert api.post("/api/v1/domains", json={"name": "new.example"}, headers=headers).status_code == 403  # read only
    token_id = json.loads(script("token", "list", "--json"))[0]["id"]
    script("token", "revoke", str(token_id))
    assert api.get("/api/v1/domains", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("mailbox", "remove", "bad"), "invalid address: 'bad'"),
        (("mailbox", "passwd", "bad", "--password", "x-password-1"), "invalid address: 'bad'"),
        (("mailbox", "grant", "bad", "--global"), "invalid address: 'bad'"),
        (("mailbox", "revoke", "a@b.example", "--domain", "bad..x"), "invalid domain: 'bad..x': it has an empty label (two dots in a row, or a dot first)"),
        (("mailbox", "list", "bad..x"), "invalid domain: 'bad..x': it has an empty label (two dots in a row, or a dot first)"),
        (("domain", "remove", "bad..x"), "invalid domain: 'bad..x': it has an empty label (two dots in a row, or a dot first)"),
        (("domain", "alias-add", "bad..x", "unknown.example"), "invalid domain: 'bad..x': it has an empty label (two dots in a row, or a dot first)"),
        (("alias", "remove", "bad"), "invalid address: 'bad'"),
        (("group", "remove", "bad"), "invalid address: 'bad'"),
        (("token", "list", "--user", "bad"), "invalid address: 'bad'"),
    ],
)
def test_a_malformed_name_is_called_invalid_not_unknown(initialised, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    """The use cases answer "unknown" for anything malformed (the portal's URLs must not tell
    the two apart); at the console the operator is told what is wrong with what they typed."""
    result = initialised(*args)
    assert result.code == 1
    assert fails(result) == f"beaconmail: {message}"


def test_an_unusable_database_url_is_one_line(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BEACONMAIL_DATABASE_URL", "nonsense://")
    result = run("domain", "list")
    assert result.code == 2
    assert fails(result).startswith("beaconmail: database error: ")


def test_international_domains_are_listed_in_unicode_and_taken_in_both_forms(initialised) -> None:  # type: ignore[no-untyped-def]
    run = initialised
    ok(run("domain", "add", "xn--bcher-kva.example"))
    ok(run("mailbox", "add", "jill@bücher.example", "--password", "long-enough-1"))
    assert "jill@bücher.example" in ok(run("mailbox", "list", "xn--bcher-kva.example"))
    assert json.loads(ok(run("domain", "list", "--json")))[-1]["name"] == "bücher.example"
    ok(run("mailbox", "remove", "jill@xn--bcher-kva.example"))
    assert ok(run("mailbox", "list", "bücher.example")) == ""


def test_app_passwords(run, db: Database) -> None:  # type: ignore[no-untyped-def]
    ok(run("domain", "add", "example.com"))
    ok(run("mailbox", "add", "alice@example.com", "--password", "x-password-1"))
    everything = ok(run("mailbox", "app-password", "add", "Alice@example.com", "--name", "laptop"))
    assert everything.count("\n") == 1 and accounts.authenticate(db, "alice@example.com", everything.strip(), "imap", "192.0.2.1")
    mail_only = ok(run("mailbox", "app-password", "add", "alice@example.com", "--name", "phone", "--protocol", "smtp",
                       "--protocol", "pop3", "--expires", "30")).strip()
    assert accounts.authenticate(db, "alice@example.com", mail_only, "pop3", "192.0.2.1")
    with pytest.raises(AuthFailed):
        accounts.authenticate(db, "alice@example.com", mail_only, "imap", "192.0.2.1")
    listed = json.loads(ok(run("mailbox", "app-password", "list", "alice@example.com", "--json")))
    assert [list(record) for record in listed] == [
        ["id", "name", "protocols", "created_at", "expires_at", "last_used_at", "last_used_from"]
    ] * 2
    laptop, phone = listed
    assert (laptop["name"], laptop["protocols"], laptop["expires_at"], laptop["last_used_from"]) == (
        "laptop", ["smtp", "pop3", "imap"], None, "192.0.2.1"
    )
    assert phone["protocols"] == ["smtp", "pop3"] and phone["expires_at"] and phone["last_used_from"] == "192.0.2.1"
    assert everything.strip() not in json.dumps(listed)
    lines = ok(run("mailbox", "app-password", "list", "alice@example.com")).splitlines()
    assert lines[0].split("\t")[1:3] == ["laptop", "smtp,pop3,imap"] and lines[0].split("\t")[4] == "never"
    assert lines[1].split("\t")[5:] != ["never", "-"]  # phone was used
    assert ok(run("mailbox", "app-password", "revoke", "alice@example.com", str(phone["id"]))) == f"app password revoked: {phone['id']}\n"
    with pytest.raises(AuthFailed):
        accounts.authenticate(db, "alice@example.com", mail_only, "pop3", "192.0.2.1")
    assert "has no app password" in fails(run("mailbox", "app-password", "revoke", "alice@example.com", str(phone["id"])))
    assert "unknown mailbox" in fails(run("mailbox", "app-password", "add", "zed@example.com", "--name", "x"))
    assert "'ftp'" in fails(run("mailbox", "app-password", "add", "alice@example.com", "--name", "x", "--protocol", "ftp"))
    assert "--name" in fails(run("mailbox", "app-password", "add", "alice@example.com"))
    assert "needs a name" in fails(run("mailbox", "app-password", "add", "alice@example.com", "--name", " "))
    assert fails(run("mailbox", "app-password", "add", "alice@example.com", "--name", "x", "--expires", "0"))


def test_the_password_rule_on_the_command_line(run, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ok(run("domain", "add", "example.com"))
    assert fails(run("mailbox", "add", "x@example.com", "--password", "b")) == "beaconmail: the password must have at least 10 characters"
    ok(run("mailbox", "add", "x@example.com", "--password", "0123456789"))
    assert "at least 10" in fails(run("mailbox", "passwd", "x@example.com", "--password-stdin", stdin="short\n"))
    monkeypatch.setenv("BEACONMAIL_PASSWORD_MIN_LENGTH", "16")
    assert "at least 16" in fails(run("mailbox", "passwd", "x@example.com", "--password", "0123456789"))
