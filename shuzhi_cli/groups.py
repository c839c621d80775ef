"""Command groups shared by several features (each feature adds its own commands to them)."""

from __future__ import annotations

import typer

report_app = typer.Typer(help="述职报告与汇总报告 reports: automatic pre-review, summary", no_args_is_help=True)
