"""aiosmtpd's SMTP with the behaviours of 1.4.6 that this service must not keep.

What changes, and why (see the protocol checklist, section 1.2):
- command lines end in CRLF only and are at most 512 octets including it; the size
  limits are per connection (stock: a class-level counter that grows with every EHLO);
- EHLO advertises exactly what we implement, AUTH only where it may be used;
- every reply carries an RFC 3463 code (built-in ones are translated in `push`);
- AUTH runs its password check off the event loop, answers every outcome, matches the
  mechanism case-insensitively; `AUTH=` on MAIL is accepted where AUTH is offered (RFC 4954 §5);
- DSN (RFC 3461) is offered on the submission ports: its MAIL and RCPT parameters are read
  here (dsn_parameters.py), before aiosmtpd, which answers 555 to any parameter it does not know
  (as it still does on the MX, where DSN is not offered);
- a second STARTTLS gets 503 instead of killing the session; VRFY never echoes input;
- the idle timer keeps running while DATA bytes arrive (stock cuts a slow DATA at `timeout`);
- at most a fixed number of sessions hold a DATA body in memory at once.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email._header_value_parser import get_addr_spec, get_angle_addr
from typing import TypeVar, cast

from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException, syntax

from services.smtp import replies
from services.smtp.auth import MECHANISMS, Authenticator, SaslError, read_credentials
from services.smtp.dsn_parameters import BadDsnParameter, read_mail_parameters, read_rcpt_parameters
from services.smtp.replies import Reply, translate_stock_reply
from services.smtp.stream import (
    AuthLineTooLong,
    BareNewlineError,
    StrictLineReader,
    longest_line,
    read_crlf_line,
    unstuff,
)
from shared.config import Settings
from shared.mail.dsn_requests import NO_MESSAGE_REQUEST, NOTHING_ASKED, MessageRequest, RecipientRequest
from shared.mail.routing import LocalMailbox
from shared.runtime.connections import ConnectionsPerIp

log = logging.getLogger(__name__)
R = TypeVar("R", MessageRequest, RecipientRequest)

IDENT = "ESMTP Beacon Mail"
# RFC 5321 §4.5.3.1.4: 512 octets including CRLF; aiosmtpd measures the line without it.
COMMAND_LIMIT = 510
# RFC 1870 §3 and RFC 6531 §3.4 let MAIL grow by these when SIZE and SMTPUTF8 are offered.
MAIL_EXTENSION_OCTETS = 26 + 10
# RFC 3461 §5: RET and ENVID lengthen MAIL by up to 110 octets, NOTIFY and ORCPT RCPT by 500.
MAIL_DSN_OCTETS = 110
RCPT_DSN_OCTETS = 500
MAX_HELO_LENGTH = 255
# Per connection; "*" covers every other command (a guard against endless loops, not a policy).
COMMAND_CALL_LIMITS = {"AUTH": 10, "*": 100_000}
# RFC 5321 §4.5.3.2.7: a server should wait at least 5 minutes for the next command.
IDLE_TIMEOUT = 300.0
# Refused recipients a session may collect before it is closed with 421. Each costs a lookup,
# so without a cap one connection could probe for users (or load the database) forever;
# Postfix's smtpd_hard_error_limit closes such sessions for the same reason.
REFUSED_RECIPIENT_LIMIT = 100
# `<dot-atom@domain>` and its parameters, the shape nearly every MAIL and RCPT has: a regular
# expression answers it as the email package's parser would, for a small part of the CPU.
# Anything else (quoted local parts, comments, source routes, odd spacing) still goes to the parser.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?: +([^ (].*)?)?")


@dataclass(frozen=True)
class Listener:
    """What one port offers. `submission` means AUTH is offered and required before MAIL."""

    name: str
    port: int
    submission: bool
    implicit_tls: bool


@dataclass(frozen=True)
class ServerContext:
    """What every session of one smtp process shares."""

    settings: Settings
    tls_context: ssl.SSLContext
    authenticator: Authenticator
    data_slots: asyncio.Semaphore  # sessions that may hold a DATA body in memory at once
    connections: ConnectionsPerIp
    idle_timeout: float = IDLE_TIMEOUT


class MailTransaction(Envelope):
    """aiosmtpd's envelope plus what the RCPT checks found, so DATA needs no second lookup."""

    def __init__(self) -> None:
        super().__init__()
        self.return_path: str | None = None  # "" for the null reverse-path <>
        self.declared_size = 0
        self.mailboxes: dict[int, LocalMailbox] = {}
        # Addresses for the outbound queue, each with the hosted domain that forwards there
        # (None: relayed for the signed-in user).
        self.remote: dict[str, str | None] = {}
        self.sender_vouched = False  # a group admitted the sender by address (DeliveryPlan.sender_vouched)
        # Recipients refused at RCPT, with our reply, for the message log (logged once, then cleared).
        self.refused: list[tuple[str, str]] = []
        # DSN (RFC 3461): what MAIL asked for; what the RCPT being answered asks for; what each
        # accepted recipient asked for, by mailbox id and by relayed address.
        self.message_request: MessageRequest = NO_MESSAGE_REQUEST
        self.rcpt_request: RecipientRequest = NOTHING_ASKED
        self.mailbox_requests: dict[int, RecipientRequest] = {}
        self.remote_requests: dict[str, RecipientRequest] = {}
        # Return paths of ours among the recipients: the log entries VERP addresses name, and
        # whether an SRS address took a bounce, so DATA reads the message as a delivery report.
        self.returned_logs: set[str] = set()
        self.srs_returned = False


