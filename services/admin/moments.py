"""Moments to search the message log by, as people and scripts write them.

A day covers the whole day in UTC, so a search `until` a day includes it, in the portal's day
fields as in the API. The API also takes a date and time in ISO 8601 with or without a zone
(UTC when none), in either case, with a space for the `T`, and with the `+` of a zone that an
unencoded query string turned into a space; or Unix seconds.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timezone

# `2026-12-06T17:00:00 02:00`: the `+` of the zone, decoded from a query string as a space.
SPACED_ZONE = re.compile(r"([T ][0-9]{2}(?::?[0-9]{2}){0,2}(?:[.,][0-9]+)?) ([0-9]{2}(?::?[0-9]{2})?)$")
UNIX_SECONDS = re.compile(r"[0-9]{1,11}")
# The search adds a millisecond to `until`: a moment at the very end of year 9999 would overflow.
LATEST = datetime(9999, 12, 30, tzinfo=timezone.utc)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, timezone.utc)


def day_end(day: date) -> datetime:
    return min(datetime.combine(day, time.max, timezone.utc), LATEST)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_moment(raw: str, *, end_of_day: bool) -> datetime:
    """The moment `raw` names; a bare day is its first instant, or its last with `end_of_day`.
    ValueError when it is none of the forms above."""
    text = SPACED_ZONE.sub(r"\1+\2", raw.strip().upper())
    day = _day(text)
    if day is not None:
        return day_end(day) if end_of_day else day_start(day)
    if UNIX_SECONDS.fullmatch(text):
        return datetime.fromtimestamp(int(text), timezone.utc)
    moment = datetime.fromisoformat(text)
    return min(moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc), LATEST)
