"""`shuzhi demo`: a whole simulated season on a fresh embedded database, printed stage by stage."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("demo", help="simulate a whole season on a fresh embedded database in a temporary folder")(demo)


def demo(
    folder: Annotated[Path | None, typer.Option("--folder", help="where to keep the demo (default: a new temporary folder)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="the season's random seed")] = 2014,
) -> None:
    from rich.rule import Rule
    from rich.table import Table

    from services.demo import ADMIN_PASSWORD, Narrator, run_demo
    from shuzhi_cli.context import console

    out = console()

    def table(title: str, head: list[str], rows: list[list[str]]) -> None:
        shown = Table(*head, title=title, title_justify="left")
        for row in rows:
            shown.add_row(*row)
        out.print(shown)

    narrator = Narrator(heading=lambda text: out.print(Rule(f"[bold]{text}[/bold]", align="left")),
                        line=lambda text: out.print(text), table=table)
    target = folder or Path(tempfile.mkdtemp(prefix="shuzhi-demo-"))
    started = time.perf_counter()
    result = run_demo(target, narrator, seed=seed)
    out.print(Rule("[bold]演示结束 the season is over[/bold]", align="left"))
    out.print(f"用时 {time.perf_counter() - started:.1f} 秒。数据库：{result.db_url}")
    out.print("继续查看（see it yourself）：")
    out.print(f"  .venv/bin/shuzhi --db {result.db_url} --now 2015-01-20 cycles list --year 2014 --lagging")
    out.print(f"  .venv/bin/shuzhi --db {result.db_url} results show --year 2014 --category towns")
    out.print(f"  SHUZHI_ENV=development .venv/bin/shuzhi --db {result.db_url} --now 2014-12-18 web")
    out.print(f"    → 浏览器打开 http://127.0.0.1:8000 ，用户 admin，密码 {ADMIN_PASSWORD}（--now 选定看板所处的日期）")
