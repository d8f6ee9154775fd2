"""SMTP replies as data, and the table that gives aiosmtpd's built-in replies enhanced codes.

We advertise ENHANCEDSTATUSCODES, and RFC 2034 §4 then requires an RFC 3463 code in every
2xx/4xx/5xx line except the greeting and the HELO/EHLO answers. aiosmtpd 1.4.6 pushes
many replies without one (`250 OK`, `503 Error: send HELO first`, ...) from code we do not
own, so `translate_stock_reply` maps each of those strings to a constant here. Anything
unknown still gets a generic code of its class and a fixed text (nothing echoed).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from shared.mail import screening
from shared.mail.authentication.inbound import Verdict
from shared.mail.routing import Refusal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    code: int
    enhanced: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}"

    def to_bytes(self) -> bytes:
        return str(self).encode("ascii") + b"\r\n"


# An intermediate reply: RFC 2034's enhanced codes are for 2xx, 4xx and 5xx only.
S354_START_INPUT = b"354 End data with <CR><LF>.<CR><LF>"
S214_HELP = Reply(214, "2.0.0", "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY STARTTLS AUTH")
S220_TLS_READY = Reply(220, "2.0.0", "Ready to start TLS")
S221_BYE = Reply(221, "2.0.0", "Bye")
S235_AUTH_OK = Reply(235, "2.7.0", "Authentication successful")
S250_OK = Reply(250, "2.0.0", "OK")
S250_SENDER_OK = Reply(250, "2.1.0", "Sender OK")
S250_RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")
S252_CANNOT_VRFY = Reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery")

S421_TOO_MANY_COMMANDS = Reply(421, "4.7.0", "Too many commands, closing connection")
S421_TOO_MANY_CONNECTIONS = Reply(421, "4.7.0", "Too many connections from your address, try again later")
S421_TOO_MANY_REFUSED_RECIPIENTS = Reply(421, "4.7.0", "Too many refused recipients, closing connection")
S451_LOCAL_ERROR = Reply(451, "4.3.0", "Local error in processing, try again later")
S451_RATE_LIMITED = Reply(451, "4.7.1", "Submission rate limit exceeded, try again later")
S451_SENDER_UNVERIFIED = Reply(451, "4.4.3", "Sender authentication could not finish (DNS), try again later")
S451_SPAM_DEFERRED = Reply(451, "4.7.1", "Message deferred by the spam filter, try again later")
S452_STORAGE_FULL = Reply(452, "4.3.1", "Insufficient system storage, try again later")
# RFC 3463 X.2.2: "a persistent transient failure": the owner can make room, so at RCPT and
# at end of data alike the sender is told to try again later.
S452_MAILBOX_FULL = Reply(452, "4.2.2", "Mailbox full")
S452_TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")
S454_AUTH_UNAVAILABLE = Reply(454, "4.7.0", "Temporary authentication failure, try again later")
S454_TLS_UNAVAILABLE = Reply(454, "4.7.0", "TLS not available")

S500_UNRECOGNIZED = Reply(500, "5.5.2", "Command unrecognized")
S500_BAD_SYNTAX = Reply(500, "5.5.2", "Syntax error")
S500_LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long")
S500_BARE_NEWLINE = Reply(500, "5.5.2", "Command lines must end with CRLF")
S500_NON_ASCII = Reply(500, "5.5.2", "Non-ASCII command")
S500_AUTH_LINE_TOO_LONG = Reply(500, "5.5.6", "Authentication exchange line is too long")
S500_DATA_LINE_TOO_LONG = Reply(500, "5.5.2", "Message has lines longer than 1000 octets (RFC 5321 4.5.3.1.6)")
S501_SYNTAX = Reply(501, "5.5.4", "Syntax error in parameters or arguments")
S501_MAIL_SYNTAX = Reply(501, "5.5.4", "Syntax: MAIL FROM:<address> [SP <mail-parameters>]")
S501_RCPT_SYNTAX = Reply(501, "5.5.4", "Syntax: RCPT TO:<address> [SP <rcpt-parameters>]")
S501_HELO_SYNTAX = Reply(501, "5.5.4", "Syntax: EHLO hostname")
S501_BODY = Reply(501, "5.5.4", "BODY can only be one of 7BIT, 8BITMIME")
S501_SMTPUTF8_ARGUMENT = Reply(501, "5.5.4", "SMTPUTF8 takes no arguments")
S501_AUTH_ABORTED = Reply(501, "5.7.0", "Authentication aborted")
S501_BAD_BASE64 = Reply(501, "5.5.2", "Cannot decode response")
S501_BAD_SASL = Reply(501, "5.5.2", "Malformed authentication response")
S502_NOT_IMPLEMENTED = Reply(502, "5.5.1", "Command not implemented")
S503_SEND_HELO = Reply(503, "5.5.1", "Send EHLO first")
S503_NESTED_MAIL = Reply(503, "5.5.1", "Sender already specified")
S503_NEED_MAIL = Reply(503, "5.5.1", "Need MAIL command")
S503_NEED_RCPT = Reply(503, "5.5.1", "No valid recipients")
S503_ALREADY_AUTHENTICATED = Reply(503, "5.5.1", "Already authenticated")
S503_TLS_ACTIVE = Reply(503, "5.5.1", "TLS already active")
S504_UNKNOWN_MECHANISM = Reply(504, "5.5.4", "Unrecognized authentication type")
S530_AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
S530_STARTTLS_REQUIRED = Reply(530, "5.7.0", "Must issue a STARTTLS command first")
S535_AUTH_FAILED = Reply(535, "5.7.8", "Authentication credentials invalid")
S535_ACCOUNT_DISABLED = Reply(535, "5.7.8", "Account disabled for SMTP")
S538_ENCRYPTION_REQUIRED = Reply(538, "5.7.11", "Encryption required for requested authentication mechanism")
S550_NO_SUCH_USER = Reply(550, "5.1.1", "No such user here")
S550_MAILBOX_DISABLED = Reply(550, "5.2.1", "Mailbox disabled")
S550_LOOP = Reply(550, "5.4.6", "Routing loop detected")
S550_SENDER_NOT_ALLOWED = Reply(550, "5.7.1", "Sender may not write to this group")
S550_BARE_NEWLINE = Reply(550, "5.6.0", "Message contains bare CR or LF; lines must end with CRLF")
S550_SENDER_BLOCKED = Reply(550, "5.7.1", "Sender blocked by the recipient's domain")
S550_SPAM = Reply(550, "5.7.1", "Message refused as spam")
S550_UTF8_SENDER = Reply(550, "5.6.7", "Non-ASCII address requires the SMTPUTF8 parameter")
S550_DMARC_REJECT = Reply(550, "5.7.1", "Message refused: DMARC policy of the From domain is reject and it failed")
S550_SPF_FAIL = Reply(550, "5.7.23", "SPF validation failed for the envelope sender")
S550_FORGED_SENDER = Reply(550, "5.7.1", "Sender address in a hosted domain failed authentication (SPF, DKIM)")
S550_AMBIGUOUS_AUTHOR = Reply(550, "5.7.1", "Message must have one From: address (DMARC, RFC 7489 6.6.1)")
S552_MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
S553_BAD_ADDRESS = Reply(553, "5.1.3", "Malformed address")
S553_BAD_SENDER = Reply(553, "5.1.7", "Malformed sender address")
S553_UTF8_RECIPIENT = Reply(553, "5.6.7", "Non-ASCII address requires the SMTPUTF8 parameter")
S553_NOT_YOUR_ADDRESS = Reply(553, "5.7.1", "Sender address not owned by the authenticated user")
S554_RELAY_DENIED = Reply(554, "5.7.1", "Relay access denied")
S554_INSECURE = Reply(554, "5.7.0", "Command refused due to lack of security")
S555_MAIL_PARAMETERS = Reply(555, "5.5.4", "MAIL FROM parameters not recognized or not implemented")
S555_RCPT_PARAMETERS = Reply(555, "5.5.4", "RCPT TO parameters not recognized or not implemented")



def s250_queued(log_id: str) -> Reply:
    """The end of DATA names the message log's id (shared.mail.message_log), as Postfix's
    "queued as" does: the id the log, the API and every service's log lines use."""
    return Reply(250, "2.0.0", f"Ok: queued as {log_id}")


