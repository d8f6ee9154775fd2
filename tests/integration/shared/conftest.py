"""Helpers for the shared layer's integration tests."""
from __future__ import annotations

import pytest

from shared.accounts import passwords


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its cheapest, for tests that create many mailboxes and do not measure logins."""
    monkeypatch.setattr(passwords, "CONTEXT", passwords.CONTEXT.copy(argon2__memory_cost=1024, argon2__rounds=1))
