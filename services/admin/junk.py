"""The quarantine: the Junk folder of one's own mailbox (self-service) or of a managed mailbox,
with each message's spam verdict, and Release and Delete buttons."""
from __future__ import annotations

from typing import Protocol

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from services.admin.access import current_actor, manager_required, signed_in
from services.admin.feedback import Page, explain
from services.admin.portal import db
from shared.accounts import quarantine
from shared.accounts.views import Actor
from shared.errors import Conflict, InvalidValue, NotFound
from shared.storage.db import Database

bp = Blueprint("junk", __name__)


class JunkChange(Protocol):
    def __call__(self, db: Database, address: str, message_id: str, *, actor: Actor) -> None: ...


def junk_page(address: str, *, own: bool) -> str:
    listing = quarantine.list_junk_messages(db(), address, actor=current_actor())
    return render_template("junk/index.html", listing=listing, own=own)


# A message id that names nothing in this Junk folder (deleted meanwhile, or made up), a malformed
# one, a name taken in the inbox: the page comes back with the reason, and that status.
REFUSALS: tuple[tuple[type[Exception], int], ...] = ((NotFound, 404), (InvalidValue, 400), (Conflict, 409))


def change_junk(change: JunkChange, address: str, message_id: str, done: str, *, own: bool) -> Page:
    """Run a release or delete, then back to the page with what happened."""
    try:
        change(db(), address, message_id, actor=current_actor())
    except (NotFound, InvalidValue, Conflict) as error:
        flash(explain(error), "error")
        return junk_page(address, own=own), next(status for kind, status in REFUSALS if isinstance(error, kind))
    flash(done, "success")
    return redirect(url_for("junk.own") if own else url_for("junk.managed", address=address))


@bp.get("/account/junk")
@login_required
def own() -> str:
    return junk_page(signed_in().address, own=True)


@bp.post("/account/junk/<message_id>/release")
@login_required
def release_own(message_id: str) -> Page:
    done = _("The message was moved to your inbox.")
    return change_junk(quarantine.release_junk_message, signed_in().address, message_id, done, own=True)


@bp.post("/account/junk/<message_id>/delete")
@login_required
def delete_own(message_id: str) -> Page:
    done = _("The message was deleted.")
    return change_junk(quarantine.delete_junk_message, signed_in().address, message_id, done, own=True)


@bp.get("/mailboxes/<address>/junk")
@manager_required
def managed(address: str) -> str:
    return junk_page(address, own=False)


@bp.post("/mailboxes/<address>/junk/<message_id>/release")
@manager_required
def release(address: str, message_id: str) -> Page:
    done = _("The message was moved to the inbox.")
    return change_junk(quarantine.release_junk_message, address, message_id, done, own=False)


@bp.post("/mailboxes/<address>/junk/<message_id>/delete")
@manager_required
def delete(address: str, message_id: str) -> Page:
    done = _("The message was deleted.")
    return change_junk(quarantine.delete_junk_message, address, message_id, done, own=False)
