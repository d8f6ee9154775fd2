"""Messages in the message log for the admin, CLI and adversarial tests, through the same
path SMTP takes (mailflow.accept_message with an origin), and queue entries to act on."""
from __future__ import annotations

from shared.accounts import get_mailbox
from shared.accounts.views import CONSOLE
from shared.mail import mailflow, message_log
from shared.storage.db import Database


def accept(
    db: Database,
    sender: str,
    *,
    local: list[str] = [],  # noqa: B006 - never mutated
    remote: list[str] = [],  # noqa: B006
    message_id: str = "seeded@example.test",
    via: str = "mx",
) -> str:
    """Accept a small message for hosted mailboxes `local` and queue it for `remote`; its log id."""
    mailboxes = {get_mailbox(db, address, actor=CONSOLE).id: address for address in local}
    message = f"From: <{sender}>\r\nSubject: seeded\r\nMessage-ID: <{message_id}>\r\n\r\nhello\r\n".encode()
    acceptance = mailflow.accept_message(
        db,
        message,
        return_path=sender,
        mailbox_ids=list(mailboxes),
        remote=dict.fromkeys(remote),
        origin=message_log.Origin(via, "192.0.2.7", sender if via == "submission" else ""),
        mailbox_addresses=mailboxes,
    )
    return acceptance.log_id
