"""Server-side pages: the view counts, then fetches one bounded slice."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import request

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int
    query: dict[str, str] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def requested_page(total: int, query: dict[str, str], size: int = PAGE_SIZE) -> Page:
    """The page asked for in ?page=, clamped to the pages that exist."""
    try:
        wanted = int(request.args.get("page", "1"))
    except ValueError:
        wanted = 1
    last = max(1, -(-total // size))
    kept = {key: value for key, value in query.items() if value}
    return Page(number=min(max(wanted, 1), last), size=size, total=total, query=kept)
