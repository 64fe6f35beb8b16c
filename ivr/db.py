"""Database engine and sessions; plain SQLAlchemy 2.0, shared by the web app and the workers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from ivr.encrypted_types import use_data_keys
from ivr.private_files import create_private

if TYPE_CHECKING:
    from ivr.settings import Settings

# Pool and timeout keywords that tune a PostgreSQL server's connections; SQLite ignores them.
_SERVER_OPTIONS = ("pool_size", "max_overflow", "pool_timeout", "statement_timeout_ms")

# Stable constraint names, so Alembic migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table."""

    metadata = MetaData(naming_convention=NAMING)


def utc_now() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Every time column: stored as UTC, read back aware on every database.

    PostgreSQL keeps the zone; SQLite hands back naive datetimes, which are UTC because this
    type wrote them, so nothing downstream has to guess (or compare naive with aware).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware times are converted to UTC; naive ones are taken to be UTC already."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """The stored time, aware, in UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, *, data_keys: Mapping[str, bytes] | None = None, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so web and workers can share it.

    `data_keys` (settings.data_keys) let it read and write report text, which is encrypted at
    rest; an engine without them refuses those columns. On PostgreSQL `pool_size`,
    `max_overflow`, `pool_timeout` and `statement_timeout_ms` tune the pool and cancel long
    statements (`ivr.settings.engine_options`); SQLite ignores them.
    """
    engine = _make_engine(url, **kwargs)
    if data_keys:
        use_data_keys(engine, data_keys)
        from ivr.search_terms import use_term_keys  # snowball loads only where report text is used

        use_term_keys(engine, data_keys)
    return engine


def engine_for(settings: Settings) -> Engine:
    """The engine a long-running process uses: the settings' database, keys, pool and timeouts."""
    from ivr.settings import engine_options

    return make_engine(settings.database_url, data_keys=settings.data_keys, **engine_options(settings))


def _make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        for name in _SERVER_OPTIONS:
            kwargs.pop(name, None)
        path = url.split("///", 1)[-1]
        if "///" in url and path and path != ":memory:" and not path.startswith("file:"):
            # Private from the first byte (transcripts, PIN hashes); SQLite gives its WAL the same mode.
            create_private(Path(path))
        engine = create_engine(url, connect_args={"timeout": 15}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=15000")
            # Deleted rows are overwritten with zeros, not left in free pages for a copy of the file.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    timeout_ms = kwargs.pop("statement_timeout_ms", None)
    if timeout_ms:
        # A connect option, so it holds from the first statement on every pooled connection;
        # appended to any options the URL carries (a search_path, say) rather than replacing them.
        options = make_url(url).query.get("options", "")
        options = " ".join(options) if isinstance(options, tuple) else options
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args["options"] = f"{options} -c statement_timeout={int(timeout_ms)}".strip()
        kwargs["connect_args"] = connect_args
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit, so views can read them afterwards."""
    return sessionmaker(engine, expire_on_commit=False)
