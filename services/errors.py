"""Errors services raise; each carries the CLI exit code of cli.md and, where useful, a list of problems."""

from __future__ import annotations


class ShuzhiError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class BadInput(ShuzhiError):
    """Bad usage or input (exit 2): nothing was changed."""

    exit_code = 2


class Refused(ShuzhiError):
    """Refused by the rules: illegal transition, permission, conflict (exit 3): nothing was changed."""

    exit_code = 3


class Conflict(Refused):
    """Someone else changed the record first (optimistic lock lost)."""


class PermissionDenied(Refused):
    """The actor may not do this."""


class NotFound(ShuzhiError):
    exit_code = 4
