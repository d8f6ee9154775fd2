"""Template filters: sizes, usage percentages, dates, devices, role labels, errors of shared."""
from __future__ import annotations

import re
from datetime import datetime

import user_agents
from flask import Flask
from flask_babel import format_datetime, format_decimal
from flask_babel import gettext as _

from services.admin.feedback import error_text
from shared import config
from shared.accounts.views import GLOBAL_ADMIN_ROLE, MANAGER_ROLE_PREFIX
from shared.config import SIZE_STEPS
from shared.mail.addresses import domain_to_unicode, for_people

# The size fields of an update's audit detail ("quota_bytes=10737418240, max_mailboxes=4").
SIZE_CHANGE = re.compile(r"\b(quota_bytes|default_mailbox_quota)=(\d+)")


def format_size(size: int | None) -> str:
    """shared's size text, with the figure in the visitor's locale."""
    return config.format_size(size, format_decimal)


def audit_detail(text: str) -> str:
    """An audit entry's detail for people: domains in Unicode, sizes in binary units (the entry
    keeps bytes, as the API gives it)."""
    return SIZE_CHANGE.sub(lambda found: f"{found.group(1)}={format_size(int(found.group(2)))}", for_people(text))


def role_label(role: str) -> str:
    """A role as the records spell it (`global-admin`, `manager:<domain>`) in the visitor's language."""
    if role == GLOBAL_ADMIN_ROLE:
        return _("Global admin")
    if role.startswith(MANAGER_ROLE_PREFIX):
        return _("Manager of %(domain)s", domain=domain_to_unicode(role.removeprefix(MANAGER_ROLE_PREFIX)))
    return role


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
    app.add_template_filter(role_label, "role")
    app.add_template_filter(error_text, "error_text")
    # Addresses and domains as people read them (Unicode); URLs keep the stored form.
    app.add_template_filter(for_people, "people")
    app.add_template_filter(audit_detail, "audit_detail")
    app.add_template_filter(describe_device, "device")
