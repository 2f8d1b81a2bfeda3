"""Alembic environment: the URL and connection come from xdmflow, never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from xdmflow.store.tables import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave alone what is not ours (the lake's Iceberg catalog tables live in the same database)."""
    return not (type_ == "table" and name is not None and name.startswith("iceberg_"))


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


run()
