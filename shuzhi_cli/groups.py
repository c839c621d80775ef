"""Command groups shared by several features (each feature adds its own commands to them)."""

from __future__ import annotations

import typer

# `meeting` holds opening, attendees, comments (review) and `move` (notify); `meetings` is its hidden old name.
meeting_app = typer.Typer(help="述职评议会 the evaluation meeting: open, close, move, attendees, comments, questions",
                          no_args_is_help=True)
report_app = typer.Typer(help="述职报告与汇总报告 reports: automatic pre-review, summary", no_args_is_help=True)
