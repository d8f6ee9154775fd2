"""Forwarding forms, shared by the staff account page and the managers' mailbox pages."""
from __future__ import annotations

from services.admin.access import current_actor
from services.admin.feedback import refusal_shown_on
from services.admin.forms import ForwardingForm, lines_of
from services.admin.portal import db
from shared.accounts import forwarding


def saved_forwarding_form(address: str, form_class: type[ForwardingForm] = ForwardingForm) -> ForwardingForm:
    """The form filled with what is saved now (not with whatever another form on the page posted)."""
    saved = forwarding.get_forwarding(db(), address, actor=current_actor())
    return form_class(formdata=None, destinations="\n".join(saved.destinations), keep_copy=saved.keep_copy)


def save_forwarding(form: ForwardingForm, address: str) -> bool:
    """Save a submitted form; False (with the reason on the form) when it is invalid or refused."""
    if not form.validate_on_submit():
        return False
    destinations = lines_of(form.destinations.data)
    with refusal_shown_on(form):
        forwarding.set_forwarding(db(), address, destinations, keep_copy=form.keep_copy.data, actor=current_actor())
        return True
    return False
