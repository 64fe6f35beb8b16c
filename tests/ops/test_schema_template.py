"""The per-test database copied from the session's template is the schema Alembic makes, to the index.

`database_url` copies a template migrated once per session (tests/support/services.py) instead of
running Alembic for every test. Here a copy is compared with a database Alembic migrates from
empty, on SQLite and PostgreSQL: tables, columns with types, defaults and nullability, indexes,
constraints, sequences with their owners, and every row (alembic_version and any seeded data).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from ivr.migrations import upgrade
from tests.support.services import MigratedTemplates, empty_database


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database Alembic migrates from empty, the way production does."""
    with empty_database(backend, tmp_path, "fresh.db") as url:
        upgrade(url)
        yield url


def _schema_of(url: str) -> str | None:
    found = re.search(r"search_path%3D(\w+)", url)
    return found.group(1) if found else None


def describe(url: str) -> dict[str, Any]:
    """Everything about the schema and its rows, with the schema's own name taken out."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if url.startswith("sqlite"):
                return _describe_sqlite(conn)
            schema = _schema_of(url)
            assert schema
            return _describe_postgres(conn, schema)
    finally:
        engine.dispose()


def _describe_sqlite(conn: Any) -> dict[str, Any]:
    objects = conn.execute(text(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    )).all()
    tables = [name for kind, name, _, _ in objects if kind == "table"]

    def pragma(name: str, of: str, *, numbered: bool = False) -> list[tuple[Any, ...]]:
        """The pragma's rows as a set; `numbered` rows lead with a counter that follows creation order."""
        found = [tuple(row) for row in conn.execute(text(f'PRAGMA {name}("{of}")')).all()]
        return sorted(row[1:] if numbered else row for row in found)

    return {
        # Alembic's batch mode writes a table's constraints in no fixed order: compare them as a set.
        "objects": [(kind, name, table, sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()))
                    for kind, name, table, sql in objects],
        "columns": {table: pragma("table_xinfo", table) for table in tables},
        "foreign_keys": {table: pragma("foreign_key_list", table, numbered=True) for table in tables},
        "indexes": {table: [(index, pragma("index_xinfo", index[0]))
                            for index in pragma("index_list", table, numbered=True)]
                    for table in tables},
        "rows": {table: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{table}"')).all())) for table in tables},
        "journal_mode": conn.execute(text("PRAGMA journal_mode")).scalar(),
        "user_version": conn.execute(text("PRAGMA user_version")).scalar(),
    }


def _describe_postgres(conn: Any, schema: str) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        found = conn.execute(text(sql), {"schema": schema}).all()
        return sorted(tuple(str(v).replace(schema, "<schema>") for v in row) for row in found)

    tables = [name for (name,) in conn.execute(text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema AND table_type = 'BASE TABLE'"
    ), {"schema": schema})]
    return {
        "tables": rows("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = :schema"),
        "columns": rows(
            # The order of the columns, not their numbers: a column a migration dropped leaves a gap.
            "SELECT table_name, column_name, "
            "row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position), "
            "data_type, udt_name, character_maximum_length, "
            "numeric_precision, numeric_scale, is_nullable, column_default, is_identity, identity_generation, "
            "is_generated, generation_expression, collation_name "
            "FROM information_schema.columns WHERE table_schema = :schema"
        ),
        "indexes": rows("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :schema"),
        "constraints": rows(
            "SELECT t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid), c.condeferrable, c.condeferred "
            "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = :schema"
        ),
        "sequences": rows(
            "SELECT sequencename, data_type, start_value, min_value, max_value, increment_by, cycle, cache_size, "
            "last_value FROM pg_sequences WHERE schemaname = :schema"
        ),
        "sequence_owners": rows(
            "SELECT s.relname, t.relname, a.attname, d.deptype FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
            "JOIN pg_namespace n ON n.oid = s.relnamespace WHERE n.nspname = :schema"
        ),
        "types": rows(
            "SELECT t.typname, t.typtype, coalesce(string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder), '') "
            "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace LEFT JOIN pg_enum e ON e.enumtypid = t.oid "
            "WHERE n.nspname = :schema AND t.typtype IN ('e', 'd') GROUP BY t.typname, t.typtype"
        ),
        "functions_and_triggers": rows(
            "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = :schema UNION ALL "
            "SELECT tg.tgname, pg_get_triggerdef(tg.oid) FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = :schema AND NOT tg.tgisinternal"
        ),
        "views": rows("SELECT viewname, definition FROM pg_views WHERE schemaname = :schema"),
        "rows": {table: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{schema}"."{table}"')).all()))
                 for table in tables},
    }


def test_a_copied_database_is_the_schema_alembic_makes(
    backend: str, fresh_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    templates = MigratedTemplates(tmp_path_factory.mktemp("own-templates"))
    try:
        with templates.database(backend, tmp_path, "copy.db") as copied_url:
            if backend == "postgresql":
                assert templates.postgres_sql() is not None, "pg_dump is missing: every test migrates (slower)"
            fresh, copied = describe(fresh_url), describe(copied_url)
    finally:
        templates.close()
    assert copied == fresh
    assert fresh["rows"]["alembic_version"], "the fresh database is migrated"
    if backend == "postgresql":
        assert fresh["indexes"] and fresh["constraints"] and fresh["sequences"]


def test_a_copy_is_a_database_of_its_own(backend: str, tmp_path: Path, migrated_templates: MigratedTemplates) -> None:
    """What one test writes is in no other test's copy, nor in a copy made after it."""
    folders = [tmp_path / name for name in ("one", "two", "three")]
    for folder in folders:
        folder.mkdir()

    def version(url: str) -> str:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())
        finally:
            engine.dispose()

    with migrated_templates.database(backend, folders[0]) as first, \
            migrated_templates.database(backend, folders[1]) as second:
        assert first != second
        engine = create_engine(first)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'written-by-one'"))
        engine.dispose()
        assert version(first) == "written-by-one"
        assert version(second) != "written-by-one"
        with migrated_templates.database(backend, folders[2]) as third:
            assert version(third) == version(second)
