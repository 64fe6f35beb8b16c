"""Alembic environment: runs migrations on the engine the config names."""

from __future__ import annotations

from alembic import context

from ivr import models  # noqa: F401  (registers the tables on Base.metadata)
from ivr.db import Base, make_engine

config = context.config
connection = config.attributes.get("connection")


def run() -> None:
    """Run migrations online, on a given connection or a fresh engine."""
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()


def _migrate(conn: object) -> None:
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        version_table_schema=None,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