def s554_blocklisted(zone: str) -> Reply:
    """554 naming the blocklist (a zone from the settings, validated there): the client's
    operator needs it to ask for delisting."""
    return Reply(554, "5.7.1", f"Client address is listed by {zone}")


REFUSAL_REPLIES: dict[Refusal, Reply] = {
    Refusal.NOT_HOSTED: S554_RELAY_DENIED,
    Refusal.NO_SUCH_USER: S550_NO_SUCH_USER,
    Refusal.DISABLED: S550_MAILBOX_DISABLED,
    Refusal.SENDER_NOT_ALLOWED: S550_SENDER_NOT_ALLOWED,
    Refusal.LOOP: S550_LOOP,
}

VERDICT_REPLIES: dict[Verdict, Reply] = {
    Verdict.DMARC_REJECT: S550_DMARC_REJECT,
    Verdict.SPF_FAIL: S550_SPF_FAIL,
    Verdict.FORGED_SENDER: S550_FORGED_SENDER,
    Verdict.AMBIGUOUS_AUTHOR: S550_AMBIGUOUS_AUTHOR,
    Verdict.UNVERIFIED_SENDER: S451_SENDER_UNVERIFIED,
    Verdict.GROUP_OUTSIDER: S550_SENDER_NOT_ALLOWED,
    Verdict.UNVERIFIED_GROUP_SENDER: S451_SENDER_UNVERIFIED,
}

