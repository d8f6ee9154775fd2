"""Sign-in state and role decorators. The rules themselves live in shared.accounts.permissions."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, redirect, request, session, url_for
from flask_babel import lazy_gettext
from flask_login import LoginManager, UserMixin, current_user, login_required
from werkzeug.wrappers import Response

from services.admin.portal import acting_as, db
from shared import accounts
from shared.accounts import portal_sessions
from shared.accounts.permissions import Scope, scope_of
from shared.accounts.views import Actor, MailboxView
from shared.errors import NotFound

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("Please sign in to continue.")
login_manager.login_message_category = "info"

View = TypeVar("View", bound=Callable[..., Any])
# The session cookie's key for the server-side session's token (shared.accounts.portal_sessions).
SESSION_TOKEN = "sid"


class PortalUser(UserMixin):
    """The signed-in mailbox, with the rights it has right now; `must_enrol` while its domain
    requires a second factor that it has not set up."""

    def __init__(self, mailbox: MailboxView, *, must_enrol: bool = False, session_id: int | None = None) -> None:
        self.mailbox = mailbox
        self.must_enrol = must_enrol
        self.session_id = session_id  # this browser's row among the server-side sessions
        self.scope: Scope = scope_of(
            mailbox.address,
            is_global_admin=mailbox.is_global_admin,
            managed_domains=mailbox.managed_domains,
        )

    def get_id(self) -> str:
        return self.mailbox.address

    @property
    def address(self) -> str:
        return self.mailbox.address


@login_manager.user_loader
def load_user(address: str) -> PortalUser | None:
    """Reloaded on every request, so a disabled mailbox, a revoked role or a session signed out
    from elsewhere takes effect at once."""
    token = session.get(SESSION_TOKEN)
    checked = portal_sessions.check_portal_session(db(), address, token) if isinstance(token, str) else None
    if checked is None:
        return None
    try:
        mailbox = accounts.signed_in_mailbox(db(), address)
    except NotFound:
        return None
    active = mailbox.active and mailbox.domain_active
    return PortalUser(mailbox, must_enrol=checked.must_enrol, session_id=checked.id) if active else None


# Where a user who must enrol a second factor may go meanwhile: the enrolment, and away.
ENROLMENT_ENDPOINTS = {"auth.logout", "language.switch", "static"}


def require_enrolment() -> Response | None:
    """Before every portal page: a user whose domain requires a second factor sets one up first."""
    if request.path.startswith("/api/") or request.blueprint == "twofactor" or request.endpoint in ENROLMENT_ENDPOINTS:
        return None
    user = current_user._get_current_object()
    if isinstance(user, PortalUser) and user.must_enrol:
        return redirect(url_for("twofactor.index"))
    return None


def signed_in() -> PortalUser:
    return cast(PortalUser, current_user._get_current_object())


def current_scope() -> Scope:
    return signed_in().scope


def current_actor() -> Actor:
    return acting_as(current_scope())


def _guarded(view: View, allowed: Callable[[Scope], bool]) -> View:
    """`view` behind the sign-in page, and 403 for a signed-in user whose scope is not `allowed`."""

    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not allowed(current_scope()):
            abort(403)
        return view(*args, **kwargs)

    return cast(View, guarded)


def manager_required(view: View) -> View:
    """Global admins and domain managers only; staff users get 403."""
    return _guarded(view, lambda scope: scope.is_manager)


def admin_required(view: View) -> View:
    """Global admins only."""
    return _guarded(view, lambda scope: scope.is_global_admin)
