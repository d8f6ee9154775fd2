"""services/imap/changes.py: which user an event from Dovecot's exporter names (no sockets)."""
from __future__ import annotations

import json

import pytest

from services.imap.changes import changed_user


def exported(**fields: object) -> bytes:
    """An event as Dovecot 2.3's json exporter posts it with `exporter_include = name fields`."""
    return json.dumps({"event": "imap_command_finished", "fields": fields}).encode()


def test_the_user_of_an_exported_event_is_its_address_as_we_spell_it() -> None:
    assert changed_user(exported(user="user@IMAP.Example", cmd_name="APPEND")) == "user@imap.example"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe",  # not UTF-8
        b"{not json",
        b"[1, 2]",
        json.dumps({"event": "imap_command_finished"}).encode(),  # no fields
        json.dumps({"fields": ["user"]}).encode(),
        exported(user=None),
        exported(user=["a@b.example"]),
        exported(user="no-at-sign"),
        exported(user="a/../../etc@b.example"),  # a path, not an address
        exported(user="a@b.example\r\nX: y"),
    ],
)
def test_anything_but_an_address_names_no_one(body: bytes) -> None:
    assert changed_user(body) is None
