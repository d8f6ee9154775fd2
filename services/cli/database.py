"""The database that the provisioning commands work on."""
from __future__ import annotations

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.config import load_settings
from shared.storage.db import Database
from shared.storage.schema_version import ensure_at_head


def open_database(hosting: str | None = None) -> Database:
    """The configured database, refused (SchemaNotReady) unless its schema is at head. With
    `hosting`, also refused (NotFound) unless that domain is hosted: listing the mailboxes of an
    unknown domain fails instead of printing nothing."""
    database = Database(load_settings())
    ensure_at_head(database.engine)
    if hosting is not None:
        accounts.get_domain(database, hosting, actor=CONSOLE)
    return database
