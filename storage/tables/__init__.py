"""Every table of the schema, on one `metadata`. Each feature owns one module (and one migration)."""

from storage.tables import core, notify, results, review, web  # noqa: F401  (registers tables)
from storage.tables.base import metadata

__all__ = ["metadata"]
