"""`beaconmail suppression list|remove`: the lines and JSON scripts read, the audit trail of a
removal, and one-line failures."""
from __future__ import annotations

import json

from shared.accounts.audit import list_audit
from shared.accounts.views import CONSOLE
from shared.storage.db import Database
from tests.integration.test_cli import fails, ok, run  # noqa: F401 - `run` is a fixture
from tests.suppressed import suppress

ALICE, ZOE = "alice@example.com", "zoe@example.org"


def test_suppression_list_and_remove(run, db: Database) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for domain, owner in (("example.com", ALICE), ("example.org", ZOE)):
        ok(run("domain", "add", domain))
        ok(run("mailbox", "add", owner, "--password", "x-password-1"))
    suppress(db, ALICE, "gone@remote.example")
    suppress(db, ZOE, "left@remote.example")
    lines = [line.split("\t") for line in ok(run("suppression", "list")).splitlines()]
    assert [(f[0], f[1], f[4]) for f in lines] == [
        ("example.org", "left@remote.example", "550 5.1.1 <left@remote.example>: no such user"),
        ("example.com", "gone@remote.example", "550 5.1.1 <gone@remote.example>: no such user"),
    ]
    [record] = json.loads(ok(run("suppression", "list", "--domain", "example.com", "--json")))
    assert record["address"] == "gone@remote.example" and record["expires_at"] > record["created_at"]
    assert ok(run("suppression", "remove", "example.com", "gone@remote.example")) == (
        "gone@remote.example\tno longer suppressed for example.com\n"
    )
    assert [line.split("\t")[1] for line in ok(run("suppression", "list")).splitlines()] == ["left@remote.example"]
    [audited] = [entry for entry in list_audit(db, actor=CONSOLE) if entry.action == "suppression.delete"]
    assert (audited.actor, audited.target, audited.domain) == ("cli", "gone@remote.example", "example.com")
    assert "is not suppressed for example.com" in fails(run("suppression", "remove", "example.com", "gone@remote.example"))
