"""Template filters: sizes, usage percentages, dates, devices."""
from __future__ import annotations

from datetime import datetime

import user_agents
from flask import Flask
from flask_babel import format_datetime, format_decimal

SIZE_STEPS = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def format_size(size: int | None) -> str:
    if not size:
        return "0 B"
    for unit, factor in SIZE_STEPS:
        if size >= factor:
            return f"{format_decimal(round(size / factor, 1))} {unit}"
    return f"{size} B"


def size_for_input(size: int | None) -> str:
    """A byte count as the shortest exact text a size field accepts back (1073741824 -> 1G)."""
    if not size:
        return "0"
    for unit, factor in SIZE_STEPS:
        if size % factor == 0:
            return f"{size // factor}{unit[0]}"
    return str(size)


def usage_percent(used: int, limit: int) -> int:
    """Share of a cap in use, 0-100; a zero cap means "no limit" and shows 0."""
    if limit <= 0:
        return 0
    return min(100, round(100 * used / limit))


def format_moment(moment: datetime | None) -> str:
    return format_datetime(moment, "yyyy-MM-dd HH:mm") if moment else ""


def describe_device(user_agent: str) -> str:
    """"PC / Linux / Firefox 128.0" from a User-Agent header."""
    return str(user_agents.parse(user_agent)) if user_agent else ""


def register_filters(app: Flask) -> None:
    app.add_template_filter(format_size, "size")
    app.add_template_filter(size_for_input, "size_input")
    app.add_template_global(usage_percent)
    app.add_template_filter(format_moment, "moment")
    app.add_template_filter(describe_device, "device")
