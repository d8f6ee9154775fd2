"""Sans-I/O POP3 server: bytes in, replies and effects out (RFC 1939, 2449, 2595, 5034, 6856).

The driver feeds whatever it reads to `receive_data()` and then calls
`next_action()` until it returns `NEED_DATA`. `Send` is written as is;
`Authenticate`, `OpenMaildrop`, `Fetch`, `CommitDeletes` and `StartTLS` are
effects the driver performs before reporting the outcome with `on_result()`
and asking for the next action; `Close` ends the connection. Nothing here
touches a socket, a database or a clock, and nothing the peer sends makes the
machine raise: every bad line gets an `-ERR` and the session goes on.

Login is USER/PASS or SASL PLAIN, both only under TLS unless the operator
allows plaintext. APOP is not offered: it needs a plaintext-equivalent copy of
every password on the server, where we keep only slow one-way hashes.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from services.pop3 import replies as r
from services.pop3.events import (
    AWAITED,
    DONE,
    NEED_DATA,
    Action,
    Authenticate,
    Authenticated,
    Close,
    CommitDeletes,
    Fetch,
    ListedMessage,
    MaildropOpened,
    OpenMaildrop,
    Refused,
    Result,
    Send,
    SessionPolicy,
    Signal,
    StartTLS,
)
from services.pop3.replies import Reply
from services.pop3.sasl import decode_base64, parse_plain

LINE_LIMIT: Final = 255  # octets including CRLF (RFC 2449 §4)
SASL_LINE_LIMIT: Final = 12288  # a SASL response may be longer than a command
CRLF: Final = b"\r\n"
_CONTROL_CHARACTER: Final = re.compile(rb"[\x00-\x1f\x7f]")


class State(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    CLOSED = "CLOSED"


class _TooLong(enum.Enum):
    LINE = "LINE"


@dataclass(frozen=True)
class _Command:
    handler: Callable[[Pop3Connection, list[str]], None]
    min_args: int = 0
    max_args: int = 0
    whole_argument: bool = False  # PASS: everything after the verb, spaces included


class Pop3Connection:
    """One POP3 session as a state machine."""

    def __init__(self, policy: SessionPolicy) -> None:
        self.policy = policy
        self.state = State.AUTHORIZATION
        self.tls_active = policy.tls_active
        self.utf8 = False
        self._buffer = bytearray()
        self._discarding = False
        self._sasl_pending = False
        self._user: str | None = None
        self._user_before: str | None = None
        self._awaiting: Action | None = None
        self._actions: deque[Action] = deque()
        self._messages: tuple[ListedMessage, ...] = ()
        self._deleted: set[int] = set()
        self._reply(r.OK_GREETING.format(hostname=policy.hostname))

    # -- driver interface ---------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer; they are parsed by next_action()."""
        if self.state is not State.CLOSED:
            self._buffer += data

    def next_action(self) -> Action | Literal[Signal.NEED_DATA]:
        if self._awaiting is not None:
            raise RuntimeError(f"report the result of {self._awaiting!r} first")
        while not self._actions:
            if self.state is State.CLOSED:
                return Close()
            line = self._next_line()
            if line is None:
                return NEED_DATA
            self._handle_line(line)
        action = self._actions.popleft()
        if isinstance(action, AWAITED):
            self._awaiting = action
        return action

    def on_result(self, result: Result) -> None:
        """Report how the effect last handed out by next_action() went."""
        action, self._awaiting = self._awaiting, None
        if isinstance(action, StartTLS):
            self._finish_tls(result)
        elif isinstance(action, CommitDeletes):
            self._finish_update(result)
        elif isinstance(result, Refused) and action is not None:
            self._reply(result.reply)
        elif isinstance(action, Authenticate) and isinstance(result, Authenticated):
            self._actions.append(OpenMaildrop(result.address))
        elif isinstance(action, OpenMaildrop) and isinstance(result, MaildropOpened):
            self._enter_transaction(result.messages)
        elif not (isinstance(action, Fetch) and result is DONE):
            raise RuntimeError(f"{result!r} is not a result of {action!r}")

    # -- lines ---------------------------------------------------------------

    def _next_line(self) -> bytes | _TooLong | None:
        limit = SASL_LINE_LIMIT if self._sasl_pending else LINE_LIMIT
        end = self._buffer.find(CRLF)
        if end == -1:
            if len(self._buffer) >= limit:
                # Drop what we have, but keep a trailing CR: it may be half a CRLF.
                self._discarding = True
                del self._buffer[: -1 if self._buffer.endswith(b"\r") else None]
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        if self._discarding or end + 2 > limit:
            self._discarding = False
            return _TooLong.LINE
        return line

    def _handle_line(self, line: bytes | _TooLong) -> None:
        # PASS must come straight after USER: every line forgets the name,
        # and only PASS looks at the one given on the line before.
        self._user_before, self._user = self._user, None
        if self._sasl_pending:
            self._sasl_pending = False
            self._finish_sasl(line)
        elif line is _TooLong.LINE:
            self._reply(r.ERR_LINE_TOO_LONG)
        elif not _is_printable(line):
            self._reply(r.ERR_BAD_CHARACTERS)
        else:
            self._dispatch(line.decode())

    def _dispatch(self, text: str) -> None:
        verb, _, rest = text.partition(" ")
        verb = verb.upper()
        command = COMMANDS[self.state].get(verb)
        if command is None:
            self._reply(r.ERR_WRONG_STATE if verb in KNOWN_VERBS else r.ERR_UNKNOWN_COMMAND)
            return
        if command.whole_argument:
            args = [rest] if rest else []
        else:
            args = [arg for arg in rest.split(" ") if arg]
        if not command.min_args <= len(args) <= command.max_args:
            self._reply(r.ERR_SYNTAX)
            return
        command.handler(self, args)

    # -- output --------------------------------------------------------------

    def _reply(self, reply: Reply) -> None:
        self._actions.append(Send(reply.to_bytes()))

    def _reply_lines(self, reply: Reply, lines: Sequence[str]) -> None:
        body = b"".join(_stuff_line(line.encode()) + CRLF for line in lines)
        self._actions.append(Send(reply.to_bytes() + body + r.END_OF_MULTILINE))

    # -- AUTHORIZATION -------------------------------------------------------

    def _may_authenticate(self) -> bool:
        return self.tls_active or self.policy.allow_plaintext_auth

    def cmd_CAPA(self, args: list[str]) -> None:
        capabilities = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER"]
        if self.policy.login_delay:
            capabilities.append(f"LOGIN-DELAY {self.policy.login_delay}")
        if self._may_authenticate():
            capabilities += ["USER", "SASL PLAIN"]
        if self.state is State.AUTHORIZATION and not self.tls_active:
            capabilities.append("STLS")
        capabilities += ["UTF8 USER", "IMPLEMENTATION Beacon-Mail"]
        self._reply_lines(r.OK_CAPA, capabilities)

    def cmd_STLS(self, args: list[str]) -> None:
        if self.tls_active:
            self._reply(r.ERR_ALREADY_TLS)
            return
        self._reply(r.OK_STLS)
        self._actions.append(StartTLS())
        self._buffer.clear()  # whatever was pipelined after STLS was sent in the clear

    def cmd_UTF8(self, args: list[str]) -> None:
        self.utf8 = True
        self._reply(r.OK_UTF8)

    def cmd_USER(self, args: list[str]) -> None:
        if not self._may_authenticate():
            self._reply(r.ERR_TLS_REQUIRED)
        elif not (self.utf8 or args[0].isascii()):
            self._reply(r.ERR_UTF8_REQUIRED)
        else:
            self._user = args[0]
            self._reply(r.OK_USER)

    def cmd_PASS(self, args: list[str]) -> None:
        if self._user_before is None:
            self._reply(r.ERR_NO_USER)
        elif not (self.utf8 or args[0].isascii()):
            self._reply(r.ERR_UTF8_REQUIRED)
        else:
            self._actions.append(Authenticate(self._user_before, args[0]))

    def cmd_AUTH(self, args: list[str]) -> None:
        if not self._may_authenticate():
            self._reply(r.ERR_TLS_REQUIRED)
        elif not args:
            self._reply_lines(r.OK_MECHANISMS, ["PLAIN"])
        elif args[0].upper() != "PLAIN":
            self._reply(r.ERR_MECHANISM)
        elif len(args) == 2:
            self._finish_sasl(args[1].encode())
        else:
            self._sasl_pending = True
            self._actions.append(Send(r.SASL_CONTINUE))

    def _finish_sasl(self, response: bytes | _TooLong) -> None:
        if response is _TooLong.LINE:
            self._reply(r.ERR_LINE_TOO_LONG)
        elif response == b"*":
            self._reply(r.ERR_AUTH_CANCELLED)
        else:
            message = decode_base64(response)
            credentials = None if message is None else parse_plain(message)
            if message is None:
                self._reply(r.ERR_BASE64)
            elif credentials is None:
                self._reply(r.ERR_AUTH)
            else:
                self._actions.append(Authenticate(*credentials))

    def cmd_QUIT_AUTHORIZATION(self, args: list[str]) -> None:
        self._reply(r.OK_QUIT.format(hostname=self.policy.hostname))
        self._close()

    def _enter_transaction(self, messages: Sequence[ListedMessage]) -> None:
        self.state = State.TRANSACTION
        self._messages = tuple(messages)
        self._reply(r.OK_MAILDROP.format(count=len(messages), size=self._octets()))

    def _finish_tls(self, result: Result) -> None:
        if result is not DONE:  # a failed handshake leaves nothing to talk over
            self._close()
            return
        self.tls_active = True
        self.utf8 = False
        self._buffer.clear()

    # -- TRANSACTION ---------------------------------------------------------

    def _live_numbers(self) -> list[int]:
        return [n for n in range(1, len(self._messages) + 1) if n not in self._deleted]

    def _octets(self) -> int:
        return sum(self._messages[n - 1].size for n in self._live_numbers())

    def _message_number(self, arg: str) -> int | None:
        """The number of a live message, or None after replying with the error."""
        if not (arg.isascii() and arg.isdigit()):
            self._reply(r.ERR_SYNTAX)
            return None
        number = int(arg)
        if not 1 <= number <= len(self._messages):
            self._reply(r.ERR_NO_SUCH_MESSAGE)
            return None
        if number in self._deleted:
            self._reply(r.ERR_DELETED.format(number=number))
            return None
        return number

    def cmd_STAT(self, args: list[str]) -> None:
        self._reply(r.OK_STAT.format(count=len(self._live_numbers()), size=self._octets()))

    def cmd_LIST(self, args: list[str]) -> None:
        if args:
            number = self._message_number(args[0])
            if number is not None:
                size = self._messages[number - 1].size
                self._reply(r.OK_SCAN_ONE.format(number=number, size=size))
            return
        numbers = self._live_numbers()
        listing = [f"{n} {self._messages[n - 1].size}" for n in numbers]
        self._reply_lines(r.OK_SCAN_LISTING.format(count=len(numbers), size=self._octets()), listing)

    def cmd_UIDL(self, args: list[str]) -> None:
        if args:
            number = self._message_number(args[0])
            if number is not None:
                self._reply(r.OK_UIDL_ONE.format(number=number, uid=self._messages[number - 1].uid))
            return
        listing = [f"{n} {self._messages[n - 1].uid}" for n in self._live_numbers()]
        self._reply_lines(r.OK_UIDL_LISTING, listing)

    def cmd_RETR(self, args: list[str]) -> None:
        number = self._message_number(args[0])
        if number is not None:
            message = self._messages[number - 1]
            status = r.OK_RETR.format(size=message.size).to_bytes()
            self._actions.append(Fetch(number, message.uid, None, status))

    def cmd_TOP(self, args: list[str]) -> None:
        number = self._message_number(args[0])
        if number is None:
            return
        if not (args[1].isascii() and args[1].isdigit()):
            self._reply(r.ERR_SYNTAX)
            return
        uid = self._messages[number - 1].uid
        self._actions.append(Fetch(number, uid, int(args[1]), r.OK_TOP.to_bytes()))

    def cmd_DELE(self, args: list[str]) -> None:
        number = self._message_number(args[0])
        if number is not None:
            self._deleted.add(number)
            self._reply(r.OK_DELE.format(number=number))

    def cmd_NOOP(self, args: list[str]) -> None:
        self._reply(r.OK_NOOP)

    def cmd_RSET(self, args: list[str]) -> None:
        self._deleted.clear()
        self._reply(r.OK_MAILDROP.format(count=len(self._messages), size=self._octets()))

    def cmd_QUIT_TRANSACTION(self, args: list[str]) -> None:
        # Only here does the session enter UPDATE (RFC 1939 §6); a dropped
        # connection, a timeout or a crash never gets this far.
        self.state = State.UPDATE
        uids = tuple(self._messages[n - 1].uid for n in sorted(self._deleted))
        self._actions.append(CommitDeletes(uids))

    def _finish_update(self, result: Result) -> None:
        if isinstance(result, Refused):
            self._reply(result.reply)
        elif result is not DONE:
            raise RuntimeError(f"{result!r} is not a result of CommitDeletes")
        else:
            left = len(self._live_numbers())
            self._reply(r.OK_QUIT_UPDATE.format(hostname=self.policy.hostname, count=left))
        self._close()

    def _close(self) -> None:
        self.state = State.CLOSED
        self._buffer.clear()
        self._actions.append(Close())


