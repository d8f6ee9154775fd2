"""Reading the mailbox directory: the mailboxes an actor sees, counted, listed, or one
searched page at a time (through the search indexes of migration 0005)."""
from __future__ import annotations

from sqlalchemy import BindParameter, ColumnElement, Select, String, bindparam, column, func, or_, select, table, text
from sqlalchemy.orm import Session, lazyload, selectinload

from shared.accounts.permissions import listed_domains
from shared.accounts.views import Actor, MailboxPage, MailboxView
from shared.storage.db import Database
from shared.storage.models import Mailbox
from shared.storage.models.mailbox import SEARCH_TABLE

# Pages count matches up to this many: an exact count of 500,000 rows costs more than the page.
COUNT_LIMIT = 1000
# The shortest search term the trigram indexes serve.
TRIGRAM = 3
# With many matches, SQLite tests this many rows along the address index before it sorts them all.
WALK_LIMIT = 5000
MAX_CHARACTER = "\U0010ffff"


def list_mailboxes(db: Database, domain: str | None = None, *, actor: Actor) -> list[MailboxView]:
    """Every mailbox the actor sees (of `domain`), ordered by address."""
    query = select(Mailbox).where(*listed_domains(actor.scope, Mailbox.domain_id, domain)).order_by(Mailbox.address)
    with db.read_session.begin() as s:
        return [MailboxView.of(m, logins=True) for m in s.scalars(query.options(*_VIEW_LOADING))]


def count_mailboxes(db: Database, domain: str | None = None, *, actor: Actor) -> int:
    """The exact number of mailboxes the actor sees (of `domain`); pages use search_mailboxes' bounded count."""
    with db.read_session.begin() as s:
        return s.scalar(select(func.count(Mailbox.id)).where(*listed_domains(actor.scope, Mailbox.domain_id, domain))) or 0


def search_mailboxes(
    db: Database,
    domain: str | None = None,
    *,
    actor: Actor,
    search: str | None = None,
    after: str | None = None,
    before: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> MailboxPage:
    """One page of the mailboxes matching `search` (a case-insensitive substring of the address
    or the name; under three characters, the start of the address), ordered by address: those
    after the address `after`, or else the last ones before `before`, skipping `offset`, among
    the actor's domains (`domain` must be one). Matches are counted only up to COUNT_LIMIT."""
    if any("\x00" in value for value in (search or "", after or "", before or "")):
        return MailboxPage((), total=0, total_is_exact=True, has_previous=False, has_next=False)  # PostgreSQL refuses NUL
    term = (search or "").strip().lower()
    within = listed_domains(actor.scope, Mailbox.domain_id, domain)
    with db.read_session.begin() as s:
        counted = select(Mailbox.id).where(*within, *_matching(s, term)).limit(COUNT_LIMIT + 1)
        total = s.scalar(select(func.count()).select_from(counted.subquery())) or 0
        ordered = _ordered(within, after, before)
        page = ordered.options(*_VIEW_LOADING).offset(offset).limit(limit + 1)
        rows: list[Mailbox] = []
        if total > COUNT_LIMIT and len(term) >= TRIGRAM and s.get_bind().dialect.name == "sqlite":
            # Many matches: testing rows along the address index fills a page sooner than sorting
            # every match from the FTS index, unless the matches all sort late (e.g. "wang" among
            # pinyin addresses); so test only the next WALK_LIMIT rows, and sort if that was not
            # enough. PostgreSQL makes this choice itself, from its statistics.
            window = ordered.with_only_columns(Mailbox.id).limit(WALK_LIMIT)
            rows = list(s.scalars(page.where(_substring(term), Mailbox.id.in_(window))))
        if len(rows) <= limit:
            rows = list(s.scalars(page.where(*_matching(s, term))))
        views = [MailboxView.of(m, logins=True) for m in rows]
    more = len(views) > limit  # the row past the page, in the direction of travel
    del views[limit:]
    if before is not None:  # travelling backwards; `before` itself comes after the page
        views.reverse()
        has_previous, has_next = more, True
    else:
        has_previous, has_next = after is not None or offset > 0, more
    return MailboxPage(
        tuple(views),
        total=min(total, COUNT_LIMIT),
        total_is_exact=total <= COUNT_LIMIT,
        has_previous=has_previous,
        has_next=has_next,
    )


# MailboxView reads the domain, the managed domains and (for listings) the last logins; forwards
# (selectin by default) it never reads.
_VIEW_LOADING = (
    selectinload(Mailbox.domain), selectinload(Mailbox.managed_domains), selectinload(Mailbox.logins), lazyload(Mailbox.forwards)
)
_SEARCH = table(SEARCH_TABLE, column("rowid"), column(SEARCH_TABLE))


def _ordered(within: list[ColumnElement[bool]], after: str | None, before: str | None) -> Select[Mailbox]:
    """Mailboxes in the direction of travel from the cursor: backwards from `before`, else onwards."""
    query = select(Mailbox).where(*within)
    if before is not None:
        return query.where(Mailbox.address < before).order_by(Mailbox.address.desc())
    return query.where(*([Mailbox.address > after] if after is not None else [])).order_by(Mailbox.address)


def _matching(s: Session, term: str) -> list[ColumnElement[bool]]:
    """The condition for a lower-case search term (none for no term), through the search
    indexes of migration 0005 where they exist."""
    if not term:
        return []
    sqlite = s.get_bind().dialect.name == "sqlite"
    if len(term) < TRIGRAM:
        # No trigram index serves a shorter term; the start of the address is served by the
        # address's unique index on SQLite (binary order: a range is exactly a prefix) and by the
        # trigram index on PostgreSQL (where, under some collations, a range is not a prefix).
        if sqlite:
            return [Mailbox.address >= term, Mailbox.address < term + MAX_CHARACTER]
        return [Mailbox.address.like(_inline(f"{_like_escaped(term)}%"), escape="/")]
    if sqlite and s.scalar(text("SELECT 1 FROM sqlite_master WHERE name = :name"), {"name": SEARCH_TABLE}):
        phrase = '"' + term.replace('"', '""') + '"'  # an FTS5 string: the term verbatim, matched as a substring
        # A join, not IN: SQLite then reads the matches one by one, and the bounded count stops early.
        return [_SEARCH.c.rowid == Mailbox.id, _SEARCH.c[SEARCH_TABLE].match(phrase)]
    return [_substring(term)]  # PostgreSQL, through the pg_trgm indexes; SQLite without FTS5 trigram scans


def _substring(term: str) -> ColumnElement[bool]:
    """The term in the address or in lower(name), by LIKE: what the FTS5 table of SQLite matches too."""
    pattern = _inline(f"%{_like_escaped(term)}%")
    return or_(Mailbox.address.like(pattern, escape="/"), func.lower(Mailbox.name).like(pattern, escape="/"))


def _like_escaped(term: str) -> str:
    return term.replace("/", "//").replace("%", "/%").replace("_", "/_")  # for LIKE ... ESCAPE '/'


def _inline(pattern: str) -> BindParameter[str]:
    """A LIKE pattern written into the SQL text. PostgreSQL then plans for this very pattern: as
    a parameter, after a few runs of a prepared statement it may settle on one generic plan for
    every term, such as walking the whole address index for a rare one (bench/RESULTS.md)."""
    return bindparam(None, pattern, type_=String(), literal_execute=True)
