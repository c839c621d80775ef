"""What every command shares: global options, the app built lazily, JSON and human output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from services.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from services.app import App


@dataclass
class CliState:
    settings: Settings
    json: bool = False
    _app: App | None = field(default=None, repr=False)

    @property
    def app(self) -> App:
        if self._app is None:
            from services.app import build_app

            self._app = build_app(self.settings)
        return self._app


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = CliState(settings=Settings.from_env())
    obj: CliState = root.obj
    return obj


def emit_json(data: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()


def console() -> Console:
    from rich.console import Console

    # piped output (scripts, logs, tests) gets a wide fixed width instead of rich's 80 columns
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)
