"""What the POP3 machine hands the driver (actions) and what the driver reports back (results).

Kept apart from the machine, as h11 keeps its events apart from its connection,
so the driver can name them without reading the state machine.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

from services.pop3.replies import Reply


class Signal(enum.Enum):
    NEED_DATA = "NEED_DATA"
    DONE = "DONE"


NEED_DATA: Final = Signal.NEED_DATA
DONE: Final = Signal.DONE  # the result of a Fetch, CommitDeletes or StartTLS that worked


@dataclass(frozen=True)
class SessionPolicy:
    """What the machine needs to know about its listener and the operator's choices."""

    hostname: str
    tls_active: bool = False  # True on the implicit-TLS port
    allow_plaintext_auth: bool = False
    login_delay: int = 0  # seconds advertised as LOGIN-DELAY; 0 = not advertised


@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Authenticate:
    user: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class OpenMaildrop:
    address: str


@dataclass(frozen=True)
class Fetch:
    """Send `status`, then the stored message `uid` through a MessageEncoder(lines)."""

    number: int
    uid: str
    lines: int | None  # None for RETR, the TOP line count otherwise
    status: bytes


@dataclass(frozen=True)
class CommitDeletes:
    uids: tuple[str, ...]


@dataclass(frozen=True)
class StartTLS:
    pass


@dataclass(frozen=True)
class Close:
    pass


Action = Send | Authenticate | OpenMaildrop | Fetch | CommitDeletes | StartTLS | Close
AWAITED: Final = (Authenticate, OpenMaildrop, Fetch, CommitDeletes, StartTLS)


class ListedMessage(Protocol):
    """A message of the maildrop as `shared` lists it."""

    @property
    def uid(self) -> str: ...

    @property
    def size(self) -> int: ...


@dataclass(frozen=True)
class Authenticated:
    address: str  # the canonical address to open the maildrop of


@dataclass(frozen=True)
class MaildropOpened:
    messages: Sequence[ListedMessage]


@dataclass(frozen=True)
class Refused:
    reply: Reply


Result = Authenticated | MaildropOpened | Refused | Literal[Signal.DONE]
