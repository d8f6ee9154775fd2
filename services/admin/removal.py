"""The confirm step of removals that cost no stored mail (an alias, a group, an API token): a
page that asks for the name, and a POST that removes only when the name typed matches. The
check is the server's, so a form posted without the confirmation field removes nothing."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import flash, redirect, render_template

from services.admin.feedback import Page, form_status
from services.admin.forms import ConfirmDeleteForm


@dataclass(frozen=True)
class Removal:
    heading: str
    warnings: tuple[str, ...]
    expected: str  # what the user types back (compared without case)
    button: str
    back: str  # the list: the cancel link, and where a removal ends


def confirmed_removal(removal: Removal, remove: Callable[[], str]) -> Page:
    """Run `remove` (which returns what to flash) once the name is confirmed, then go back to
    the list; otherwise show the confirm page, with the mismatch when one was posted."""
    form = ConfirmDeleteForm()
    if form.validate_on_submit() and form.check_name(removal.expected):
        flash(remove(), "success")
        return redirect(removal.back)
    page = render_template(
        "confirm_removal.html",
        form=form,
        heading=removal.heading,
        warnings=removal.warnings,
        expected=removal.expected,
        button=removal.button,
        cancel=removal.back,
    )
    return page, form_status(form)
