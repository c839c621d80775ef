"""Commands of the web feature: `shuzhi web` serves the console; `shuzhi users …` manages its accounts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shuzhi_cli.context import console, emit_json, err_console, state

users_app = typer.Typer(help="控制台账户 accounts of the web console", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the root app."""
    app.command("web", help="serve the operators' and admins' console (and its JSON API under /api)")(web)
    app.add_typer(users_app, name="users")


def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8000,
) -> None:
    import uvicorn

    from web.app import create_app

    st = state(ctx)
    application = create_app(st.settings, app=st.app)
    config = application.state.shuzhi.config
    if config.ephemeral_key:
        err_console().print("[yellow]SHUZHI_SECRET_KEY is not set: using a random key; sessions end when the server stops.[/]")
    err_console().print(f"控制台 console: http://{host}:{port}/  ·  API: http://{host}:{port}/api/docs")
    uvicorn.run(application, host=host, port=port, log_level="warning", proxy_headers=False)


@users_app.command("add", help="create an account (password from --password-stdin or a prompt)")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option("--role", help="admin | org_department | reviewer | secretary | viewer")],
    scope: Annotated[str | None, typer.Option("--scope", help="organization code: a reviewer's organizer, a secretary's unit")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from standard input")] = False,
) -> None:
    from services.accounts import create_user

    st = state(ctx)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    account = create_user(st.app.db, name, role, password, scope=scope)
    if st.json:
        emit_json(account.as_dict())
    else:
        console().print(f"已创建账户 created {account.name} ({account.role}{', ' + account.scope if account.scope else ''})")


@users_app.command("list", help="list accounts")
def users_list(ctx: typer.Context) -> None:
    from services.accounts import ROLE_LABELS, list_users

    st = state(ctx)
    rows = list_users(st.app.db)
    if st.json:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table("用户名", "角色", "范围", "API token", title=f"账户 {len(rows)} 个")
    for r in rows:
        table.add_row(r["name"], ROLE_LABELS.get(r["role"], r["role"]), r["scope"] or "", "✓" if r["has_token"] else "")
    console().print(table)


@users_app.command("token", help="issue an API bearer token for an account (shown once; replaces the previous one)")
def users_token(ctx: typer.Context, name: Annotated[str, typer.Argument(help="login name")]) -> None:
    from services.accounts import issue_token

    st = state(ctx)
    token = issue_token(st.app.db, name)
    if st.json:
        emit_json({"name": name, "token": token})
    else:
        console().print(token)
