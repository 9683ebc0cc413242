"""Alembic environment for the `automation` schema; run through `automation.store.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from automation.store.tables import SCHEMA, metadata

config = context.config
connection = config.attributes["connection"]
connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table_schema=SCHEMA,
    include_schemas=True,
)
with context.begin_transaction():
    context.run_migrations()