def is_valid_helo(hostname: str | None) -> bool:
    """A domain or address literal: printable, no spaces or control characters (they would
    end up in the Received header), not undecodable bytes."""
    if not hostname:
        return False
    return len(hostname) <= MAX_HELO_LENGTH and hostname.isprintable() and " " not in hostname


class BeaconSMTP(SMTP):
    command_size_limit = COMMAND_LIMIT
    data_size_limit: int  # aiosmtpd allows None (no limit); ours is always settings.max_message_size

    def __init__(self, handler: object, *, listener: Listener, context: ServerContext) -> None:
        # Before super().__init__, which clear()s it: one limits table per connection.
        self.command_size_limits = collections.defaultdict(lambda: COMMAND_LIMIT)
        super().__init__(
            handler,
            data_size_limit=context.settings.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=context.settings.hostname,
            ident=IDENT,
            tls_context=None if listener.implicit_tls else context.tls_context,
            require_starttls=listener.submission,
            auth_required=listener.submission,
            auth_require_tls=True,
            timeout=context.idle_timeout,
            command_call_limit=COMMAND_CALL_LIMITS,
        )
        asyncio.StreamReaderProtocol.__init__(
            self,
            StrictLineReader(loop=self.loop, limit=self.line_length_limit),
            client_connected_cb=self._cb_client_connected,
            loop=self.loop,
        )
        self.listener = listener
        self.login_checker = context.authenticator if listener.submission else None
        self.data_slots = context.data_slots
        self._greeting = f"220 {self.hostname} {IDENT}"
        self._receiving_data = False
        self.refused_recipients = 0  # counted by the handler, for the whole connection
        # The blocklist zone that lists the client ("" for none), looked up at its first RCPT.
        self.blocklisted_by: str | None = None
        self.connections = context.connections
        self._counted_ip: str | None = None  # set once admitted under the per-IP cap

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        if not self.connections.admit(ip):
            log.warning("refusing a connection from %s: %d open already", ip, self.connections.held_by(ip))
            cast(asyncio.WriteTransport, transport).write(replies.S421_TOO_MANY_CONNECTIONS.to_bytes())
            transport.close()
            return  # aiosmtpd never starts this session
        self._counted_ip = ip
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted_ip is None:
            return
        self.connections.release(self._counted_ip)
        self._end_transaction()
        super().connection_lost(error)

    def _create_envelope(self) -> MailTransaction:
        self._end_transaction()
        return MailTransaction()

    def _end_transaction(self) -> None:
        """A transaction ends (RSET, EHLO, after DATA, the connection gone): the handler logs
        the recipients it refused that no DATA reply has logged yet."""
        envelope = getattr(self, "envelope", None)
        if isinstance(envelope, MailTransaction) and envelope.refused:
            self.event_handler.transaction_ended(self, envelope)

    # -- facts the handler asks about (methods: aiosmtpd inspects every attribute at init)

    def tls_object(self) -> ssl.SSLObject | None:
        if self.transport is None:
            return None
        return cast(ssl.SSLObject | None, self.transport.get_extra_info("ssl_object"))

    def offers_dsn(self) -> bool:
        """On the submission ports only: the MX keeps answering 555 to DSN parameters (SMTP-21)."""
        return self.listener.submission

    def offers_auth(self) -> bool:
        """AUTH only under TLS, whatever allow_plaintext_auth says: RFC 8314 and issue 3."""
        return self.login_checker is not None and self.tls_object() is not None

    def peer_ip(self) -> str:
        assert self.session is not None
        peer = self.session.peer
        return str(peer[0]) if isinstance(peer, tuple) else str(peer)

    # -- output ----------------------------------------------------------------------

    async def push(self, status: str | bytes | Reply) -> None:
        if isinstance(status, Reply):
            data = status.to_bytes()
        elif isinstance(status, bytes):
            data = status + b"\r\n"
        elif status == self._greeting:
            data = status.encode("ascii", "replace") + b"\r\n"
        else:
            data = translate_stock_reply(status)
        self._writer.write(data)
        await self._writer.drain()

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, BareNewlineError):
            return str(replies.S500_BARE_NEWLINE)  # already enhanced: push sends it as it is
        if isinstance(error, TLSSetupException):  # a client that gave up the handshake; aiosmtpd closes
            log.info("TLS handshake with %s failed: %s", self.peer_ip(), error.__cause__)
            return str(replies.S454_TLS_UNAVAILABLE)
        self._set_rset_state()  # type: ignore[no-untyped-call]  # aiosmtpd leaves its state methods unannotated
        return await super().handle_exception(error)

    # -- greeting commands -----------------------------------------------------------

    async def smtp_HELO(self, hostname: str) -> None:
        if not is_valid_helo(hostname):
            await self.push(replies.S501_HELO_SYNTAX)
            return
        self._greet(hostname, extended=False)
        await self.push(f"250 {self.hostname}".encode("ascii", "replace"))

    async def smtp_EHLO(self, hostname: str) -> None:
        if not is_valid_helo(hostname):
            await self.push(replies.S501_HELO_SYNTAX)
            return
        self._greet(hostname, extended=True)
        self.command_size_limits["MAIL"] = COMMAND_LIMIT + MAIL_EXTENSION_OCTETS
        if self.offers_dsn():
            self.command_size_limits["MAIL"] += MAIL_DSN_OCTETS
            self.command_size_limits["RCPT"] = COMMAND_LIMIT + RCPT_DSN_OCTETS
        lines = self._ehlo_keywords()
        for keyword in lines[:-1]:
            await self.push(b"250-" + keyword.encode("ascii", "replace"))
        await self.push(b"250 " + lines[-1].encode("ascii", "replace"))

    def _greet(self, hostname: str, *, extended: bool) -> None:
        self._set_rset_state()  # type: ignore[no-untyped-call]
        assert self.session is not None
        self.session.extended_smtp = extended
        self.session.host_name = hostname

    def _ehlo_keywords(self) -> list[str]:
        keywords = [
            self.hostname,
            f"SIZE {self.data_size_limit}",
            "8BITMIME",
            "SMTPUTF8",
            "PIPELINING",
            "ENHANCEDSTATUSCODES",
        ]
        if self.tls_context is not None and self.tls_object() is None:
            keywords.append("STARTTLS")
        if self.offers_auth():
            keywords.append("AUTH " + " ".join(MECHANISMS))
        if self.offers_dsn():
            keywords.append("DSN")
        return keywords

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.tls_object() is not None:
            await self.push(replies.S503_TLS_ACTIVE)
            return
        await super().smtp_STARTTLS(arg)

    # -- AUTH ------------------------------------------------------------------------

    async def smtp_AUTH(self, arg: str | None) -> None:
        refusal = self._auth_refusal(arg)
        if refusal is not None:
            await self.push(refusal)
            return
        assert arg is not None and self.login_checker is not None and self.session is not None
        mechanism, _, initial = arg.strip().partition(" ")
        try:
            credentials = await read_credentials(mechanism.upper(), initial.strip() or None, self._challenge)
        except SaslError as error:
            await self.push(error.reply)
            return
        outcome = await self.login_checker.verify(credentials, self.peer_ip())
        if outcome.mailbox is not None:
            self.session.authenticated = True
            self.session.auth_data = outcome.mailbox  # type: ignore[assignment]  # aiosmtpd's Session infers None
        await self.push(outcome.reply)
        if outcome.close and self.transport is not None:
            self.transport.close()

    def _auth_refusal(self, arg: str | None) -> Reply | None:
        assert self.session is not None
        if self.login_checker is None:
            return replies.S502_NOT_IMPLEMENTED
        if not self.session.extended_smtp:
            return replies.S503_SEND_HELO
        if not self.offers_auth():
            return replies.S538_ENCRYPTION_REQUIRED
        if self.session.authenticated:
            return replies.S503_ALREADY_AUTHENTICATED
        words = (arg or "").split()
        if not 1 <= len(words) <= 2:
            return replies.S501_SYNTAX
        if words[0].upper() not in MECHANISMS:
            return replies.S504_UNKNOWN_MECHANISM
        return None

    async def _challenge(self, challenge: bytes) -> bytes:
        await self.push(b"334 " + challenge)
        try:
            return await read_crlf_line(self._reader)
        except AuthLineTooLong:
            raise SaslError(replies.S500_AUTH_LINE_TOO_LONG) from None

    # -- mail transaction ------------------------------------------------------------

    async def smtp_MAIL(self, arg: str | None) -> None:
        if arg is not None and self.offers_auth():
            arg = self._without_auth_parameter(arg)
        if arg is not None and self._reads_dsn():
            read = self._dsn_parameters("FROM:", arg, read_mail_parameters)
            if read is None:
                await self.push(replies.S501_SYNTAX)
                return
            arg, request = read
            assert isinstance(self.envelope, MailTransaction)  # _create_envelope makes no other
            if not self.envelope.mail_from:  # a nested MAIL leaves the transaction's request alone
                self.envelope.message_request = request
        await super().smtp_MAIL(arg)

    def _reads_dsn(self) -> bool:
        """Where DSN is offered and MAIL may be given (after EHLO and AUTH): aiosmtpd's own
        checks answer the rest."""
        session = self.session
        return self.offers_dsn() and session is not None and session.extended_smtp and bool(session.authenticated)

    def _dsn_parameters(self, keyword: str, arg: str, reader: Callable[[str], tuple[str, R]]) -> tuple[str, R] | None:
        """`arg` without its DSN parameters, and what they ask for; None when one is bad. An
        argument without an address goes on unchanged, for aiosmtpd's syntax reply."""
        path = self._strip_command_keyword(keyword, arg)
        address, rest = self._getaddr(path) if path is not None else (None, None)
        if address is None or not rest or not arg.endswith(rest):
            return arg, reader("")[1]
        try:
            others, request = reader(rest)
        except BadDsnParameter as error:
            log.info("%s from %s refused: %s", keyword.rstrip(":"), self.peer_ip(), error)
            return None
        return arg[: len(arg) - len(rest)] + others, request

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's parser minus the `typing.Protocol` class it defined on every MAIL and RCPT."""
        if not arg:
            return "", ""
        parsed = parse_path(arg)
        if parsed is None:
            return None, None
        spec, rest = parsed
        if self.local_part_limit and len(spec.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return spec, rest

    def _without_auth_parameter(self, arg: str) -> str:
        """Drop `AUTH=<mailbox>`: we never trust a client's claim about who submitted the
        message, which RFC 4954 §5 allows by treating it as `AUTH=<>`."""
        path = self._strip_command_keyword("FROM:", arg)
        if path is None:
            return arg
        address, rest = self._getaddr(path)
        if address is None or not rest or not arg.endswith(rest):
            return arg
        kept = [param for param in rest.split() if not param.upper().startswith("AUTH=")]
        return arg[: len(arg) - len(rest)] + " ".join(kept)

    async def smtp_RCPT(self, arg: str | None) -> None:
        if self.refused_recipients >= REFUSED_RECIPIENT_LIMIT:
            log.warning("closing the session of %s: %d recipients refused", self.peer_ip(), self.refused_recipients)
            await self.push(replies.S421_TOO_MANY_REFUSED_RECIPIENTS)
            if self.transport is not None:
                self.transport.close()
            return
        if arg is not None and self._reads_dsn():
            read = self._dsn_parameters("TO:", arg, read_rcpt_parameters)
            if read is None:
                await self.push(replies.S501_SYNTAX)
                return
            arg, request = read
            assert isinstance(self.envelope, MailTransaction)
            self.envelope.rcpt_request = request
        await super().smtp_RCPT(arg)

    async def smtp_VRFY(self, arg: str | None) -> None:
        if await self.check_auth_needed("VRFY"):
            return
        await self.push(replies.S252_CANNOT_VRFY if arg else replies.S501_SYNTAX)

    async def smtp_HELP(self, arg: str | None) -> None:
        await self.push(replies.S214_HELP)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str | None) -> None:
        """aiosmtpd's DATA, reading the body in chunks (see stream.py) instead of by line."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push(replies.S503_NEED_RCPT)
            return
        if arg:
            await self.push(replies.S501_SYNTAX)
            return
        async with self.data_slots:
            await self.push(replies.S354_START_INPUT)
            body = await self._read_data()
        refusal = self._limit_refusal(body)
        if refusal is None:
            assert body is not None
            self.envelope.content = self.envelope.original_content = unstuff(body)
            reply = await self._call_handler_hook("DATA")
        else:  # the handler never sees it: logged as refused when the transaction ends
            assert isinstance(self.envelope, MailTransaction)  # _create_envelope makes no other
            self.envelope.refused.extend((address, str(refusal)) for address in self.envelope.rcpt_tos)
            reply = refusal
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(reply)

    def _limit_refusal(self, body: bytes | None) -> Reply | None:
        """RFC 5321 §4.2.5: a body that breaks a limit is refused only after its end."""
        if body is None:
            return replies.S552_MESSAGE_TOO_BIG
        if longest_line(body) > self.line_length_limit:
            return replies.S500_DATA_LINE_TOO_LONG
        return None

    async def _read_data(self) -> bytes | None:
        self._receiving_data = True
        try:
            return await cast(StrictLineReader, self._reader).read_data(self.data_size_limit)
        except asyncio.CancelledError:
            log.info("connection lost during DATA")
            self._writer.close()
            raise
        finally:
            self._receiving_data = False

    def data_received(self, data: bytes) -> None:
        if self._receiving_data:
            self._reset_timeout()
        super().data_received(data)


def parse_path(arg: str) -> tuple[str, str] | None:
    """The address in a MAIL or RCPT argument and the rest after it (its parameters), as the
    email package's parser reads them; None if there is no address."""
    simple = _SIMPLE_PATH.fullmatch(arg)
    if simple is not None:
        return simple.group(1), simple.group(2) or ""
    return parse_path_fully(arg)


def parse_path_fully(arg: str) -> tuple[str, str] | None:
    try:
        address, rest = get_angle_addr(arg) if arg.lstrip().startswith("<") else get_addr_spec(arg)
        return address.addr_spec, rest
    # Malformed input makes this private parser raise more than HeaderParseError (fuzzing found
    # IndexError for "<a@", AttributeError, UnboundLocalError): each means "not an address".
    except Exception:  # noqa: BLE001
        return None


def authenticated_mailbox(session: Session) -> str | None:
    """The address the session authenticated as, if any."""
    mailbox = session.auth_data if session.authenticated else None
    return getattr(mailbox, "address", None)
