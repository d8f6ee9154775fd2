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
from shared.errors import BeaconError, Conflict, InvalidValue
from shared.mail.addresses import parse_address
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
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ImportPlan:
    rows: tuple[ImportRow, ...]
    errors: tuple[str, ...] = ()

    @property
    def good_rows(self) -> tuple[ImportRow, ...]:
        return tuple(row for row in self.rows if row.ok)

    @property
    def bad_rows(self) -> tuple[ImportRow, ...]:
        return tuple(row for row in self.rows if not row.ok)


@dataclass(frozen=True)
class ImportResult:
    created: tuple[str, ...]
    failed: tuple[tuple[int, str, str], ...]


def _records(text: str) -> tuple[list[dict[str, str]], list[str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if "address" not in header:
        return [], ["the first row must name the columns, including address"]
    unknown = sorted(set(header) - set(COLUMNS))
    if unknown:
        return [], [f"unknown columns: {', '.join(unknown)} (use {', '.join(COLUMNS)})"]
    reader.fieldnames = header
    records = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    if len(records) > MAX_ROWS:
        return [], [f"at most {MAX_ROWS} rows per file; split the file"]
    return records, []


def _row(line: int, record: dict[str, str], scope: Scope, domains: dict[str, DomainView], min_length: int) -> ImportRow:
    errors: list[str] = []
    address, quota = record.get("address", ""), None
    try:
        parsed = parse_address(address)
        address = str(parsed)
        if parsed.domain not in domains or not scope.covers_domain(parsed.domain):
            errors.append(f"unknown domain: {parsed.domain}")
    except BeaconError as exc:
        errors.append(str(exc))
    password, hashed = record.get("password", ""), record.get("password_hash", "")
    if bool(password) == bool(hashed):
        errors.append("give exactly one of password and password_hash")
    elif hashed and not is_importable_hash(hashed):
        errors.append("unrecognised password hash")
    elif password:
        try:
            check_password_text(password, min_length)
        except InvalidValue as exc:
            errors.append(str(exc))
    if record.get("quota"):
        try:
            quota = parse_size(record["quota"])
        except ValueError as exc:
            errors.append(str(exc))
    return ImportRow(line, address, record.get("name", ""), quota, password or hashed, bool(hashed), tuple(errors))


def _with_context_errors(db: Database, rows: list[ImportRow], domains: dict[str, DomainView]) -> list[ImportRow]:
    """Add what needs the whole file and the database: duplicates, taken addresses, domain limits."""
    seen = Counter(row.address for row in rows)
    wanted = Counter(row.address.rpartition("@")[2] for row in rows if row.ok)
    checked = []
    with db.session.begin() as s:
        for row in rows:
            extra: list[str] = []
            if seen[row.address] > 1:
                extra.append(f"{row.address} appears more than once in the file")
            if row.ok:
                try:
                    ensure_address_free(s, row.address)
                except Conflict as exc:
                    extra.append(str(exc))
                domain = domains[row.address.rpartition("@")[2]]
                if domain.max_mailboxes and domain.mailboxes + wanted[domain.name] > domain.max_mailboxes:
                    extra.append(f"{domain.name} allows {domain.max_mailboxes} mailboxes; it has {domain.mailboxes}")
            checked.append(replace(row, errors=row.errors + tuple(extra)))
    return checked


def plan_import(db: Database, text: str, *, actor: Actor) -> ImportPlan:
    """The dry run: every row with what is wrong with it, within the actor's domains. Nothing is changed."""
    records, errors = _records(text)
    if errors:
        return ImportPlan((), tuple(errors))
    domains = {d.name: d for d in accounts.list_domains(db, actor=actor)}
    minimum = db.settings.password_min_length
    rows = [_row(line, record, actor.scope, domains, minimum) for line, record in enumerate(records, start=2)]
    return ImportPlan(tuple(_with_context_errors(db, rows, domains)))


def apply_import(db: Database, text: str, *, actor: Actor) -> ImportResult:
    """Plan again, then create the good rows one by one; a row that fails now is reported."""
    created, failed = [], []
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
            failed.append((row.line, row.address, str(exc)))
        else:
            created.append(row.address)
    failed.extend((row.line, row.address, "; ".join(row.errors)) for row in plan.bad_rows)
    return ImportResult(tuple(created), tuple(sorted(failed)))
