"""The role rules of shared.accounts.permissions, without a database."""
from __future__ import annotations

import pytest

from shared.accounts.permissions import (
    Scope,
    address_in_scope,
    alias_source_in_scope,
    domain_in_scope,
    may_administer,
    refuse_self_lockout,
    require_write,
)
from shared.errors import NotFound, PermissionDenied

ADMIN = Scope("root@a.example", is_global_admin=True)
MANAGER = Scope("boss@a.example", domains=frozenset({"a.example", "b.example"}))
STAFF = Scope("staff@a.example")


def test_domains_outside_the_scope_read_as_unknown() -> None:
    assert domain_in_scope(MANAGER, "A.Example.") == "a.example"
    assert domain_in_scope(ADMIN, "anything.example") == "anything.example"
    with pytest.raises(NotFound, match="unknown domain: c.example"):
        domain_in_scope(MANAGER, "c.example")
    with pytest.raises(NotFound):
        domain_in_scope(STAFF, "a.example")
    with pytest.raises(NotFound):
        domain_in_scope(ADMIN, "not a domain")


def test_addresses_and_alias_sources_follow_their_domain() -> None:
    assert str(address_in_scope(MANAGER, "Ann@B.example")) == "ann@b.example"
    assert alias_source_in_scope(MANAGER, "@a.example") == "@a.example"
    assert alias_source_in_scope(MANAGER, "Info@a.example") == "info@a.example"
    for check, text in ((address_in_scope, "x@c.example"), (alias_source_in_scope, "@c.example"), (address_in_scope, "nonsense")):
        with pytest.raises(NotFound):
            check(MANAGER, text)


def test_narrowing_never_widens() -> None:
    assert MANAGER.narrowed([], read_only=False) == MANAGER
    assert MANAGER.narrowed(["b.example", "c.example"], read_only=True) == Scope(MANAGER.address, False, frozenset({"b.example"}), True)
    narrowed_admin = ADMIN.narrowed(["c.example"], read_only=False)
    assert not narrowed_admin.is_global_admin and narrowed_admin.domains == {"c.example"}
    assert not MANAGER.narrowed(["c.example"], read_only=False).is_manager
    assert ADMIN.narrowed([], read_only=True).read_only
    with pytest.raises(PermissionDenied):
        require_write(ADMIN.narrowed([], read_only=True))


def test_nobody_administers_more_rights_than_their_own() -> None:
    assert may_administer(MANAGER, is_global_admin=False, managed_domains=["a.example"])
    assert may_administer(MANAGER, is_global_admin=False, managed_domains=[])
    assert not may_administer(MANAGER, is_global_admin=True, managed_domains=[])
    assert not may_administer(MANAGER, is_global_admin=False, managed_domains=["a.example", "c.example"])
    assert may_administer(ADMIN, is_global_admin=True, managed_domains=["z.example"])


def test_self_lockout_is_refused() -> None:
    refuse_self_lockout(ADMIN, "other@a.example", active=False, drop_global_admin=True)
    with pytest.raises(PermissionDenied, match="disable your own"):
        refuse_self_lockout(ADMIN, ADMIN.address, active=False, drop_global_admin=False)
    with pytest.raises(PermissionDenied, match="own global admin role"):
        refuse_self_lockout(ADMIN, ADMIN.address, active=True, drop_global_admin=True)
