"""Account use cases on both databases: every success and failure path, audit, roles, logins."""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import bcrypt
import pytest
from argon2 import PasswordHasher
from passlib.hash import sha512_crypt
from sqlalchemy import select

from shared.accounts import (
    Actor,
    add_alias_domain,
    authenticate,
    count_mailboxes,
    create_alias,
    create_domain,
    create_group,
    create_mailbox,
    get_alias,
    get_domain,
    get_group,
    get_mailbox,
    grant_role,
    list_aliases,
    list_audit,
    list_domains,
    list_groups,
    list_mailboxes,
    passwords,
    remove_alias,
    remove_alias_domain,
    remove_domain,
    remove_group,
    remove_mailbox,
    revoke_role,
    set_password,
    update_alias,
    update_domain,
    update_group,
    update_mailbox,
)
from shared.accounts.permissions import Scope
from shared.accounts.views import CONSOLE
from shared.errors import (
    AccountDisabled,
    AuthFailed,
    Conflict,
    InvalidAddress,
    InvalidValue,
    LimitExceeded,
    NotFound,
)
from shared.mail.delivery import deliver
from shared.storage.db import Database
from shared.storage.models import Mailbox

pytestmark = pytest.mark.usefixtures("fast_hashing")
REAL_CONTEXT = passwords.CONTEXT
ADMIN = Actor(Scope("admin@example.com", is_global_admin=True), "192.0.2.7")


def stored_hash(db: Database, address: str) -> str:
    with db.session.begin() as s:
        return s.scalars(select(Mailbox.password_hash).where(Mailbox.address == address)).one()


# --- domains ---------------------------------------------------------------------------------


def test_create_domain_stores_the_a_label_and_limits(db: Database) -> None:
    view = create_domain(db, "Bücher.Example", max_mailboxes=5, max_aliases=7, quota_bytes=10_000, default_mailbox_quota=1000, actor=CONSOLE)
    assert (view.name, view.display_name) == ("xn--bcher-kva.example", "bücher.example")
    assert (view.max_mailboxes, view.max_aliases, view.quota_bytes, view.default_mailbox_quota) == (5, 7, 10_000, 1000)
    assert (view.active, view.used_bytes, view.mailboxes, view.aliases) == (True, 0, 0, 0)
    assert get_domain(db, "bücher.example", actor=CONSOLE) == view
    assert [d.name for d in list_domains(db, actor=CONSOLE)] == ["xn--bcher-kva.example"]


