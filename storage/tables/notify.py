"""Tables of the notify feature (filled in by its issue); migration storage/migrations/versions/ holds its DDL."""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401

from storage.tables.base import metadata  # noqa: F401
