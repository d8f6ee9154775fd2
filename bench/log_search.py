"""Message log search at scale: p50/p95 of `search_messages` (what the API, the portal and
`beaconmail log search` call) over 1,000,000 logged messages, by each filter, as a global
admin and as a domain manager. Target: p95 ≤ 100 ms.

The log is filled straight into the tables (COPY on PostgreSQL, batched INSERTs on SQLite):
30 days of messages, 1.2 recipients each on average, senders and recipients drawn from 20,000
addresses in 200 domains, statuses as a busy relay sees them (most delivered or relayed, a
few queued, deferred, bounced, failed or refused).

    python -m bench.log_search [--messages 1000000] [--backends sqlite postgresql]
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from bench import beacon, common, machine, report
from shared.accounts.message_tracking import LogFilters, search_messages
from shared.accounts.permissions import Scope
from shared.accounts.views import CONSOLE, Actor
from shared.mail.message_log import Status, status_bits
from shared.storage.db import Database
from shared.storage.models import LoggedMessage, LoggedRecipient

DOMAINS = 200
ADDRESSES = 20_000
DAYS = 30
QUERIES_PER_KIND = 40
STATUS_WEIGHTS = {
    "delivered": 60, "relayed": 30, "queued": 3, "deferred": 3, "bounced": 2, "failed": 1, "refused": 1,
}  # fmt: skip
BATCH = 20_000


def address(number: int) -> str:
    return f"user{number}@d{number % DOMAINS}.example"


@dataclass(frozen=True)
class Logged:
    message_rows: list[tuple[object, ...]]
    recipient_rows: list[tuple[object, ...]]


def generate(count: int, start: int, chooser: random.Random, now: datetime) -> Logged:
    """`count` messages numbered from `start`, spread evenly over the last DAYS days."""
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    span_ms = DAYS * 86400 * 1000
    end_ms = int(now.timestamp() * 1000)
    messages, recipients = [], []
    for number in range(start, start + count):
        moment_ms = end_ms - span_ms + (span_ms * number) // TOTAL[0]
        log_id = f"{moment_ms:012x}{chooser.getrandbits(32):08x}"
        sender = address(chooser.randrange(ADDRESSES))
        created = datetime.fromtimestamp(moment_ms / 1000, timezone.utc)
        chosen = []
        for _ in range(2 if chooser.random() < 0.2 else 1):
            to = address(chooser.randrange(ADDRESSES))
            status = chooser.choices(statuses, weights)[0]
            chosen.append(Status(status))
            recipients.append((log_id, to, to.split("@")[1], status, 1, "250 2.0.0 ok", created))
        bits = status_bits(chosen)
        messages.append((log_id, f"m{number}@bench.example", sender, sender.split("@")[1], 10240, "mx", "192.0.2.1", "", created, bits))
    return Logged(messages, recipients)


TOTAL = [0]  # the messages of this run, for the spread of their times

MESSAGE_COLUMNS = "id, message_id, sender, sender_domain, size, via, client_ip, username, created_at, status_bits"
RECIPIENT_COLUMNS = "log_id, address, domain, status, attempts, reply, updated_at"


def fill(db: Database, total: int) -> None:
    """The rows first, then the indexes the migration made (built once instead of row by row)."""
    TOTAL[0] = total
    chooser, now = random.Random(20261206), datetime.now(timezone.utc)
    tables = [LoggedMessage.metadata.tables[model.__tablename__] for model in (LoggedMessage, LoggedRecipient)]
    indexes = [index for table in tables for index in table.indexes]
    with db.engine.begin() as connection:
        for index in indexes:
            index.drop(connection)
    for start in range(0, total, BATCH):
        batch = generate(min(BATCH, total - start), start, chooser, now)
        if db.is_sqlite:
            _insert_sqlite(db, batch)
        else:
            _copy_postgresql(db, batch)
    with db.engine.begin() as connection:
        for index in indexes:
            index.create(connection)
        connection.execute(text("ANALYZE"))


def _insert_sqlite(db: Database, batch: Logged) -> None:
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.executemany(f"INSERT INTO message_log ({MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                           [(*row[:8], _sqlite_time(row[8]), row[9]) for row in batch.message_rows])
        cursor.executemany(f"INSERT INTO message_log_recipient ({RECIPIENT_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                           [(*row[:6], _sqlite_time(row[6])) for row in batch.recipient_rows])
        connection.commit()
    finally:
        connection.close()


def _sqlite_time(moment: object) -> str:
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def _copy_postgresql(db: Database, batch: Logged) -> None:
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        with cursor.copy(f"COPY message_log ({MESSAGE_COLUMNS}) FROM STDIN") as copy:
            for row in batch.message_rows:
                copy.write_row(row)
        with cursor.copy(f"COPY message_log_recipient ({RECIPIENT_COLUMNS}) FROM STDIN") as copy:
            for row in batch.recipient_rows:
                copy.write_row(row)
        connection.commit()
    finally:
        connection.close()


@dataclass(frozen=True)
class Query:
    kind: str
    filters: Callable[[random.Random], LogFilters]
    manager: bool = False


def queries(total: int, now: datetime) -> list[Query]:
    def some_address(r: random.Random) -> str:
        return address(r.randrange(ADDRESSES))

    def hour(r: random.Random) -> LogFilters:
        since = now - timedelta(hours=r.randrange(1, DAYS * 24))
        return LogFilters(since=since, until=since + timedelta(hours=1))

    return [
        Query("newest page", lambda r: LogFilters()),
        Query("by sender", lambda r: LogFilters(sender=some_address(r))),
        Query("by recipient", lambda r: LogFilters(recipient=some_address(r))),
        Query("by Message-ID", lambda r: LogFilters(message_id=f"m{r.randrange(total)}@bench.example")),
        Query("status bounced (2 %)", lambda r: LogFilters(status="bounced")),
        Query("status refused (1 %)", lambda r: LogFilters(status="refused")),
        Query("one hour, 1-30 days ago", hour),
        Query("recipient + status", lambda r: LogFilters(recipient=some_address(r), status="delivered")),
        Query("manager: newest page", lambda r: LogFilters(), manager=True),
        Query("manager: status failed", lambda r: LogFilters(status="failed"), manager=True),
        Query("manager: by sender", lambda r: LogFilters(sender=some_address(r)), manager=True),
    ]


def measure(db: Database, total: int) -> Iterator[report.Series]:
    chooser, now = random.Random(7), datetime.now(timezone.utc)
    manager = Actor(Scope("boss@d7.example", domains=frozenset({"d7.example"})))
    for query in queries(total, now):
        actor = manager if query.manager else CONSOLE
        timings = []
        for _ in range(QUERIES_PER_KIND):
            filters = query.filters(chooser)
            started = time.perf_counter()
            search_messages(db, actor=actor, filters=filters, limit=50)
            timings.append(1000 * (time.perf_counter() - started))
        yield report.Series(f"{db.engine.dialect.name} {query.kind} p50", "ms", (report.percentile(timings, 0.5),))
        yield report.Series(f"{db.engine.dialect.name} {query.kind} p95", "ms", (report.percentile(timings, 0.95),))


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--messages", type=int, default=1_000_000)
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    options = args.parse_args()
    total = 20_000 if options.quick else options.messages
    machine.print_machine(options.work_dir)
    report.print_workload("Message log search", messages=total, addresses=ADDRESSES, domains=DOMAINS,
                          days=DAYS, queries_per_kind=QUERIES_PER_KIND)
    series: list[report.Series] = []
    for backend in options.backends:
        with beacon.beacon_instance(options.work_dir, backend) as instance:
            started = time.perf_counter()
            fill(instance.db, total)
            print(f"  {backend}: {total} messages logged in {time.perf_counter() - started:.0f} s", flush=True)
            for item in measure(instance.db, total):
                print(item.line(), flush=True)
                series.append(item)
    report.record(options.results, "log_search", series, messages=total, echo=False)


if __name__ == "__main__":
    main()
