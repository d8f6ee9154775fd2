"""What a sender asked for with the DSN extension (RFC 3461), and when a delay notice is due.

The SMTP edge reads the parameters (services/smtp/dsn_parameters.py); these values travel
with the message through the queue and decide which notices mailflow sends. Values are
stored xtext-decoded; the parser lets through printable US-ASCII only, so none can break a
header line of a report.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Sendmail's default: a message still queued after four hours gets one delay notice.
DELAY_NOTICE_AFTER = timedelta(hours=4)


class Event(enum.Enum):
    """The NOTIFY keywords other than NEVER."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DELAY = "DELAY"


# RFC 3461 §4.1 leaves the default to the server: like sendmail, failures and delays are
# reported when NOTIFY is absent, successes only when asked for.
DEFAULT_EVENTS = frozenset({Event.FAILURE, Event.DELAY})
NEVER = "NEVER"


class Ret(enum.Enum):
    FULL = "FULL"  # a failure report returns the whole message
    HDRS = "HDRS"  # its header section only


@dataclass(frozen=True)
class RecipientRequest:
    """NOTIFY and ORCPT of one RCPT. `notify`: None when absent, "NEVER", or SUCCESS, FAILURE
    and DELAY joined by commas; `orcpt`: "addr-type;address", decoded."""

    notify: str | None = None
    orcpt: str | None = None

    def asks_for(self, event: Event) -> bool:
        if self.notify is None:
            return event in DEFAULT_EVENTS
        return event.value in self.notify.split(",")


@dataclass(frozen=True)
class MessageRequest:
    """RET and ENVID of one MAIL (ENVID decoded)."""

    ret: Ret | None = None
    envid: str | None = None


NOTHING_ASKED = RecipientRequest()
NO_MESSAGE_REQUEST = MessageRequest()


@dataclass(frozen=True)
class Requests:
    """Everything one submitted message asked for: per message, per hosted mailbox (by id) and
    per relayed address. Copies a hosted domain forwards carry none (RFC 3461 §6.2.7: a
    forward is an expansion, and its envelope sender is an SRS address anyway)."""

    message: MessageRequest = NO_MESSAGE_REQUEST
    mailboxes: Mapping[int, RecipientRequest] = field(default_factory=dict)
    remote: Mapping[str, RecipientRequest] = field(default_factory=dict)


def is_delay_notice_due(arrival: datetime, already_sent: bool, now: datetime) -> bool:
    """One delay notice per message, once it has waited DELAY_NOTICE_AFTER since it arrived."""
    return not already_sent and now - arrival >= DELAY_NOTICE_AFTER
