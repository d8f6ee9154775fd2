"""Sign-in state and role decorators. The rules themselves live in shared.accounts.permissions."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort
from flask_babel import lazy_gettext
from flask_login import LoginManager, UserMixin, current_user, login_required

from services.admin.portal import acting_as, db
from shared import accounts
from shared.accounts.permissions import Scope, scope_of
from shared.accounts.views import Actor, MailboxView
from shared.errors import NotFound

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("Please sign in to continue.")
login_manager.login_message_category = "info"

View = TypeVar("View", bound=Callable[..., Any])


class PortalUser(UserMixin):
    """The signed-in mailbox, with the rights it has right now."""

    def __init__(self, mailbox: MailboxView) -> None:
        self.mailbox = mailbox
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
    """Reloaded on every request, so a disabled mailbox or a revoked role takes effect at once."""
    try:
        mailbox = accounts.signed_in_mailbox(db(), address)
    except NotFound:
        return None
    return PortalUser(mailbox) if mailbox.active and mailbox.domain_active else None


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
