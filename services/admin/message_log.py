"""The Message log (search, paged by cursor; a message's timeline) and the Queue (recipients
waiting for their next try; retry now, or give up and bounce, each after a confirm step)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from services.admin.access import current_actor, manager_required
from services.admin.feedback import Page, explain
from services.admin.forms import MessageLogFilterForm, QueueActionForm
from services.admin.moments import day_end, day_start
from services.admin.portal import db
from shared.accounts import message_tracking
from shared.errors import InvalidValue, NotFound

bp = Blueprint("message_log", __name__)

PER_PAGE = 50


def _filters(form: MessageLogFilterForm) -> message_tracking.LogFilters:
    since, until = form.since.data, form.until.data
    return message_tracking.LogFilters(
        sender=(form.sender.data or "").strip() or None,
        recipient=(form.recipient.data or "").strip() or None,
        message_id=(form.message_id.data or "").strip() or None,
        status=form.status.data or None,
        since=day_start(since) if since else None,
        until=day_end(until) if until else None,
    )


@bp.get("/messages/")
@manager_required
def index() -> Page:
    form = MessageLogFilterForm(request.args)
    cursor = request.args.get("cursor") or None
    query = {key: value for key, value in request.args.items() if key != "cursor" and value}
    page, status = None, 200
    if form.validate():
        try:
            page = message_tracking.search_messages(
                db(), actor=current_actor(), filters=_filters(form), cursor=cursor, limit=PER_PAGE
            )
        except InvalidValue as error:
            form.form_errors.append(explain(error))
    if page is None:
        status = 422
    return render_template("message_log/index.html", form=form, page=page, query=query, cursor=cursor), status


@bp.get("/messages/<log_id>")
@manager_required
def detail(log_id: str) -> str:
    message = message_tracking.get_message(db(), log_id, actor=current_actor())
    return render_template("message_log/detail.html", message=message)


@bp.get("/queue/")
@manager_required
def queue() -> str:
    return render_template("message_log/queue.html", waiting=message_tracking.list_queue(db(), actor=current_actor()))


ACTIONS = {"retry": message_tracking.retry_queued, "bounce": message_tracking.bounce_queued}


@bp.route("/queue/<log_id>/<action>", methods=["GET", "POST"])
@manager_required
def act(log_id: str, action: str) -> Page:
    """GET shows what the action will do; POST (the confirm step) does it."""
    if action not in ACTIONS:
        raise NotFound(f"no such queue action: {action}")
    waiting = [w for w in message_tracking.list_queue(db(), actor=current_actor()) if w.log_id == log_id]
    if not waiting:
        raise NotFound(f"no queued message: {log_id}")
    form = QueueActionForm()
    if form.validate_on_submit():
        count = ACTIONS[action](db(), log_id, actor=current_actor())
        if action == "retry":
            flash(_("%(count)s recipients of %(id)s will be tried again now.", count=count, id=log_id), "success")
        else:
            flash(_("%(count)s recipients of %(id)s were given up and bounced to the sender.", count=count, id=log_id), "success")
        return redirect(url_for("message_log.queue"))
    return render_template("message_log/confirm.html", form=form, action=action, log_id=log_id, waiting=waiting)
