"""aiosmtpd hooks: parse the envelope, ask `shared`, answer with a reply constant.

The rules themselves (who receives what, quotas, who may send as whom, rate limits) live
in shared; this module only turns SMTP input into calls and outcomes into replies.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import re
import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime, timezone
from typing import TypeVar

from aiosmtpd.smtp import Session
from sqlalchemy.exc import SQLAlchemyError

from services.smtp import replies
from services.smtp.protocol import BeaconSMTP, MailTransaction, authenticated_mailbox
from services.smtp.replies import Reply
from services.smtp.trace import TraceInfo, received_header
from shared.errors import InvalidAddress, QuotaExceeded, TemporaryFailure
from shared.mail import bounces, dnsbl, mailflow, message_log, ratelimit, rspamd, screening, srs, verp
from shared.mail.addresses import Address, normalise_domain, parse_address
from shared.mail.authentication.author import Author
from shared.mail.authentication.inbound import InboundDecision, check_inbound
from shared.mail.completion import complete_submission
from shared.mail.dsn_requests import Requests
from shared.mail.lineends import BARE_LF
from shared.mail.routing import (
    DeliveryPlan,
    LocalMailbox,
    Refusal,
    cached_plan,
    is_hosted_domain,
    may_send_as,
    resolve_recipient,
)
from shared.mail.screening import Screening
from shared.storage.db import Database
from shared.storage.directory_cache import DirectoryCache

log = logging.getLogger(__name__)
T = TypeVar("T")

BARE_CR = re.compile(rb"\r(?!\n)")
_SIZE_PARAMETER = re.compile(r"SIZE=([0-9]{1,20})")
POSTMASTER = "postmaster"
# SPF, DKIM, DMARC and ARC together: each lookup has its own shorter limit, this bounds them all.
MX_CHECK_TIME_LIMIT = 30.0
# What a lookup in `shared` raises while the database is unreachable.
LOOKUP_FAILURES = (TemporaryFailure, SQLAlchemyError)


def is_clean_path(address: str) -> bool:
    """No control characters, spaces or undecodable bytes: aiosmtpd's parser lets CR and NUL through."""
    return address.isprintable() and not any(character.isspace() for character in address)


def has_bare_newline(content: bytes) -> bool:
    """A CR or LF that is not part of a CRLF (lines were split on CRLF only)."""
    return BARE_CR.search(content) is not None or BARE_LF.search(content) is not None


def declared_size(mail_options: list[str]) -> int:
    for option in mail_options:
        match = _SIZE_PARAMETER.fullmatch(option)
        if match:
            return int(match.group(1))
    return 0


def expected_size(envelope: MailTransaction) -> int:
    """The size a RCPT's quota check assumes: the declared SIZE, or at least one octet."""
    return max(envelope.declared_size, 1)


def is_disk_full(error: BaseException) -> bool:
    cause = error.__cause__
    return isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)


