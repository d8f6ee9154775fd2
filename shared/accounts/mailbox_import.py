"""Bulk creation of mailboxes from CSV, with a dry run that says which rows are wrong and why.

Columns (header row required): address, name, password or password_hash (a Dovecot-style
hash such as {SHA512-CRYPT}$6$…), quota (bytes or 500M / 2G; blank = domain default).
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field, replace

from shared import accounts
from shared.accounts.mailboxes import check_password_text
from shared.accounts.passwords import is_importable_hash
from shared.accounts.permissions import Scope
from shared.accounts.views import Actor, DomainView
from shared.config import parse_size
from shared.errors import N_, BeaconError, Conflict, InvalidValue, LimitExceeded, NotFound
from shared.mail.addresses import domain_part, parse_address
from shared.storage.db import Database
from shared.storage.lookups import ensure_address_free

MAX_ROWS = 1000
COLUMNS = ("address", "name", "password", "password_hash", "quota")


@dataclass(frozen=True)
class ImportRow:
    line: int
    address: str
    name: str
    quota_bytes: int | None
    secret: str = field(repr=False)
    secret_is_hash: bool
    errors: tuple[BeaconError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ImportPlan:
    rows: tuple[ImportRow, ...]
    errors: tuple[BeaconError, ...] = ()  # about the whole file, shown once above its rows

    @property
    def good_rows(self) -> tuple[ImportRow, ...]:
        return tuple(row for row in self.rows if row.ok)

    @property
    def bad_rows(self) -> tuple[ImportRow, ...]:
        return tuple(row for row in self.rows if not row.ok)


@dataclass(frozen=True)
class ImportResult:
    created: tuple[str, ...]
    failed: tuple[tuple[int, str, tuple[BeaconError, ...]], ...]
    errors: tuple[BeaconError, ...] = ()


def _records(text: str) -> tuple[list[dict[str, str]], list[BeaconError]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if "address" not in header:
        return [], [InvalidValue(N_("the first row must name the columns, including address"))]
    unknown = sorted(set(header) - set(COLUMNS))
    if unknown:
        return [], [InvalidValue(N_("unknown columns: %(unknown)s (use %(known)s)"), unknown=", ".join(unknown), known=", ".join(COLUMNS))]
    reader.fieldnames = header
    records = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    if len(records) > MAX_ROWS:
        return [], [InvalidValue(N_("at most %(limit)s rows per file; split the file"), limit=MAX_ROWS)]
    return records, []


def _row(line: int, record: dict[str, str], scope: Scope, domains: dict[str, DomainView], min_length: int) -> ImportRow:
    errors: list[BeaconError] = []
    address, quota = record.get("address", ""), None
    try:
        parsed = parse_address(address)
        address = str(parsed)
        if parsed.domain not in domains or not scope.covers_domain(parsed.domain):
            errors.append(NotFound(N_("unknown domain: %(name)s"), name=parsed.domain_unicode))
    except BeaconError as exc:
        errors.append(exc)
    password, hashed = record.get("password", ""), record.get("password_hash", "")
    if bool(password) == bool(hashed):
        errors.append(InvalidValue(N_("give exactly one of password and password_hash")))
    elif hashed and not is_importable_hash(hashed):
        errors.append(InvalidValue(N_("unrecognised password hash")))
    elif password:
        try:
            check_password_text(password, min_length)
        except InvalidValue as exc:
            errors.append(exc)
    if record.get("quota"):
        try:
            quota = parse_size(record["quota"])
        except ValueError:
            errors.append(InvalidValue(N_("not a size: %(text)r (use bytes or a K/M/G suffix)"), text=record["quota"]))
    return ImportRow(line, address, record.get("name", ""), quota, password or hashed, bool(hashed), tuple(errors))


def _with_context_errors(db: Database, rows: list[ImportRow]) -> list[ImportRow]:
    """Add what needs the whole file and the database: duplicates and taken addresses."""
    seen = Counter(row.address for row in rows)
    checked = []
    with db.session.begin() as s:
        for row in rows:
            extra: list[BeaconError] = []
            if seen[row.address] > 1:
                extra.append(Conflict(N_("%(address)s appears more than once in the file"), address=row.address))
            if row.ok:
                try:
                    ensure_address_free(s, row.address)
                except Conflict as exc:
                    extra.append(exc)
            checked.append(replace(row, errors=row.errors + tuple(extra)))
    return checked


def _within_limits(rows: list[ImportRow], domains: dict[str, DomainView]) -> tuple[list[ImportRow], list[BeaconError]]:
    """A domain whose mailbox limit the file's good rows would pass: said once for the file,
    and each of its rows refused with a pointer to that."""
    adding = Counter(domain_part(row.address) for row in rows if row.ok)
    full: dict[str, BeaconError] = {}
    for name, count in adding.items():
        domain = domains[name]
        if domain.max_mailboxes and domain.mailboxes + count > domain.max_mailboxes:
            full[name] = LimitExceeded(
                N_("this file adds %(adding)s mailboxes; %(domain)s has room for %(room)s of its %(limit)s"),
                adding=count,
                domain=domain.display_name,
                room=max(domain.max_mailboxes - domain.mailboxes, 0),
                limit=domain.max_mailboxes,
            )
    over = LimitExceeded(N_("over the domain's mailbox limit (see above)"))
    checked = [replace(row, errors=(over,)) if row.ok and domain_part(row.address) in full else row for row in rows]
    return checked, list(full.values())


def plan_import(db: Database, text: str, *, actor: Actor) -> ImportPlan:
    """The dry run: every row with what is wrong with it, within the actor's domains. Nothing is changed."""
    records, errors = _records(text)
    if errors:
        return ImportPlan((), tuple(errors))
    domains = {d.name: d for d in accounts.list_domains(db, actor=actor)}
    minimum = db.settings.password_min_length
    rows = [_row(line, record, actor.scope, domains, minimum) for line, record in enumerate(records, start=2)]
    checked, limits = _within_limits(_with_context_errors(db, rows), domains)
    return ImportPlan(tuple(checked), tuple(limits))


def apply_import(db: Database, text: str, *, actor: Actor) -> ImportResult:
    """Plan again, then create the good rows one by one; a row that fails now is reported."""
    created: list[str] = []
    failed: list[tuple[int, str, tuple[BeaconError, ...]]] = []
    plan = plan_import(db, text, actor=actor)
    for row in plan.good_rows:
        try:
            accounts.create_mailbox(
                db,
                row.address,
                row.secret,
                quota_bytes=row.quota_bytes,
                name=row.name,
                password_is_hash=row.secret_is_hash,
                actor=actor,
            )
        except BeaconError as exc:
            failed.append((row.line, row.address, (exc,)))
        else:
            created.append(row.address)
    failed.extend((row.line, row.address, row.errors) for row in plan.bad_rows)
    return ImportResult(tuple(created), tuple(sorted(failed, key=lambda failure: failure[0])), plan.errors)
