"""Entry point of `shuzhi`: global options, command groups, exit codes of cli.md."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

try:  # typer ≥ 0.20 vendors click; older ones use the click package
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

from services.errors import ShuzhiError, cli_text
from services.settings import Settings
from shuzhi_cli.context import CliState

app = typer.Typer(
    name="shuzhi",
    help="述职评议考核 — party-building report, evaluation and assessment, year after year.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (env SHUZHI_DB; default sqlite:///shuzhi.db)")] = None,
    now: Annotated[str | None, typer.Option("--now", help="the clock: 2014-12-05 or 2014-12-05T09:00 (env SHUZHI_NOW)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable output: one JSON document on stdout")] = False,
) -> None:
    settings = Settings.from_env(db_url=db, now=now)
    if settings.now:
        from services.clock import parse_when

        parse_when(settings.now)  # bad --now is bad usage, before anything runs
    ctx.obj = CliState(settings=settings, json=json_output)


def _register() -> None:
    from shuzhi_cli import commands_core, demo_cmd, notify_cmd, results_cmd, review_cmd, web_cmd

    for module in (commands_core, notify_cmd, review_cmd, results_cmd, web_cmd, demo_cmd):
        module.register(app)
    from shuzhi_cli.groups import meeting_app

    app.add_typer(meeting_app, name="meeting")
    app.add_typer(meeting_app, name="meetings", hidden=True)  # the old name of `meeting move` (cli.md), kept


_register()


def run(args: list[str]) -> int:
    """Run one command line; returns the exit code (tests call this in-process)."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="shuzhi", standalone_mode=False)
    except typer.Exit as done:
        return int(getattr(done, "exit_code", 0) or 0)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        return 1
    except click_exceptions.NoArgsIsHelpError as help_shown:
        help_shown.show()
        return 0
    except click_exceptions.ClickException as usage:  # usage errors, bad options and parameters
        usage.show()
        return 2
    except ShuzhiError as error:
        return _shuzhi_error(error)
    except Exception as error:  # the database itself: missing schema, unreachable server
        message = _database_problem(error)
        if message is None:
            return _unexpected(error)
        sys.stderr.write(message + "\n")
        return 2 if "shuzhi init" in message else 1
    return result if isinstance(result, int) else 0


def _unexpected(error: Exception) -> int:
    """The last resort (issue 10 M3): an id in the log and on stderr; the exception's message and traceback, which
    may quote SQL parameters or personal data, only with SHUZHI_DEBUG=1."""
    if os.environ.get("SHUZHI_DEBUG"):
        raise error
    import logging
    import uuid

    from services.errors import render, where_it_failed

    ident = uuid.uuid4().hex[:12]
    frames = where_it_failed(error)
    logging.getLogger("shuzhi.cli").debug("error %s: %s\n%s", ident, type(error).__name__, frames)
    sys.stderr.write(f"错误：{render('internal', {'error_id': ident})}（{type(error).__name__}；"
                     "设置 SHUZHI_DEBUG=1 可查看详情）\n")
    return 1


def _database_problem(error: Exception) -> str | None:
    """A clear sentence for database errors a user can act on, instead of a traceback."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None or not isinstance(error, sqlalchemy_exc.DBAPIError):
        return None
    detail = str(getattr(error, "orig", error)).strip().splitlines()[0]
    if "no such table" in detail or ("relation" in detail and "does not exist" in detail):
        return f"error: the database has no Shuzhi schema yet ({detail}): run `shuzhi init` first"
    if isinstance(error, sqlalchemy_exc.OperationalError):
        return f"error: cannot use the database: {detail}"
    return None


def _shuzhi_error(error: ShuzhiError, *, json_output: bool = False) -> int:
    """What is wrong, on stderr in Chinese: one line per problem (cli.md), else the message. Under --json stdout
    stays empty on failure (the contract); `SHUZHI_LANG=en` prints the catalogue's English instead."""
    lang = "en" if os.environ.get("SHUZHI_LANG", "").lower().startswith("en") else "zh"
    if error.problems:
        for problem in error.problems:  # a row's problem as the contract's `row N: reason`
            sys.stderr.write(cli_text(problem, lang) + "\n")
    else:
        sys.stderr.write(("error: " if lang == "en" else "错误：") + error.render(lang, with_option=True) + "\n")
    return error.exit_code


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