class SmtpHandler:
    def __init__(self, db: Database, blocking: Executor, recipients: DirectoryCache[LocalMailbox] | None = None) -> None:
        """`recipients`: where plain mailboxes looked up on PostgreSQL are kept (shared.storage.directory_cache)."""
        self.db = db
        self.settings = db.settings
        self.blocking = blocking
        self.recipients = recipients
        self._reads_inline = db.is_sqlite
        self._logging: set[asyncio.Task[None]] = set()  # refusal logging left running when a session ends

    async def _call(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a blocking `shared` call (database, fsync) in the handler's threads."""
        return await asyncio.get_running_loop().run_in_executor(self.blocking, functools.partial(function, *args, **kwargs))

    async def _read(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a `shared` call that only reads the account database. On SQLite that is a short
        read of a local file that in WAL mode waits for no lock, so it runs in the event loop:
        the hand-off to a thread and back cost more CPU than the read. On PostgreSQL it is a
        round trip."""
        if self._reads_inline:
            return function(*args, **kwargs)
        return await self._call(function, *args, **kwargs)

    # -- MAIL --------------------------------------------------------------------------

    async def handle_MAIL(
        self, server: BeaconSMTP, session: Session, envelope: MailTransaction, address: str, mail_options: list[str]
    ) -> Reply:
        path = self._return_path(address, envelope.smtp_utf8)
        if isinstance(path, Reply):
            return path
        user = authenticated_mailbox(session)
        if server.listener.submission:
            try:
                refusal = await self._submission_refusal(user, path)
            except LOOKUP_FAILURES as error:
                log.error("MAIL FROM checks failed: %s", error)
                return replies.S451_LOCAL_ERROR
            if refusal is not None:
                return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.return_path = path
        envelope.declared_size = declared_size(mail_options)
        return replies.S250_SENDER_OK

    @staticmethod
    def _return_path(address: str, smtp_utf8: bool) -> str | Reply:
        """The reverse-path as given ("" for <>): remote local parts keep their case."""
        if address == "<>":
            return ""
        if not is_clean_path(address):
            return replies.S553_BAD_SENDER
        if not address.isascii() and not smtp_utf8:
            return replies.S550_UTF8_SENDER
        local, at, domain = address.rpartition("@")
        try:
            normalise_domain(domain)
        except InvalidAddress:
            return replies.S553_BAD_SENDER
        return address if at and local else replies.S553_BAD_SENDER

    async def _submission_refusal(self, user: str | None, path: str) -> Reply | None:
        assert user is not None  # aiosmtpd answers 530 before MAIL reaches us unauthenticated
        if not path or not await self._read(may_send_as, self.db, user, path):
            return replies.S553_NOT_YOUR_ADDRESS
        if not await self._call(ratelimit.submission_allowed, self.db, user):
            return replies.S451_RATE_LIMITED
        return None

    # -- RCPT --------------------------------------------------------------------------

    async def handle_RCPT(
        self, server: BeaconSMTP, session: Session, envelope: MailTransaction, address: str, rcpt_options: list[str]
    ) -> Reply:
        try:
            reply = await self._rcpt_reply(server, session, envelope, address, rcpt_options)
        except LOOKUP_FAILURES as error:
            # RFC 5321 §3.3: a 4xx to RCPT refuses this recipient only; the transaction goes on.
            log.error("recipient lookup failed: %s", error)
            return replies.S451_LOCAL_ERROR
        if reply.code >= 500:
            server.refused_recipients += 1
        if reply.code >= 400 and is_clean_path(address):
            envelope.refused.append((address[: message_log.MAX_ADDRESS], str(reply)))
        return reply

    async def _rcpt_reply(
        self, server: BeaconSMTP, session: Session, envelope: MailTransaction, address: str, rcpt_options: list[str]
    ) -> Reply:
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return replies.S452_TOO_MANY_RECIPIENTS
        if not is_clean_path(address) or address == "<>":
            return replies.S553_BAD_ADDRESS
        if not address.isascii() and not envelope.smtp_utf8:
            return replies.S553_UTF8_RECIPIENT
        zone = "" if server.listener.submission else await self._blocklisting(server, address)
        if zone:
            return replies.s554_blocklisted(zone)
        plan, returned_log = await self._return_plan(address)
        if plan is None:
            target = await self._recipient(address)
            if isinstance(target, Reply):
                return target
            plan = self._cached_plan(target, expected_size(envelope)) or await self._read(
                resolve_recipient, self.db, target, sender=envelope.return_path or None, cache=self.recipients
            )
        reply = self._plan_reply(plan, envelope, bool(session.authenticated))
        if reply is replies.S250_RECIPIENT_OK:
            self._add_recipient(envelope, plan, address)
            if returned_log is not None:
                envelope.returned_logs.add(returned_log)
            envelope.srs_returned |= srs.is_srs_address(address)
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return reply

    async def _return_plan(self, address: str) -> tuple[DeliveryPlan | None, str | None]:
        """Where mail to a return path of ours goes, before routing: a VERP address to the sender
        of the message it names (with that log entry), an SRS address on to the address it
        stands for. (None, None) for any other address. Asked only for those, so others pay no
        extra hand-off to a thread; an SRS local part may be longer than parse_address allows."""
        if verp.is_verp_address(address):
            route = await self._read(verp.bounce_route, self.db, address)
            return (route.plan, route.log_id) if route is not None else (None, None)
        if srs.is_srs_address(address):
            return await self._read(srs.bounce_plan, self.db, address), None
        return None, None

    async def _blocklisting(self, server: BeaconSMTP, address: str) -> str:
        """The BEACONMAIL_DNSBL zone that lists the client ("" for none), for a RCPT on the MX.
        RFC 5321 §4.5.1: the postmaster of a hosted domain is always reachable, so a listed
        sender can ask why."""
        if not self.settings.dnsbl or await self._is_hosted_postmaster(address):
            return ""
        if server.blocklisted_by is None:
            server.blocklisted_by = await self._listing_zone(server.peer_ip())
        return server.blocklisted_by

    async def _is_hosted_postmaster(self, address: str) -> bool:
        """`<postmaster>` (this host's) or postmaster@ a hosted domain."""
        local, at, domain = address.rpartition("@")
        if not at:
            return address.lower() == POSTMASTER
        if local.lower() != POSTMASTER:
            return False
        try:
            return await self._read(is_hosted_domain, self.db, normalise_domain(domain))
        except InvalidAddress:
            return False

    async def _listing_zone(self, ip: str) -> str:
        """The first zone that lists `ip` ("" for none): every zone asked at once, in threads."""
        zones = self.settings.dnsbl
        found = await asyncio.gather(*(self._call(dnsbl.is_listed, self.settings, ip, zone) for zone in zones))
        listing = next((zone for zone, listed in zip(zones, found, strict=True) if listed), "")
        if listing:
            log.info("RCPT refused for %s: listed by %s", ip, listing)
        return listing

    def _cached_plan(self, target: Address, size: int) -> DeliveryPlan | None:
        return cached_plan(self.recipients, target, size) if self.recipients is not None else None

    async def _recipient(self, address: str) -> Address | Reply:
        if address.lower() == POSTMASTER:
            return await self._bare_postmaster()
        try:
            return parse_address(address)
        except InvalidAddress:
            return replies.S553_BAD_ADDRESS

    async def _bare_postmaster(self) -> Address | Reply:
        """RFC 5321 §4.5.1: `<postmaster>` without a domain is the postmaster of this host:
        the hosted domain the server's name belongs to."""
        labels = self.settings.hostname.lower().rstrip(".").split(".")
        for start in range(len(labels) - 1):
            domain = ".".join(labels[start:])
            if await self._read(is_hosted_domain, self.db, domain):
                return Address(POSTMASTER, domain)
        return replies.S550_NO_SUCH_USER

    @staticmethod
    def _plan_reply(plan: DeliveryPlan, envelope: MailTransaction, authenticated: bool) -> Reply:
        if plan.refusal is Refusal.NOT_HOSTED and authenticated:
            return replies.S250_RECIPIENT_OK
        if plan.refusal is not None:
            return replies.REFUSAL_REPLIES[plan.refusal]
        size = expected_size(envelope)
        if plan.mailboxes and not plan.forwards and not any(m.has_room(size) for m in plan.mailboxes):
            return replies.S452_MAILBOX_FULL
        return replies.S250_RECIPIENT_OK

    @staticmethod
    def _add_recipient(envelope: MailTransaction, plan: DeliveryPlan, address: str) -> None:
        domain = plan.address.rpartition("@")[2]
        if plan.refusal is Refusal.NOT_HOSTED:
            # Relayed for an authenticated user: the local part as given, the domain as an A-label.
            relayed = f"{address.rpartition('@')[0]}@{domain}"
            envelope.remote[relayed] = None
            envelope.remote_requests[relayed] = envelope.rcpt_request
            return
        envelope.mailboxes.update((mailbox.id, mailbox) for mailbox in plan.mailboxes)
        envelope.mailbox_requests.update((mailbox.id, envelope.rcpt_request) for mailbox in plan.mailboxes)
        envelope.remote.update(dict.fromkeys(plan.forwards, domain))
        envelope.sender_vouched |= plan.sender_vouched

    # -- DATA --------------------------------------------------------------------------

    async def handle_DATA(self, server: BeaconSMTP, session: Session, envelope: MailTransaction) -> Reply:
        reply = await self._data_reply(server, session, envelope)
        if reply.code >= 400:
            refused = [(address, str(reply)) for address in envelope.rcpt_tos]
            await self._log_refusals(server, session, envelope, refused)
        return reply

    async def _data_reply(self, server: BeaconSMTP, session: Session, envelope: MailTransaction) -> Reply:
        content = envelope.original_content or b""
        if has_bare_newline(content):
            return replies.S550_BARE_NEWLINE
        user = authenticated_mailbox(session)
        if user is not None and not await self._call(ratelimit.consume_submission, self.db, user):
            return replies.S451_RATE_LIMITED
        trace = self._trace(server, session, envelope)
        above, junk_ids, author = b"", frozenset[int](), None
        if server.listener.submission:
            content = complete_submission(content, hostname=self.settings.hostname, now=datetime.now(timezone.utc))
        else:
            decision = await self._inbound_decision(server, session, envelope, content)
            if isinstance(decision, Reply):
                return decision
            above, content, junk_ids, author = decision.headers, decision.message, decision.junk_ids, decision.author
        message = above + received_header(trace, datetime.now(timezone.utc)) + content
        if author is not None:
            screened = await self._screen(envelope, trace, message, author)
            if isinstance(screened, Reply):
                return screened
            message = screened.headers + message
            junk_ids |= screened.junk_ids
        try:
            acceptance = await self._call(
                mailflow.accept_message,
                self.db,
                message,
                return_path=envelope.return_path,
                mailbox_ids=tuple(envelope.mailboxes),
                remote=envelope.remote,
                junk_ids=junk_ids,
                origin=self._origin(server, session, envelope),
                mailbox_addresses={number: mailbox.address for number, mailbox in envelope.mailboxes.items()},
                requests=Requests(envelope.message_request, envelope.mailbox_requests, envelope.remote_requests),
            )
        except QuotaExceeded:
            return replies.S452_MAILBOX_FULL
        except TemporaryFailure as error:
            return replies.S452_STORAGE_FULL if is_disk_full(error) else replies.S451_LOCAL_ERROR
        envelope.refused.clear()  # logged with the message
        if envelope.returned_logs or envelope.srs_returned:
            await self._correlate(envelope, message)
        return replies.s250_queued(acceptance.log_id)

    async def _correlate(self, envelope: MailTransaction, message: bytes) -> None:
        """A message to a return path of ours, already kept for the original sender: if it is a
        delivery report, the failed recipients' log entries become `bounced` (shared.mail.bounces).
        A failure here changes no reply: the bounce itself is stored."""
        try:
            await self._call(
                bounces.correlate, self.db, message, log_ids=envelope.returned_logs, by_message_id=envelope.srs_returned
            )
        except LOOKUP_FAILURES as error:
            log.error("could not correlate a bounce with the message log: %s", error)

    @staticmethod
    def _origin(server: BeaconSMTP, session: Session, envelope: MailTransaction) -> message_log.Origin:
        return message_log.Origin(
            via="submission" if server.listener.submission else "mx",
            client_ip=server.peer_ip(),
            user=authenticated_mailbox(session) or "",
            refused=tuple(envelope.refused),
        )

    async def _log_refusals(
        self, server: BeaconSMTP, session: Session, envelope: MailTransaction, refused: list[tuple[str, str]]
    ) -> None:
        """Log the refused recipients of a transaction with no accepted message; a failure to
        log changes no reply."""
        content = envelope.original_content or b""
        origin = self._origin(server, session, envelope)
        envelope.refused.clear()
        entry = message_log.refusal_entry(
            sender=envelope.return_path or "",
            message=content,
            origin=origin,
            refused=[*origin.refused, *refused],
        )
        try:
            await self._call(message_log.record_refusal, self.db, entry)
        except LOOKUP_FAILURES as error:
            log.error("could not log refused recipients: %s", error)

    def transaction_ended(self, server: BeaconSMTP, envelope: MailTransaction) -> None:
        """Called by the protocol when a transaction ends with refusals not yet logged."""
        session = server.session
        if session is None:
            return
        task = asyncio.get_running_loop().create_task(self._log_refusals(server, session, envelope, []))
        self._logging.add(task)
        task.add_done_callback(self._logging.discard)

    async def _inbound_decision(
        self, server: BeaconSMTP, session: Session, envelope: MailTransaction, content: bytes
    ) -> InboundDecision | Reply:
        """SPF, DKIM, DMARC and ARC at the MX (shared.mail.authentication.inbound): the header
        fields to add, the Junk copies, or the refusal."""
        checks = self._call(
            check_inbound,
            self.db,
            content,
            ip=server.peer_ip(),
            helo=session.host_name or "",
            return_path=envelope.return_path or "",
            mailboxes={number: mailbox.address for number, mailbox in envelope.mailboxes.items()},
            sender_vouched=envelope.sender_vouched,
        )
        try:
            decision = await asyncio.wait_for(checks, MX_CHECK_TIME_LIMIT)
        except TimeoutError:
            log.warning("sender authentication of a message from %s took too long", server.peer_ip())
            return replies.S451_SENDER_UNVERIFIED
        except LOOKUP_FAILURES as error:
            log.error("sender authentication failed: %s", error)
            return replies.S451_LOCAL_ERROR
        if decision.refusal is not None:
            log.info("message from %s refused: %s", server.peer_ip(), decision.refusal.value)
            return replies.VERDICT_REPLIES[decision.refusal]
        return decision

    async def _screen(self, envelope: MailTransaction, trace: TraceInfo, message: bytes, author: Author) -> Screening | Reply:
        """Sender lists and rspamd (shared.mail.screening), for a message that came in on the MX."""
        transaction = rspamd.Transaction(
            ip=trace.ip,
            helo=trace.helo,
            sender=envelope.return_path or "",
            recipients=tuple(envelope.rcpt_tos),
            queue_id=trace.transaction_id,
        )
        try:
            screened = await self._call(
                screening.screen, self.db, message, transaction, mailbox_ids=tuple(envelope.mailboxes),
                from_addresses=author.addresses,
            )
        except LOOKUP_FAILURES as error:
            log.error("end-of-DATA screening failed: %s", error)
            return replies.S451_LOCAL_ERROR
        if screened.refusal is not None:
            log.info("message %s from %s refused: %s", trace.transaction_id, trace.ip, screened.refusal.value)
            return replies.SCREENING_REPLIES[screened.refusal]
        return screened

    def _trace(self, server: BeaconSMTP, session: Session, envelope: MailTransaction) -> TraceInfo:
        return TraceInfo(
            helo=session.host_name or "unknown",
            ip=server.peer_ip(),
            hostname=self.settings.hostname,
            extended=session.extended_smtp,
            smtp_utf8=envelope.smtp_utf8,
            tls=server.tls_object(),
            authenticated_as=authenticated_mailbox(session),
            transaction_id=secrets.token_hex(8),
        )

    # -- errors ------------------------------------------------------------------------

    async def handle_exception(self, error: Exception) -> Reply:
        log.error("SMTP session error", exc_info=error)
        return replies.S451_LOCAL_ERROR
