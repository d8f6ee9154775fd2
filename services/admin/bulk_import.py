"""Bulk import of mailboxes from CSV: upload, dry-run preview, then create the good rows."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

from services.admin.access import current_actor, manager_required
from services.admin.feedback import Page, form_status
from services.admin.forms import ImportConfirmForm, ImportForm
from services.admin.portal import db
from shared.accounts.mailbox_import import COLUMNS, MAX_ROWS, apply_import, plan_import

bp = Blueprint("imports", __name__, url_prefix="/import")




def upload_page(form: ImportForm) -> Page:
    return render_template("imports/upload.html", form=form, columns=COLUMNS, max_rows=MAX_ROWS), form_status(form)


@bp.get("/")
@manager_required
def upload() -> Page:
    return upload_page(ImportForm())


@bp.post("/preview")
@manager_required
def preview() -> Page:
    form = ImportForm()
    if not form.validate_on_submit():
        return upload_page(form)
    try:
        text = form.csv_file.data.read().decode("utf-8")
    except UnicodeDecodeError:
        form.csv_file.errors = [_("The file is not UTF-8 text. Save the CSV as UTF-8 and try again.")]
        return upload_page(form)
    plan = plan_import(db(), text, actor=current_actor())
    confirm = ImportConfirmForm(csv_text=text)
    return render_template("imports/preview.html", plan=plan, confirm=confirm)


@bp.post("/apply")
@manager_required
def apply() -> Page:
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        return upload_page(ImportForm())
    result = apply_import(db(), form.csv_text.data, actor=current_actor())
    return render_template("imports/result.html", result=result)
