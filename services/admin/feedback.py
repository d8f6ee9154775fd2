"""Business errors explained on the page: a translated kind, then shared's message in the
visitor's language (its message id translated here, at the edge, with its parameters)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask_babel import gettext as _
from flask_babel import gettext as translate
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from shared.errors import (
    BeaconError,
    Conflict,
    InvalidAddress,
    InvalidValue,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
)


def error_kind(error: BeaconError) -> str:
    kinds = (
        (Conflict, _("Already in use")),
        (InvalidAddress, _("Invalid address")),
        (InvalidValue, _("Invalid value")),
        (LimitExceeded, _("Limit reached")),
        (QuotaExceeded, _("Quota exceeded")),
        (NotFound, _("Not found")),
        (PermissionDenied, _("Not allowed")),
    )
    return next((label for kind, label in kinds if isinstance(error, kind)), _("Could not save"))


def error_text(error: BeaconError) -> str:
    """The error's sentence in the visitor's language; an error given as a parameter (the reason
    inside "... is not a valid address (reason)") is translated too."""
    params = {name: error_text(value) if isinstance(value, BeaconError) else value for name, value in error.params.items()}
    # gettext under a name pybabel does not extract: the ids are marked (N_) and extracted in shared.
    return translate(error.message, **params)


def explain(error: BeaconError) -> str:
    return f"{error_kind(error)}: {error_text(error)}"


def reject(form: FlaskForm, error: BeaconError) -> None:
    """Show a refused change above the form that asked for it."""
    form.form_errors.append(explain(error))


@contextmanager
def refusal_shown_on(form: FlaskForm) -> Iterator[None]:
    """Run a change; if shared refuses it, the view goes on to show the form with the reason.

    The success path (flash, redirect) sits inside the block, so it only runs when nothing was refused.
    """
    try:
        yield
    except BeaconError as error:
        reject(form, error)


def form_status(form: FlaskForm) -> int:
    """422 when a submitted form comes back with errors, 200 for a first view."""
    return 422 if form.is_submitted() else 200


Page = Response | str | tuple[str, int]