# Legal commands per state (like h11's transition tables). A verb known in
# some state but not the current one gets ERR_WRONG_STATE.
COMMANDS: Final[dict[State, dict[str, _Command]]] = {
    State.AUTHORIZATION: {
        "CAPA": _Command(Pop3Connection.cmd_CAPA),
        "STLS": _Command(Pop3Connection.cmd_STLS),
        "UTF8": _Command(Pop3Connection.cmd_UTF8),
        "USER": _Command(Pop3Connection.cmd_USER, 1, 1),
        "PASS": _Command(Pop3Connection.cmd_PASS, 1, 1, whole_argument=True),
        "AUTH": _Command(Pop3Connection.cmd_AUTH, 0, 2),
        "QUIT": _Command(Pop3Connection.cmd_QUIT_AUTHORIZATION),
    },
    State.TRANSACTION: {
        "CAPA": _Command(Pop3Connection.cmd_CAPA),
        "STAT": _Command(Pop3Connection.cmd_STAT),
        "LIST": _Command(Pop3Connection.cmd_LIST, 0, 1),
        "UIDL": _Command(Pop3Connection.cmd_UIDL, 0, 1),
        "RETR": _Command(Pop3Connection.cmd_RETR, 1, 1),
        "TOP": _Command(Pop3Connection.cmd_TOP, 2, 2),
        "DELE": _Command(Pop3Connection.cmd_DELE, 1, 1),
        "NOOP": _Command(Pop3Connection.cmd_NOOP),
        "RSET": _Command(Pop3Connection.cmd_RSET),
        "QUIT": _Command(Pop3Connection.cmd_QUIT_TRANSACTION),
    },
    State.UPDATE: {},
    State.CLOSED: {},
}
KNOWN_VERBS: Final = frozenset(verb for table in COMMANDS.values() for verb in table)


def _is_printable(line: bytes) -> bool:
    """No control characters (bare CR, bare LF, NUL, ...) and valid UTF-8."""
    if _CONTROL_CHARACTER.search(line):
        return False
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


def _stuff_line(line: bytes) -> bytes:
    return b"." + line if line.startswith(b".") else line
