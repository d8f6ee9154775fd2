"""The shared pieces behind the SMTP service, on both databases: the outbound queue's
states and claims, and the per-user submission counter."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from shared.mail import outbound, ratelimit
from shared.storage.db import Database
from shared.storage.models import OutboundMessage, OutboundRecipient

pytestmark = pytest.mark.integration
LEASE = timedelta(minutes=5)


def claimed_addresses(deliveries: list[outbound.Delivery]) -> list[str]:
    return sorted(r.address for d in deliveries for r in d.recipients)


def test_held_messages_wait_for_release_and_cancel_leaves_nothing(db: Database) -> None:
    held = outbound.enqueue(
        db, b"Subject: held\r\n\r\nx\r\n", sender="a@hosted.example", recipients=["x@remote.example"], held=True
    )
    assert outbound.claim(db, limit=10, lease=LEASE) == []
    outbound.release(db, [held])
    [delivery] = outbound.claim(db, limit=10, lease=LEASE)
    assert (delivery.message_id, delivery.domain, delivery.sender) == (held, "remote.example", "a@hosted.example")
    assert outbound.read_body(delivery) == b"Subject: held\r\n\r\nx\r\n"
    cancelled = outbound.enqueue(db, b"x\r\n", sender="", recipients=["y@remote.example"], held=True)
    body_files = set((db.settings.mail_root / ".outbound" / "new").iterdir())
    outbound.cancel(db, cancelled)
    assert len(set((db.settings.mail_root / ".outbound" / "new").iterdir())) == len(body_files) - 1
    assert outbound.claim(db, limit=10, lease=LEASE) == []  # the first is leased, the second gone


def test_claims_group_by_domain_and_leases_keep_other_workers_away(db: Database) -> None:
    recipients = ["a@one.example", "b@one.example", "c@two.example"]
    outbound.enqueue(db, b"x\r\n", sender="s@hosted.example", recipients=recipients)
    deliveries = outbound.claim(db, limit=10, lease=timedelta(seconds=-1))  # a lease that is already over
    assert sorted((d.domain, len(d.recipients)) for d in deliveries) == [("one.example", 2), ("two.example", 1)]
    retaken = outbound.claim(db, limit=10, lease=LEASE)
    assert claimed_addresses(retaken) == recipients
    assert outbound.claim(db, limit=10, lease=LEASE) == []
    stale = deliveries[0]
    outbound.record(db, stale, [outbound.Attempt(r.id, True, False, "250 ok") for r in stale.recipients])
    assert claimed_addresses(outbound.claim(db, limit=10, lease=LEASE)) == []  # the stale worker changed nothing


def test_concurrent_claims_never_hand_out_a_recipient_twice(db: Database) -> None:
    for n in range(40):
        outbound.enqueue(db, b"x\r\n", sender="", recipients=[f"r{n}@remote.example"])
    taken: list[list[str]] = [[], [], [], []]

    def worker(index: int) -> None:
        while batch := outbound.claim(db, limit=3, lease=LEASE):
            taken[index].extend(claimed_addresses(batch))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [address for addresses in taken for address in addresses]
    assert len(everything) == 40 and len(set(everything)) == 40


def test_outcomes_retry_fail_or_settle(db: Database) -> None:
    retrying = Database(dataclasses.replace(db.settings, queue_retry_base=60.0))
    message_id = outbound.enqueue(
        retrying, b"x\r\n", sender="s@hosted.example", recipients=["a@r.example", "b@r.example"]
    )
    [delivery] = outbound.claim(retrying, limit=10, lease=LEASE)
    first, second = delivery.recipients
    before = outbound.now_utc()
    outbound.record(
        retrying,
        delivery,
        [
            outbound.Attempt(first.id, False, False, "451 4.3.0 later"),
            outbound.Attempt(second.id, False, True, "550 no"),
        ],
    )
    assert outbound.claim(retrying, limit=10, lease=LEASE) == []  # first waits for its retry time
    with retrying.session.begin() as s:
        s.execute(update(OutboundMessage).where(OutboundMessage.id == message_id).values(created_at=before))
    with retrying.session.begin() as s:
        rows = {r.address: r for r in s.scalars(select(OutboundRecipient))}
        assert rows["a@r.example"].attempts == 1 and rows["a@r.example"].status.value == "queued"
        assert rows["b@r.example"].status.value == "failed"
        retry_at = rows["a@r.example"].next_attempt_at.replace(tzinfo=timezone.utc)
    assert timedelta(seconds=59) < retry_at - before < timedelta(seconds=62)
    with retrying.session.begin() as s:
        s.execute(update(OutboundRecipient).values(next_attempt_at=before))
    [again] = outbound.claim(retrying, limit=10, lease=LEASE)
    outbound.record(retrying, again, [outbound.Attempt(again.recipients[0].id, True, False, "250 ok")])
    with retrying.session.begin() as s:
        assert s.get(OutboundMessage, message_id) is None
    assert not again.body_path.exists()
    retrying.dispose()


def test_orphaned_held_messages_are_purged(db: Database) -> None:
    orphan = outbound.enqueue(db, b"x\r\n", sender="", recipients=["x@remote.example"], held=True)
    fresh = outbound.enqueue(db, b"y\r\n", sender="", recipients=["y@remote.example"], held=True)
    with db.session.begin() as s:
        s.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == orphan)
            .values(created_at=datetime.now(timezone.utc) - timedelta(hours=2))
        )
    assert outbound.purge_orphans(db) == 1
    with db.session.begin() as s:
        assert s.get(OutboundMessage, orphan) is None and s.get(OutboundMessage, fresh) is not None


def test_submission_counter_per_user_and_hour(db: Database) -> None:
    limited = Database(dataclasses.replace(db.settings, submission_rate_per_hour=2))
    hour = datetime(2024, 11, 26, 13, 5, tzinfo=timezone.utc)
    assert ratelimit.consume_submission(limited, "a@hosted.example", hour)
    assert ratelimit.submission_allowed(limited, "a@hosted.example", hour)
    assert ratelimit.consume_submission(limited, "a@hosted.example", hour + timedelta(minutes=50))
    assert not ratelimit.submission_allowed(limited, "a@hosted.example", hour)
    assert not ratelimit.consume_submission(limited, "a@hosted.example", hour)
    assert ratelimit.consume_submission(limited, "b@hosted.example", hour)
    assert ratelimit.consume_submission(limited, "a@hosted.example", hour + timedelta(hours=1))
    unlimited = Database(dataclasses.replace(db.settings, submission_rate_per_hour=0))
    assert all(ratelimit.consume_submission(unlimited, "a@hosted.example", hour) for _ in range(5))
    limited.dispose()
    unlimited.dispose()


def test_a_new_hour_opened_by_concurrent_submissions_refuses_none(db: Database) -> None:
    """The first messages of an hour arrive together: one opens the hour's row, the others count
    against it. (A transaction whose UPDATE ran before that row was committed used to see it
    afterwards and take it for a full hour.)"""
    generous = Database(dataclasses.replace(db.settings, submission_rate_per_hour=10**6))
    results: list[bool] = []
    for hour in range(10):
        moment = datetime(2024, 11, 26, tzinfo=timezone.utc) + timedelta(hours=hour)
        start = threading.Barrier(6)

        def consume(at: datetime = moment, gate: threading.Barrier = start) -> None:
            gate.wait()
            results.append(ratelimit.consume_submission(generous, "a@hosted.example", at))

        threads = [threading.Thread(target=consume) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    generous.dispose()
    assert results == [True] * 60
