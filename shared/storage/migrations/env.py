"""Alembic environment: runs on the connection handed over by shared.storage.migrations."""
from __future__ import annotations

from alembic import context

from shared.storage.models import Base
from shared.storage.models.mailbox import is_search_index

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through shared.storage.migrations, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    # The search indexes of 0005 are made by hand (trigram GIN, FTS5): not in the models.
    include_name=lambda name, _type, _parent: not is_search_index(name),
)
with context.begin_transaction():
    context.run_migrations()
