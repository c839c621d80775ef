"""Alembic environment: the connection is handed in by `Database.upgrade` (or built from -x url=...)."""

from __future__ import annotations

from alembic import context

from storage.tables import metadata

connection = context.config.attributes.get("connection")

if connection is None:
    from storage.db import make_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///shuzhi.db upgrade head")
    engine = make_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
