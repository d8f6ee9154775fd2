"""Server-side pages by keyset: a page starts after (or ends before) an address, so a deep page
costs what the first one does. ?page=N from older links still works, through an offset."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import request

from shared.accounts.views import MailboxPage

PAGE_SIZE = 50
MAX_OFFSET = 10**9  # as the API's; beyond it a page number would overflow the database's integers


@dataclass(frozen=True)
class Position:
    """Where the requested page starts: after an address, before one, or `offset` rows in."""

    after: str | None = None
    before: str | None = None
    offset: int = 0


def requested_position(size: int = PAGE_SIZE) -> Position:
    """The position asked for in ?after=, ?before= or ?page= (in that order of preference)."""
    if request.args.get("after"):
        return Position(after=request.args["after"])
    if request.args.get("before"):
        return Position(before=request.args["before"])
    try:
        number = int(request.args.get("page", "1"))
    except ValueError:
        number = 1
    return Position(offset=min((max(number, 1) - 1) * size, MAX_OFFSET))


@dataclass(frozen=True)
class PageLinks:
    """A page of mailboxes and the query (search, filter) its links keep."""

    found: MailboxPage
    query: dict[str, str] = field(default_factory=dict)

    @property
    def previous(self) -> dict[str, str] | None:
        """URL arguments of the page before, or None."""
        if not self.found.has_previous:
            return None
        if not self.found.mailboxes:  # past the end (a stale link): start again
            return dict(self.query)
        return {**self.query, "before": self.found.mailboxes[0].address}

    @property
    def next(self) -> dict[str, str] | None:
        """URL arguments of the page after, or None."""
        if not (self.found.has_next and self.found.mailboxes):
            return None
        return {**self.query, "after": self.found.mailboxes[-1].address}