SCREENING_REPLIES: dict[screening.Refusal, Reply] = {
    screening.Refusal.BLOCKED_SENDER: S550_SENDER_BLOCKED,
    screening.Refusal.SPAM: S550_SPAM,
    screening.Refusal.SPAM_DEFERRED: S451_SPAM_DEFERRED,
}

# Every reply text aiosmtpd 1.4.6 can still push once our overrides are in place.
STOCK_REPLIES: dict[str, Reply] = {
    "250 OK": S250_OK,
    "221 Bye": S221_BYE,
    "220 Ready to start TLS": S220_TLS_READY,
    "500 Command line too long": S500_LINE_TOO_LONG,
    "500 Error: bad syntax": S500_BAD_SYNTAX,
    "500 Error: strict ASCII mode": S500_NON_ASCII,
    "554 Command refused due to lack of security": S554_INSECURE,
    "530 Must issue a STARTTLS command first": S530_STARTTLS_REQUIRED,
    "503 Error: send HELO first": S503_SEND_HELO,
    "501 Syntax: QUIT": S501_SYNTAX,
    "501 Syntax: RSET": S501_SYNTAX,
    "501 Syntax: DATA": S501_SYNTAX,
    "501 Syntax: STARTTLS": S501_SYNTAX,
    "501 Syntax: MAIL FROM: <address>": S501_MAIL_SYNTAX,
    "501 Syntax: MAIL FROM: <address> [SP <mail-parameters>]": S501_MAIL_SYNTAX,
    "501 Syntax: RCPT TO: <address>": S501_RCPT_SYNTAX,
    "501 Syntax: RCPT TO: <address> [SP <mail-parameters>]": S501_RCPT_SYNTAX,
    "503 Error: nested MAIL command": S503_NESTED_MAIL,
    "501 Error: BODY can only be one of 7BIT, 8BITMIME": S501_BODY,
    "501 Error: SMTPUTF8 takes no arguments": S501_SMTPUTF8_ARGUMENT,
    "501 Error: SMTPUTF8 disabled": S555_MAIL_PARAMETERS,
    "454 TLS not available": S454_TLS_UNAVAILABLE,
    "552 Error: message size exceeds fixed maximum message size": S552_MESSAGE_TOO_BIG,
    "555 MAIL FROM parameters not recognized or not implemented": S555_MAIL_PARAMETERS,
    "503 Error: need MAIL command": S503_NEED_MAIL,
    "555 RCPT TO parameters not recognized or not implemented": S555_RCPT_PARAMETERS,
    "553 5.1.3 Error: malformed address": S553_BAD_ADDRESS,
    "503 Error: need RCPT command": S503_NEED_RCPT,
    "500 Line too long (see RFC5321 4.5.3.1.6)": S500_DATA_LINE_TOO_LONG,
    "552 Error: Too much mail data": S552_MESSAGE_TOO_BIG,
    "502 EXPN not implemented": S502_NOT_IMPLEMENTED,
    "500 Error: Cannot describe error": S451_LOCAL_ERROR,
}
# Stock replies that echo client input: matched by shape, answered with fixed text.
STOCK_PATTERNS: tuple[tuple[re.Pattern[str], Reply], ...] = (
    (re.compile(r'500 Error: command ".*" not recognized', re.DOTALL), S500_UNRECOGNIZED),
    (re.compile(r"421 4\.7\.0 .* sent too many times", re.DOTALL), S421_TOO_MANY_COMMANDS),
    # aiosmtpd's own exception report, used if a handle_exception ever failed: never leak it.
    (re.compile(r"500 Error: \(.*", re.DOTALL), S451_LOCAL_ERROR),
)
_ALREADY_ENHANCED = re.compile(r"[245][0-9][0-9] [245]\.[0-9]{1,3}\.[0-9]{1,3} ")
_GENERIC_TEXT = {2: "OK", 4: "Temporary failure", 5: "Command rejected"}


def translate_stock_reply(status: str) -> bytes:
    """The wire line (with CRLF) for a reply string pushed by aiosmtpd's own code."""
    reply = STOCK_REPLIES.get(status)
    if reply is None:
        reply = next((r for pattern, r in STOCK_PATTERNS if pattern.fullmatch(status)), None)
    if reply is not None:
        return reply.to_bytes()
    if _ALREADY_ENHANCED.match(status) or status.startswith("3"):
        return status.encode("utf-8", "surrogateescape") + b"\r\n"
    log.warning("aiosmtpd reply without a translation: %r", status[:80])
    code = int(status[:3]) if status[:3].isdigit() else 451
    return Reply(code, f"{code // 100}.0.0", _GENERIC_TEXT.get(code // 100, "Error")).to_bytes()
