"""The use cases themselves refuse what the acting user may not do, whoever calls them: these
tests call them directly with a domain manager's Actor, with no portal or API view in between."""
from __future__ import annotations

import pytest

from shared import accounts
from shared.accounts import reports
from shared.accounts.permissions import Scope
from shared.accounts.views import CONSOLE, Actor
from shared.errors import NotFound, PermissionDenied
from shared.storage.db import Database

pytestmark = pytest.mark.usefixtures("fast_hashing")

ROOT, BOSS, STAFF, OTHER = "root@alpha.example", "boss@alpha.example", "staff@alpha.example", "someone@beta.example"
MANAGER = Actor(Scope(BOSS, domains=frozenset({"alpha.example"})), "192.0.2.9")
ADMIN = Actor(Scope(ROOT, is_global_admin=True))


@pytest.fixture
def hosted(db: Database) -> Database:
    """alpha.example (a global admin, its manager and a staff user) and beta.example (one mailbox)."""
    for domain in ("alpha.example", "beta.example"):
        accounts.create_domain(db, domain, actor=CONSOLE)
    for address in (ROOT, BOSS, STAFF, OTHER):
        accounts.create_mailbox(db, address, "pw", actor=CONSOLE)
    accounts.grant_role(db, ROOT, global_admin=True, actor=CONSOLE)
    accounts.grant_role(db, BOSS, domain="alpha.example", actor=CONSOLE)
    return db


def test_a_manager_cannot_create_a_domain(hosted: Database) -> None:
    with pytest.raises(PermissionDenied, match="^only global admins may do this$"):
        accounts.create_domain(hosted, "gamma.example", actor=MANAGER)
    with pytest.raises(PermissionDenied, match="^only global admins may do this$"):
        accounts.update_domain(hosted, "alpha.example", max_mailboxes=1000, actor=MANAGER)
    assert [d.name for d in accounts.list_domains(hosted, actor=CONSOLE)] == ["alpha.example", "beta.example"]


def test_a_manager_cannot_change_a_mailbox_of_another_domain(hosted: Database) -> None:
    for change in (
        lambda: accounts.update_mailbox(hosted, OTHER, name="x", actor=MANAGER),
        lambda: accounts.set_password(hosted, OTHER, "pwned-password", actor=MANAGER),
        lambda: accounts.remove_mailbox(hosted, OTHER, actor=MANAGER),
        lambda: accounts.grant_role(hosted, OTHER, domain="alpha.example", actor=MANAGER),
    ):
        with pytest.raises(NotFound, match=f"^unknown address: {OTHER}$"):  # as if it did not exist
            change()
    with pytest.raises(NotFound, match="^unknown domain: beta.example$"):
        accounts.update_mailbox(hosted, STAFF, managed_domains=["beta.example"], actor=MANAGER)
    assert accounts.get_mailbox(hosted, OTHER, actor=CONSOLE).name == ""
    assert accounts.get_mailbox(hosted, STAFF, actor=CONSOLE).managed_domains == ()


def test_a_manager_cannot_grant_the_global_admin_role(hosted: Database) -> None:
    with pytest.raises(PermissionDenied, match="^only global admins may do this$"):
        accounts.update_mailbox(hosted, STAFF, name="Promoted", global_admin=True, actor=MANAGER)
    with pytest.raises(PermissionDenied, match="^only global admins may do this$"):
        accounts.grant_role(hosted, BOSS, global_admin=True, actor=MANAGER)
    staff = accounts.get_mailbox(hosted, STAFF, actor=CONSOLE)
    assert not staff.is_global_admin and staff.name == ""  # the name change went back with the refusal
    assert not accounts.get_mailbox(hosted, BOSS, actor=CONSOLE).is_global_admin