def test_create_domain_failures(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    add_alias_domain(db, "example.org", "example.com", actor=CONSOLE)
    with pytest.raises(Conflict):
        create_domain(db, "EXAMPLE.com", actor=CONSOLE)
    with pytest.raises(Conflict):
        create_domain(db, "example.org", actor=CONSOLE)
    with pytest.raises(InvalidAddress):
        create_domain(db, "not a domain", actor=CONSOLE)
    for limit in ("max_mailboxes", "max_aliases", "quota_bytes", "default_mailbox_quota"):
        with pytest.raises(InvalidValue):
            create_domain(db, "example.net", **{limit: -1}, actor=CONSOLE)
    assert [d.name for d in list_domains(db, actor=CONSOLE)] == ["example.com"]


def test_update_domain(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    view = update_domain(db, "example.com", active=False, max_mailboxes=3, quota_bytes=5000, actor=ADMIN)
    assert (view.active, view.max_mailboxes, view.quota_bytes, view.max_aliases) == (False, 3, 5000, 0)
    with pytest.raises(InvalidValue):
        update_domain(db, "example.com", max_aliases=-1, actor=CONSOLE)
    with pytest.raises(NotFound):
        update_domain(db, "example.net", active=True, actor=CONSOLE)
    assert get_domain(db, "example.com", actor=CONSOLE).max_aliases == 0


def test_list_domains_counts_and_filters(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    create_domain(db, "example.net", actor=CONSOLE)
    create_mailbox(db, "a@example.com", "pw", actor=CONSOLE)
    create_mailbox(db, "b@example.com", "pw", actor=CONSOLE)
    create_alias(db, "x@example.com", ["a@example.com"], actor=CONSOLE)
    create_group(db, "g@example.com", ["a@example.com"], actor=CONSOLE)
    counts = {d.name: (d.mailboxes, d.aliases) for d in list_domains(db, actor=CONSOLE)}
    assert counts == {"example.com": (2, 2), "example.net": (0, 0)}
    assert [d.name for d in list_domains(db, actor=Actor(Scope("m@example.net", domains=frozenset({"example.net"}))))] == ["example.net"]


def test_remove_domain_removes_everything_in_it(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    create_domain(db, "example.net", actor=CONSOLE)
    create_mailbox(db, "a@example.com", "pw", actor=CONSOLE)
    create_mailbox(db, "keep@example.net", "pw", actor=CONSOLE)
    create_alias(db, "x@example.com", ["a@example.com"], actor=CONSOLE)
    create_group(db, "g@example.com", ["a@example.com"], actor=CONSOLE)
    add_alias_domain(db, "example.org", "example.com", actor=CONSOLE)
    deliver(db, b"Subject: x\r\n\r\nbody\r\n", [get_mailbox(db, "a@example.com", actor=CONSOLE).id])
    remove_domain(db, "example.com", actor=ADMIN)
    assert [d.name for d in list_domains(db, actor=CONSOLE)] == ["example.net"]
    assert [m.address for m in list_mailboxes(db, actor=CONSOLE)] == ["keep@example.net"]
    assert list_aliases(db, actor=CONSOLE) == [] and list_groups(db, actor=CONSOLE) == []
    assert not (db.settings.mail_root / "example.com").exists()
    assert (db.settings.mail_root / "example.net" / "keep").is_dir()
    create_domain(db, "example.org", actor=CONSOLE)  # the alias domain went with it
    with pytest.raises(NotFound):
        remove_domain(db, "example.com", actor=CONSOLE)


def test_alias_domains(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    view = add_alias_domain(db, "Example.ORG", "example.com", actor=CONSOLE)
    assert view.alias_domains == ("example.org",)
    with pytest.raises(Conflict):
        add_alias_domain(db, "example.org", "example.com", actor=CONSOLE)
    with pytest.raises(Conflict):
        add_alias_domain(db, "example.com", "example.com", actor=CONSOLE)
    with pytest.raises(NotFound):
        add_alias_domain(db, "example.info", "example.net", actor=CONSOLE)
    remove_alias_domain(db, "example.org", actor=CONSOLE)
    assert get_domain(db, "example.com", actor=CONSOLE).alias_domains == ()
    with pytest.raises(NotFound):
        remove_alias_domain(db, "example.org", actor=CONSOLE)


# --- mailboxes -------------------------------------------------------------------------------


def test_create_mailbox(db: Database) -> None:
    create_domain(db, "bücher.example", default_mailbox_quota=2048, actor=CONSOLE)
    view = create_mailbox(db, "José@Bücher.Example", "s3cret", name="  José  ", actor=CONSOLE)
    assert (view.address, view.local, view.domain) == ("josé@xn--bcher-kva.example", "josé", "xn--bcher-kva.example")
    assert (view.name, view.quota_bytes, view.used_bytes, view.messages) == ("José", 2048, 0, 0)
    assert (view.active, view.smtp_enabled, view.pop3_enabled, view.roles) == (True, True, True, ())
    assert all((db.settings.mail_root / "xn--bcher-kva.example" / "jos%C3%A9" / sub).is_dir() for sub in ("tmp", "new", "cur"))
    assert stored_hash(db, view.address).startswith("$argon2id$")
    assert create_mailbox(db, "big@bücher.example", "pw", quota_bytes=0, actor=CONSOLE).quota_bytes == 0
    assert get_mailbox(db, "JOSÉ@xn--bcher-kva.example", actor=CONSOLE) == view


def test_create_mailbox_failures_change_nothing(db: Database) -> None:
    create_domain(db, "example.com", quota_bytes=1000, actor=CONSOLE)
    create_mailbox(db, "taken@example.com", "pw", actor=CONSOLE)
    create_alias(db, "alias@example.com", ["taken@example.com"], actor=CONSOLE)
    create_group(db, "group@example.com", ["taken@example.com"], actor=CONSOLE)
    cases: list[tuple[type[Exception], str, dict[str, object]]] = [
        (NotFound, "a@example.net", {}),
        (InvalidAddress, "no-at-sign", {}),
        (InvalidAddress, "a b@example.com", {}),
        (Conflict, "TAKEN@example.com", {}),
        (Conflict, "alias@example.com", {}),
        (Conflict, "group@example.com", {}),
        (LimitExceeded, "big@example.com", {"quota_bytes": 1001}),
        (InvalidValue, "neg@example.com", {"quota_bytes": -1}),
        (InvalidValue, "nopw@example.com", {"password": ""}),
        (InvalidValue, "ctl@example.com", {"password": "a\nb"}),
        (InvalidValue, "hash@example.com", {"password": "{PLAIN}x", "password_is_hash": True}),
    ]
    for error, address, options in cases:
        password = str(options.pop("password", "pw"))
        with pytest.raises(error):
            create_mailbox(db, address, password, **options, actor=CONSOLE)  # type: ignore[arg-type]
    assert [m.address for m in list_mailboxes(db, actor=CONSOLE)] == ["taken@example.com"]
    assert sorted(p.name for p in (db.settings.mail_root / "example.com").iterdir()) == ["taken"]


def test_mailbox_limit(db: Database) -> None:
    create_domain(db, "example.com", max_mailboxes=2, actor=CONSOLE)
    create_mailbox(db, "a@example.com", "pw", actor=CONSOLE)
    create_mailbox(db, "b@example.com", "pw", actor=CONSOLE)
    with pytest.raises(LimitExceeded):
        create_mailbox(db, "c@example.com", "pw", actor=CONSOLE)
    update_domain(db, "example.com", max_mailboxes=3, actor=CONSOLE)
    create_mailbox(db, "c@example.com", "pw", actor=CONSOLE)
    assert count_mailboxes(db, "example.com", actor=CONSOLE) == 3


def test_list_and_count_mailboxes(db: Database) -> None:
    """The whole list, for the command line; pages and search: test_mailbox_search.py."""
    create_domain(db, "example.com", actor=CONSOLE)
    create_domain(db, "example.net", actor=CONSOLE)
    for address, name in [("carol@example.com", "Carol King"), ("al@example.com", "Al"), ("bob@example.net", "Bob")]:
        create_mailbox(db, address, "pw", name=name, actor=CONSOLE)
    assert [m.address for m in list_mailboxes(db, actor=CONSOLE)] == ["al@example.com", "bob@example.net", "carol@example.com"]
    assert [m.address for m in list_mailboxes(db, "example.com", actor=CONSOLE)] == ["al@example.com", "carol@example.com"]
    assert (count_mailboxes(db, actor=CONSOLE), count_mailboxes(db, "example.net", actor=CONSOLE)) == (3, 1)
    with pytest.raises(NotFound):
        get_mailbox(db, "nobody@example.com", actor=CONSOLE)


def test_update_mailbox(db: Database) -> None:
    create_domain(db, "example.com", quota_bytes=5000, actor=CONSOLE)
    create_mailbox(db, "a@example.com", "pw", actor=CONSOLE)
    assert create_mailbox(db, "reader@example.com", "pw", actor=CONSOLE).imap_enabled is True
    view = update_mailbox(db, "a@example.com", name=" Alice ", quota_bytes=4000, active=False, pop3_enabled=False, actor=CONSOLE)
    assert (view.name, view.quota_bytes, view.active, view.pop3_enabled, view.smtp_enabled) == ("Alice", 4000, False, False, True)
    assert update_mailbox(db, "a@example.com", imap_enabled=False, actor=CONSOLE).imap_enabled is False
    with pytest.raises(LimitExceeded):
        update_mailbox(db, "a@example.com", quota_bytes=5001, actor=CONSOLE)
    with pytest.raises(InvalidValue):
        update_mailbox(db, "a@example.com", quota_bytes=-5, actor=CONSOLE)
    with pytest.raises(NotFound):
        update_mailbox(db, "b@example.com", name="B", actor=CONSOLE)
    assert get_mailbox(db, "a@example.com", actor=CONSOLE).quota_bytes == 4000


def test_set_password(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    create_mailbox(db, "a@example.com", "old password", actor=CONSOLE)
    set_password(db, "a@example.com", "new password", actor=ADMIN)
    assert authenticate(db, "a@example.com", "new password", "pop3", "127.0.0.1").address == "a@example.com"
    with pytest.raises(AuthFailed):
        authenticate(db, "a@example.com", "old password", "pop3", "127.0.0.1")
    with pytest.raises(InvalidValue):
        set_password(db, "a@example.com", "", actor=CONSOLE)
    with pytest.raises(NotFound):
        set_password(db, "b@example.com", "pw", actor=CONSOLE)


def test_remove_mailbox_removes_its_mail_and_gives_back_domain_storage(db: Database) -> None:
    create_domain(db, "example.com", quota_bytes=1000, actor=CONSOLE)
    box = create_mailbox(db, "a@example.com", "pw", actor=CONSOLE)
    assert deliver(db, b"x" * 598, [box.id]).delivered == (box.id,)
    assert get_domain(db, "example.com", actor=CONSOLE).used_bytes == 600
    remove_mailbox(db, "a@example.com", actor=ADMIN)
    assert not (db.settings.mail_root / "example.com" / "a").exists()
    assert get_domain(db, "example.com", actor=CONSOLE).used_bytes == 0
    other = create_mailbox(db, "b@example.com", "pw", actor=CONSOLE)
    assert deliver(db, b"y" * 598, [other.id]).delivered == (other.id,)
    with pytest.raises(NotFound):
        remove_mailbox(db, "a@example.com", actor=CONSOLE)


def race(actions: list[Callable[[], object]]) -> list[str]:
    """Run the actions in threads at once; the name of each outcome ("ok" or the error's class)."""
    start, outcomes = threading.Barrier(len(actions)), []

    def run(action: Callable[[], object]) -> None:
        start.wait()
        try:
            action()
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test compares
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_concurrent_creations_respect_limits_and_one_address_space(db: Database) -> None:
    create_domain(db, "example.com", max_mailboxes=3, actor=CONSOLE)
    outcomes = race([functools.partial(create_mailbox, db, f"user{n}@example.com", "pw", actor=CONSOLE) for n in range(6)])
    assert outcomes == ["LimitExceeded"] * 3 + ["ok"] * 3
    assert count_mailboxes(db, "example.com", actor=CONSOLE) == 3
    create_domain(db, "example.net", actor=CONSOLE)
    outcomes = race(
        [
            functools.partial(create_mailbox, db, "same@example.net", "pw", actor=CONSOLE),
            functools.partial(create_alias, db, "same@example.net", ["x@elsewhere.example"], actor=CONSOLE),
            functools.partial(create_group, db, "same@example.net", ["x@elsewhere.example"], actor=CONSOLE),
            functools.partial(create_mailbox, db, "SAME@example.net", "pw", actor=CONSOLE),
        ]
    )
    assert outcomes == ["Conflict"] * 3 + ["ok"]


# --- aliases and groups -----------------------------------------------------------------------


def test_aliases(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    create_mailbox(db, "a@example.com", "pw", actor=CONSOLE)
    view = create_alias(db, "Sales@Example.com", ["A@example.com", "partner@elsewhere.example", "a@example.com"], actor=CONSOLE)
    assert (view.source, view.destinations) == ("sales@example.com", ("a@example.com", "partner@elsewhere.example"))
    catch_all = create_alias(db, "@example.com", ["a@example.com"], actor=CONSOLE)
    assert catch_all.source == "@example.com"
    assert get_alias(db, "sales@example.com", actor=CONSOLE) == view
    updated = update_alias(db, "sales@example.com", ["partner@elsewhere.example"], actor=CONSOLE)
    assert updated.destinations == ("partner@elsewhere.example",)
    assert [a.source for a in list_aliases(db, "example.com", actor=CONSOLE)] == ["@example.com", "sales@example.com"]
    remove_alias(db, "@example.com", actor=CONSOLE)
    assert [a.source for a in list_aliases(db, actor=CONSOLE)] == ["sales@example.com"]
    assert get_domain(db, "example.com", actor=CONSOLE).aliases == 1


def test_alias_failures(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    create_mailbox(db, "a@example.com", "pw", actor=CONSOLE)
    create_alias(db, "x@example.com", ["a@example.com"], actor=CONSOLE)
    create_group(db, "g@example.com", ["a@example.com"], actor=CONSOLE)
    with pytest.raises(NotFound):
        create_alias(db, "x@example.net", ["a@example.com"], actor=CONSOLE)
    with pytest.raises(Conflict):
        create_alias(db, "a@example.com", ["b@example.com"], actor=CONSOLE)
    with pytest.raises(Conflict):
        create_alias(db, "x@example.com", ["b@example.com"], actor=CONSOLE)
    with pytest.raises(Conflict):
        create_alias(db, "g@example.com", ["b@example.com"], actor=CONSOLE)
    with pytest.raises(InvalidAddress):
        create_alias(db, "y@example.com", ["not an address"], actor=CONSOLE)
    with pytest.raises(InvalidAddress):
        create_alias(db, "bad address@example.com", ["a@example.com"], actor=CONSOLE)
    with pytest.raises(InvalidValue):
        create_alias(db, "y@example.com", [], actor=CONSOLE)
    with pytest.raises(InvalidValue):
        create_alias(db, "y@example.com", ["y@example.com"], actor=CONSOLE)
    with pytest.raises(NotFound):
        update_alias(db, "nope@example.com", ["a@example.com"], actor=CONSOLE)
    with pytest.raises(NotFound):
        remove_alias(db, "nope@example.com", actor=CONSOLE)
    assert [a.source for a in list_aliases(db, actor=CONSOLE)] == ["x@example.com"]


def test_groups(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    create_mailbox(db, "a@example.com", "pw", actor=CONSOLE)
    create_mailbox(db, "b@example.com", "pw", actor=CONSOLE)
    view = create_group(db, "Team@example.com", ["b@example.com", "A@example.com", "out@elsewhere.example"], policy="members", actor=CONSOLE)
    assert (view.address, view.policy) == ("team@example.com", "members")
    assert view.members == ("a@example.com", "b@example.com", "out@elsewhere.example")
    assert get_group(db, "team@example.com", actor=CONSOLE) == view
    changed = update_group(db, "team@example.com", members=["a@example.com"], policy="domain", actor=CONSOLE)
    assert (changed.members, changed.policy) == (("a@example.com",), "domain")
    assert update_group(db, "team@example.com", policy="anyone", actor=CONSOLE).members == ("a@example.com",)
    assert [g.address for g in list_groups(db, "example.com", actor=CONSOLE)] == ["team@example.com"]
    with pytest.raises(InvalidValue):
        create_group(db, "other@example.com", ["a@example.com"], policy="everyone", actor=CONSOLE)
    with pytest.raises(InvalidValue):
        update_group(db, "team@example.com", policy="nobody", actor=CONSOLE)
    with pytest.raises(InvalidValue):
        create_group(db, "self@example.com", ["self@example.com"], actor=CONSOLE)
    with pytest.raises(Conflict):
        create_group(db, "a@example.com", ["b@example.com"], actor=CONSOLE)
    with pytest.raises(NotFound):
        create_group(db, "g@example.net", ["a@example.com"], actor=CONSOLE)
    with pytest.raises(NotFound):
        update_group(db, "nope@example.com", policy="anyone", actor=CONSOLE)
    remove_group(db, "team@example.com", actor=CONSOLE)
    assert list_groups(db, actor=CONSOLE) == []
    with pytest.raises(NotFound):
        remove_group(db, "team@example.com", actor=CONSOLE)


def test_alias_limit_counts_groups(db: Database) -> None:
    create_domain(db, "example.com", max_aliases=2, actor=CONSOLE)
    create_alias(db, "one@example.com", ["x@elsewhere.example"], actor=CONSOLE)
    create_group(db, "two@example.com", ["x@elsewhere.example"], actor=CONSOLE)
    with pytest.raises(LimitExceeded):
        create_alias(db, "three@example.com", ["x@elsewhere.example"], actor=CONSOLE)
    with pytest.raises(LimitExceeded):
        create_group(db, "three@example.com", ["x@elsewhere.example"], actor=CONSOLE)
    with pytest.raises(LimitExceeded):
        create_alias(db, "@example.com", ["x@elsewhere.example"], actor=CONSOLE)
    remove_alias(db, "one@example.com", actor=CONSOLE)
    create_alias(db, "@example.com", ["x@elsewhere.example"], actor=CONSOLE)
    assert get_domain(db, "example.com", actor=CONSOLE).aliases == 2


# --- audit and roles --------------------------------------------------------------------------


def test_every_change_is_audited_with_its_actor(db: Database) -> None:
    create_domain(db, "example.com", actor=ADMIN)
    create_mailbox(db, "a@example.com", "pw", actor=ADMIN)
    update_mailbox(db, "a@example.com", name="A", actor=ADMIN)
    set_password(db, "a@example.com", "pw2", actor=ADMIN)
    create_alias(db, "x@example.com", ["a@example.com"], actor=ADMIN)
    create_group(db, "g@example.com", ["a@example.com"], actor=ADMIN)
    grant_role(db, "a@example.com", domain="example.com", actor=ADMIN)
    remove_group(db, "g@example.com", actor=ADMIN)
    remove_alias(db, "x@example.com", actor=ADMIN)
    remove_mailbox(db, "a@example.com", actor=CONSOLE)
    entries = list_audit(db, actor=CONSOLE)
    assert [e.action for e in entries] == [
        "mailbox.remove", "alias.remove", "group.remove", "role.grant", "group.create", "alias.create",
        "mailbox.password", "mailbox.update", "mailbox.create", "domain.create",
    ]
    assert entries[0].actor == "cli" and entries[0].ip == ""
    assert all((e.actor, e.ip) == (ADMIN.address, ADMIN.ip) for e in entries[1:])
    assert entries[-2].target == "a@example.com" and entries[-2].domain == "example.com"
    assert all("pw" not in e.detail for e in entries)
    assert [e.action for e in list_audit(db, actor=CONSOLE, by="cli")] == ["mailbox.remove"]
    assert [e.action for e in list_audit(db, actor=CONSOLE, domain="example.net")] == []
    assert len(list_audit(db, actor=CONSOLE, limit=3, offset=8)) == 2


def test_roles(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    create_domain(db, "example.net", actor=CONSOLE)
    create_mailbox(db, "boss@example.com", "pw", actor=CONSOLE)
    assert grant_role(db, "boss@example.com", global_admin=True, actor=CONSOLE).roles == ("global-admin",)
    view = grant_role(db, "boss@example.com", domain="example.net", actor=CONSOLE)
    assert grant_role(db, "boss@example.com", domain="example.net", actor=CONSOLE) == view  # twice is once
    assert view.roles == ("global-admin", "manager:example.net")
    assert revoke_role(db, "boss@example.com", global_admin=True, actor=CONSOLE).roles == ("manager:example.net",)
    assert revoke_role(db, "boss@example.com", domain="example.net", actor=CONSOLE).roles == ()
    with pytest.raises(InvalidValue):
        grant_role(db, "boss@example.com", actor=CONSOLE)
    with pytest.raises(InvalidValue):
        grant_role(db, "boss@example.com", global_admin=True, domain="example.com", actor=CONSOLE)
    with pytest.raises(NotFound):
        grant_role(db, "boss@example.com", domain="example.org", actor=CONSOLE)
    with pytest.raises(NotFound):
        grant_role(db, "nobody@example.com", global_admin=True, actor=CONSOLE)
    assert [e.detail for e in list_audit(db, actor=CONSOLE, action="role.grant")][-1] == "global-admin"


# --- authentication ---------------------------------------------------------------------------


def test_authenticate(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    add_alias_domain(db, "example.org", "example.com", actor=CONSOLE)
    create_mailbox(db, "a@example.com", "right", actor=CONSOLE)
    assert authenticate(db, "A@Example.com", "right", "smtp", "127.0.0.1").address == "a@example.com"
    assert authenticate(db, "a@example.org", "right", "pop3", "127.0.0.1").address == "a@example.com"
    failures = []
    for address, password in [("a@example.com", "wrong"), ("nobody@example.com", "right"), ("a@example.net", "right"), ("garbage", "x")]:
        with pytest.raises(AuthFailed) as caught:
            authenticate(db, address, password, "pop3", "127.0.0.1")
        failures.append(str(caught.value))
    assert len(set(failures)) == 1
    with pytest.raises(ValueError):
        authenticate(db, "a@example.com", "right", "ftp", "127.0.0.1")


def test_disabled_accounts_are_reported_only_to_the_right_password(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    create_mailbox(db, "a@example.com", "right", actor=CONSOLE)
    update_mailbox(db, "a@example.com", pop3_enabled=False, actor=CONSOLE)
    assert authenticate(db, "a@example.com", "right", "smtp", "127.0.0.1").pop3_enabled is False
    with pytest.raises(AccountDisabled):
        authenticate(db, "a@example.com", "right", "pop3", "127.0.0.1")
    with pytest.raises(AuthFailed):
        authenticate(db, "a@example.com", "wrong", "pop3", "127.0.0.1")
    update_mailbox(db, "a@example.com", pop3_enabled=True, smtp_enabled=False, actor=CONSOLE)
    with pytest.raises(AccountDisabled):
        authenticate(db, "a@example.com", "right", "smtp", "127.0.0.1")
    update_mailbox(db, "a@example.com", smtp_enabled=True, active=False, actor=CONSOLE)
    for service in ("smtp", "pop3", "portal"):
        with pytest.raises(AccountDisabled):
            authenticate(db, "a@example.com", "right", service, "127.0.0.1")
        with pytest.raises(AuthFailed):
            authenticate(db, "a@example.com", "wrong", service, "127.0.0.1")
    update_mailbox(db, "a@example.com", active=True, actor=CONSOLE)
    update_domain(db, "example.com", active=False, actor=CONSOLE)
    with pytest.raises(AccountDisabled):
        authenticate(db, "a@example.com", "right", "portal", "127.0.0.1")
    with pytest.raises(AuthFailed):
        authenticate(db, "a@example.com", "wrong", "portal", "127.0.0.1")
    update_domain(db, "example.com", active=True, actor=CONSOLE)
    assert authenticate(db, "a@example.com", "right", "portal", "127.0.0.1").active


def dovecot_hashes(password: str) -> dict[str, str]:
    """The imported schemes, at cheap cost parameters, as Dovecot writes them."""
    blf = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return {
        "sha512": "{SHA512-CRYPT}" + sha512_crypt.using(rounds=5000).hash(password),
        "blf2y": "{BLF-CRYPT}" + blf.replace("$2b$", "$2y$", 1),
        "blf2b": "{BLF-CRYPT}" + blf,
        "argon2id": "{ARGON2ID}" + PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password),
    }


def test_legacy_hashes_are_upgraded_on_login(db: Database) -> None:
    create_domain(db, "example.com", actor=CONSOLE)
    legacy = {f"{scheme}@example.com": stored for scheme, stored in dovecot_hashes("right").items()}
    for address, stored in legacy.items():
        create_mailbox(db, address, stored, password_is_hash=True, actor=CONSOLE)
    for address, stored in legacy.items():
        with pytest.raises(AuthFailed):
            authenticate(db, address, "wrong", "pop3", "127.0.0.1")
        assert stored_hash(db, address) == stored
        assert authenticate(db, address, "right", "pop3", "127.0.0.1").address == address
        upgraded = stored_hash(db, address)
        assert upgraded != stored and upgraded.startswith("$argon2id$") and "{" not in upgraded
        authenticate(db, address, "right", "smtp", "127.0.0.1")
        assert stored_hash(db, address) == upgraded
        with pytest.raises(AuthFailed):
            authenticate(db, address, "wrong", "smtp", "127.0.0.1")


def argon2_parameters(stored: str) -> str:
    """`$argon2id$v=19$m=…,t=…,p=…` of an encoded hash: what its verification costs."""
    return stored.rsplit("$", 2)[0]


def test_unknown_user_costs_the_same_as_a_wrong_password(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted, not timed: an unknown user, like a wrong password, costs exactly one argon2
    verification with the parameters of a real account's hash, so the time taken does not
    tell whether the account exists."""
    monkeypatch.setattr(passwords, "CONTEXT", REAL_CONTEXT)
    create_domain(db, "example.com", actor=CONSOLE)
    create_mailbox(db, "a@example.com", "right", actor=CONSOLE)
    verified: list[str] = []
    real_matches = passwords.matches

    def spy(secret: str, stored: str) -> bool:
        verified.append(argon2_parameters(stored))
        return real_matches(secret, stored)

    monkeypatch.setattr(passwords, "matches", spy)

    for address, secret in (("a@example.com", "wrong"), ("nobody@example.com", "x"), ("a@example.net", "x")):
        with pytest.raises(AuthFailed):
            authenticate(db, address, secret, "pop3", "127.0.0.1")
    assert len(verified) == 3
    assert verified[0].startswith("$argon2id$")
    assert verified == [verified[0]] * 3
