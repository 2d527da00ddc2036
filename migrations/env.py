"""Alembic environment of PhiDesk. There is no alembic.ini: `app.store.migrate` configures Alembic
in code and hands over an open connection through `config.attributes["connection"]`. For a
manual run, set the `sqlalchemy.url` main option on the Config instead."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context

from app.store.models import FTS_TABLE, Base


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave the FTS5 table and its shadow tables (message_fts_data, …) to the hand-written
    migrations: autogenerate cannot describe virtual tables and would propose dropping them."""
    return not (type_ == "table" and name is not None and name.startswith(FTS_TABLE))


def _configure_and_run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    if context.is_offline_mode():
        raise RuntimeError("PhiDesk's migrations run online only")
    shared = context.config.attributes.get("connection")
    if shared is not None:
        _configure_and_run(shared)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set config.attributes['connection'] or the sqlalchemy.url option")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            _configure_and_run(connection)
    finally:
        engine.dispose()


run()
