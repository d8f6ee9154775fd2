"""The quota rule of shared.mail.quota, without a database: room, room to spare, a mailbox quota within its domain's."""
from __future__ import annotations

import pytest

from shared.errors import InvalidValue, LimitExceeded
from shared.mail.quota import check_mailbox_quota, has_room, has_spare_room
from shared.storage.models import Domain


def test_room_up_to_the_quota_and_unlimited_at_zero() -> None:
    assert has_room(1000, 600, 400) and not has_room(1000, 600, 401)
    assert has_room(0, 10**12, 10**9)


def test_spare_room_keeps_a_tenth_of_the_quota_free() -> None:
    assert has_spare_room(1000, 500, 400) and not has_spare_room(1000, 500, 401)
    assert has_room(1000, 500, 401)  # room, but not to spare: a cached answer must not promise it
    assert has_spare_room(0, 10**12, 10**9)


def test_a_mailbox_quota_must_fit_its_domain() -> None:
    check_mailbox_quota(1000, Domain(name="example.com", quota_bytes=1000))
    check_mailbox_quota(10**12, Domain(name="example.com", quota_bytes=0))
    with pytest.raises(LimitExceeded, match="^the quota must not exceed the domain's total of 1000 B$"):
        check_mailbox_quota(1001, Domain(name="example.com", quota_bytes=1000))
    with pytest.raises(InvalidValue, match="^the quota must not be negative$"):
        check_mailbox_quota(-1, Domain(name="example.com", quota_bytes=0))