def test_a_manager_cannot_change_a_global_admins_mailbox(hosted: Database) -> None:
    beyond = "^this account has rights beyond yours; ask a global admin$"
    with pytest.raises(PermissionDenied, match=beyond):
        accounts.update_mailbox(hosted, ROOT, name="x", actor=MANAGER)
    with pytest.raises(PermissionDenied, match=beyond):
        accounts.set_password(hosted, ROOT, "pwned-password", actor=MANAGER)
    with pytest.raises(PermissionDenied, match=beyond):
        accounts.remove_mailbox(hosted, ROOT, actor=MANAGER)
    with pytest.raises(PermissionDenied, match=beyond):
        accounts.get_mailbox(hosted, ROOT, actor=MANAGER, to_change=True)
    assert accounts.get_mailbox(hosted, ROOT, actor=MANAGER).name == ""  # reading it is fine
    accounts.authenticate(hosted, ROOT, "pw", "portal", "127.0.0.1")


def test_nobody_disables_deletes_or_demotes_themselves(hosted: Database) -> None:
    with pytest.raises(PermissionDenied, match="^you cannot disable your own mailbox$"):
        accounts.update_mailbox(hosted, BOSS, active=False, actor=MANAGER)
    with pytest.raises(PermissionDenied, match="^you cannot delete your own mailbox$"):
        accounts.remove_mailbox(hosted, BOSS, actor=MANAGER)
    with pytest.raises(PermissionDenied, match="^you cannot remove your own global admin role$"):
        accounts.update_mailbox(hosted, ROOT, global_admin=False, actor=ADMIN)
    assert accounts.get_mailbox(hosted, BOSS, actor=CONSOLE).active
    assert accounts.get_mailbox(hosted, ROOT, actor=CONSOLE).is_global_admin


def test_a_role_change_is_one_transaction_and_one_audit_trail(hosted: Database) -> None:
    changed = accounts.update_mailbox(hosted, STAFF, name="Staff", managed_domains=["alpha.example"], actor=MANAGER)
    assert changed.managed_domains == ("alpha.example",) and changed.name == "Staff"
    entries = accounts.list_audit(hosted, actor=CONSOLE, by=BOSS)
    assert [(e.action, e.detail, e.ip) for e in entries] == [
        ("role.grant", "manager:alpha.example", "192.0.2.9"),
        ("mailbox.update", "name=Staff", "192.0.2.9"),
    ]


def test_a_read_only_scope_changes_nothing(hosted: Database) -> None:
    reader = Actor(ADMIN.scope.narrowed([], read_only=True))
    with pytest.raises(PermissionDenied, match="^this token may only read$"):
        accounts.create_domain(hosted, "gamma.example", actor=reader)
    with pytest.raises(PermissionDenied, match="^this token may only read$"):
        accounts.update_mailbox(hosted, STAFF, name="x", actor=reader)
    with pytest.raises(PermissionDenied, match="^this token may only read$"):
        accounts.create_alias(hosted, "info@alpha.example", [STAFF], actor=reader)
    assert accounts.list_aliases(hosted, actor=reader) == []


def test_a_manager_reads_the_audit_log_and_totals_of_their_own_domains_only(hosted: Database) -> None:
    accounts.update_mailbox(hosted, OTHER, name="Changed", actor=CONSOLE)
    accounts.update_mailbox(hosted, STAFF, name="Changed", actor=CONSOLE)
    assert {entry.domain for entry in accounts.list_audit(hosted, actor=MANAGER)} == {"alpha.example"}
    with pytest.raises(NotFound, match="^unknown domain: beta.example$"):
        accounts.list_audit(hosted, actor=MANAGER, domain="beta.example")
    assert reports.totals(hosted, actor=MANAGER).mailboxes == 3
    assert reports.totals(hosted, actor=ADMIN).mailboxes == 4
    staff = Actor(Scope(STAFF))
    for read in (
        lambda: accounts.list_audit(hosted, actor=staff),
        lambda: reports.totals(hosted, actor=staff),
        lambda: reports.mailboxes_near_quota(hosted, actor=staff),
    ):
        with pytest.raises(PermissionDenied):
            read()
