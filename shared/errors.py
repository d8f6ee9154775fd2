"""The errors of the business layer. They carry no protocol codes: each service maps them to
its own replies.

Each error carries a message id, an English template marked with `N_` (which `pybabel
extract -k N_` collects into the portal's catalogue), and the values of its `%(name)s`
placeholders. `str(error)` is the English sentence, which the CLI and the protocols show; the
portal and the API translate the template at their edge (`services/admin/feedback.py`).
"""
from __future__ import annotations

from typing import NewType

# An English message template with `%(name)s` placeholders, made only by `N_` (mypy checks that
# every error of shared gets one, so no error reaches the portal without a translation).
MessageId = NewType("MessageId", str)


def N_(message: str) -> MessageId:
    """Mark an English message template for extraction; it is translated where it is shown."""
    return MessageId(message)


class BeaconError(Exception):
    """Base of every error the shared layer raises on purpose."""

    def __init__(self, message: MessageId, /, **params: object) -> None:
        self.message = message
        self.params = params
        super().__init__(message % params if params else message)


class NotFound(BeaconError):
    pass


class Conflict(BeaconError):
    pass


class InvalidAddress(BeaconError):
    pass


class InvalidValue(BeaconError):
    pass


class AuthFailed(BeaconError):
    pass


class AccountDisabled(BeaconError):
    pass


class PermissionDenied(BeaconError):
    pass


class LimitExceeded(BeaconError):
    pass


class QuotaExceeded(BeaconError):
    pass


class MaildropLocked(BeaconError):
    pass


class TemporaryFailure(BeaconError):
    """The database or the disk failed; the operation may succeed later."""
