"""The errors of the business layer. They carry a human message and no protocol
codes: each service maps them to its own replies."""


class BeaconError(Exception):
    """Base of every error the shared layer raises on purpose."""


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
