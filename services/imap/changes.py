"""Which mailbox an IMAP command just changed, as Dovecot tells us, and its recount.

Dovecot's quota_clone hands a session's totals to our counters when the session ends, or ten
seconds after its first change while it stays open (a constant in Dovecot 2.3): too late for
listings that must show the disk within five seconds. So Dovecot's stats service also exports
each finished IMAP command that can store or remove a message (services.imap.config renders
the filter) as one JSON event, POSTed to this listener on loopback; a worker thread counts
that user's Maildir on disk and writes the totals where quota_clone writes its own
(shared.mail.quota.recount_after_imap). Totals, not differences: a recount cannot count
twice what POP3 or SMTP counted, and a second event for a mailbox still waiting is dropped.

The same listener answers Dovecot's auth policy requests below `/policy` (services.imap.policy).

The listener takes requests from any local process, so the path carries a secret drawn at
each start, and a body names a user only as an address we host (a recount of someone else's
mailbox would be harmless anyway: it writes what is on disk).
"""
from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.imap import policy
from services.imap.config import POLICY_PATH
from shared.errors import InvalidAddress
from shared.mail.addresses import parse_address
from shared.mail.quota import recount_after_imap
from shared.storage.db import Database

log = logging.getLogger(__name__)
# An exported event is a few hundred bytes; anything far larger is not Dovecot's.
MAX_EVENT_BYTES = 64 * 1024
SECRET_BYTES = 24


def changed_user(body: bytes) -> str | None:
    """The address an exported event names as its user (Dovecot's user is the mailbox's
    address: see shared.accounts.imap_login), or None for anything else."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    fields = event.get("fields") if isinstance(event, dict) else None
    user = fields.get("user") if isinstance(fields, dict) else None
    if not isinstance(user, str):
        return None
    try:
        return str(parse_address(user))
    except InvalidAddress:
        return None


class ChangeListener:
    """The HTTP endpoint for Dovecot's event exporter, and the worker that recounts: bound on
    creation (so its url can go into the configuration first), serving inside `with`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.secret = secrets.token_urlsafe(SECRET_BYTES)
        self._waiting: set[str] = set()
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="imap-changes-http", daemon=True),
            threading.Thread(target=self._recount_each, name="imap-changes-recount", daemon=True),
        ]

    @property
    def url(self) -> str:
        """Where Dovecot posts its events (the secret included)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.secret}"

    def __enter__(self) -> ChangeListener:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def changed(self, address: str) -> None:
        with self._lock:
            if address in self._waiting:
                return
            self._waiting.add(address)
        self._queue.put(address)

    def _recount_each(self) -> None:
        while (address := self._queue.get()) is not None:
            with self._lock:
                self._waiting.discard(address)  # a change from now on needs a count of its own
            try:
                if not recount_after_imap(self.db, address):
                    log.warning("imap change for %s: no such mailbox", address)
            # The worker's boundary: a database that is briefly away must not end the recounts
            # for good; the next change, or quota_clone at the session's end, brings the totals.
            except Exception:
                log.exception("imap change for %s: recount failed", address)


def _handler_for(listener: ChangeListener) -> type[BaseHTTPRequestHandler]:
    class EventHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # Dovecot's HTTP client keeps its connection open

        def do_POST(self) -> None:  # noqa: N802 (http.server's spelling)
            path, is_policy, command = self.path.partition(f"{POLICY_PATH}?command=")
            if not secrets.compare_digest(path.encode(errors="surrogateescape"), f"/{listener.secret}".encode()):
                self._reply(HTTPStatus.NOT_FOUND)
                return
            body = self._body()
            if body is None:
                return
            if is_policy:
                self._policy(command, body)
                return
            address = changed_user(body)
            if address is None:
                self._reply(HTTPStatus.BAD_REQUEST)
                return
            listener.changed(address)
            self._reply(HTTPStatus.NO_CONTENT)

        def _policy(self, command: str, body: bytes) -> None:
            try:
                reply = policy.answer(listener.db, command, body)
            # The boundary of a policy request: Dovecot lets a login through when we fail to
            # answer (auth_policy_reject_on_fail = no), as it would without the hook.
            except Exception:
                log.exception("imap auth policy %s failed", command)
                self._reply(HTTPStatus.INTERNAL_SERVER_ERROR)
                return
            if reply is None:
                self._reply(HTTPStatus.BAD_REQUEST)
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def _body(self) -> bytes | None:
            """The request's body, or None after an error reply."""
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._reply(HTTPStatus.LENGTH_REQUIRED)
                return None
            if not 0 <= length <= MAX_EVENT_BYTES:
                self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
                return None
            return self.rfile.read(length)

        def _reply(self, status: HTTPStatus) -> None:
            self.send_response(status)
            if status != HTTPStatus.NO_CONTENT:  # a 204 has no Content-Length (RFC 9110 8.6)
                self.send_header("Content-Length", "0")
            if status not in (HTTPStatus.NO_CONTENT, HTTPStatus.BAD_REQUEST):
                self.send_header("Connection", "close")  # its body, if any, was not read
                self.close_connection = True
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
            log.debug("imap changes: " + format, *args)

    return EventHandler
