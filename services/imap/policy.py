"""Dovecot's auth policy requests (`auth_policy_server_url`), answered from the lockout every
service shares (shared.accounts.logins).

Before Dovecot checks an IMAP password it asks `command=allow` with the login name and the
client's address; we answer status -1 (refuse: Dovecot fails the login exactly as for a wrong
password) or 0. After the check it posts `command=report` with `success` (and `policy_reject`
when we refused it, which is no new failure), and the app password's row id when the second
passdb matched: the failure is counted, or the login noted.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from shared.accounts.logins import imap_policy, report_imap_login
from shared.storage.db import Database

log = logging.getLogger(__name__)

ALLOW, REFUSE = 0, -1


def _fields(body: bytes) -> dict[str, Any] | None:
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(fields, dict) or not isinstance(fields.get("login"), str) or not isinstance(fields.get("remote"), str):
        return None
    return fields


def _app_password_id(fields: dict[str, Any]) -> int | None:
    text = fields.get("app_password")
    return int(text) if isinstance(text, str) and text.isdigit() else None


def answer(db: Database, command: str, body: bytes) -> bytes | None:
    """The JSON reply to one policy request, or None for a request that is not Dovecot's."""
    fields = _fields(body)
    if fields is None or command not in ("allow", "report"):
        return None
    login, remote = fields["login"], fields["remote"]
    if command == "allow":
        status = ALLOW if imap_policy(db, login, remote) else REFUSE
        if status == REFUSE:
            log.info("imap login as %r from %s refused: locked out", login, remote)
        return json.dumps({"status": status, "msg": ""}).encode()
    if not fields.get("policy_reject"):
        report_imap_login(db, login, remote, success=fields.get("success") is True, app_password_id=_app_password_id(fields))
    return json.dumps({"status": ALLOW, "msg": ""}).encode()
