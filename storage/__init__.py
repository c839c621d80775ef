"""Storage: SQLAlchemy 2 tables, the database handle, queries and Alembic migrations."""
