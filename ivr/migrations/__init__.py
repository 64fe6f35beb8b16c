"""Alembic owns the schema; `upgrade()` brings any database to the newest revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config for this package's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to `revision` (safe to run on every start; several hosts may race)."""
    command.upgrade(alembic_config(database_url), revision)
