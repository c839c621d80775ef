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
        err_console().print("[yellow]未设置 SHUZHI_SECRET_KEY：使用临时随机密钥，服务停止后所有登录失效。[/]")
    err_console().print(f"控制台：http://{host}:{port}/  ·  API 文档：http://{host}:{port}/api/docs")
    uvicorn.run(application, host=host, port=port, log_level="warning", proxy_headers=False)


@users_app.command("add", help="create an account (password from --password-stdin or a prompt)")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option("--role", help="admin | org_department | reviewer | secretary | viewer")],
    scope: Annotated[str | None, typer.Option("--scope", help="organization code: a reviewer's organizer, a secretary's unit")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from standard input")] = False,
    phone: Annotated[str | None, typer.Option("--phone", help="mobile number for SMS code sign-in")] = None,
    sms_only: Annotated[bool, typer.Option("--sms-only", help="no password: sign in by SMS code to --phone")] = False,
) -> None:
    from services.accounts import create_user

    st = state(ctx)
    password: str | None
    if sms_only:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    account = create_user(st.app.db, name, role, password, scope=scope, phone=phone)
    if st.json:
        emit_json(account.as_dict())
    else:
        console().print(f"已创建账户 {account.name}（{_role_and_scope(account.role, account.scope)}）")


def _role_and_scope(role: str, scope: str | None) -> str:
    """`书记，范围 V001`: the role's Chinese label, and the scope where there is one."""
    from services.accounts import ROLE_LABELS

    return ROLE_LABELS.get(role, role) + (f"，范围 {scope}" if scope else "")


@users_app.command("list", help="list accounts (phones masked)")
def users_list(
    ctx: typer.Context,
    q: Annotated[str | None, typer.Option("--q", help="name or scope containing this text")] = None,
    role: Annotated[str | None, typer.Option("--role", help="only this role")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many")] = 200,
) -> None:
    from services.accounts import ROLE_LABELS, list_users

    st = state(ctx)
    rows = list_users(st.app.db, q=q, role=role, limit=limit)
    if st.json:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table("用户名", "角色", "范围", "手机", "状态", "API token", title=f"账户 {len(rows)} 个")
    for r in rows:
        table.add_row(r["name"], ROLE_LABELS.get(r["role"], r["role"]), r["scope"] or "", r["phone"] or "",
                      "启用" if r["active"] else "停用", "✓" if r["has_token"] else "")
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


@users_app.command("provision", help="create or update the tree's accounts (a secretary per assessed unit with a phone, "
                   "the prefecture excepted; a reviewer per organizer committee); disable those whose unit left the tree")
def users_provision(
    ctx: typer.Context,
    under: Annotated[str | None, typer.Option("--under", help="only this organization's subtree")] = None,
    role: Annotated[str | None, typer.Option("--role", help="secretary | reviewer (default: both)")] = None,
) -> None:
    from services.accounts import PROVISION_ROLES
    from services.provisioning import provision_accounts

    st = state(ctx)
    roles = (role,) if role else PROVISION_ROLES
    results = provision_accounts(st.app.db, under=under, roles=roles, now=st.app.now())
    if st.json:
        emit_json([r.as_dict() for r in results])
        return
    labels = {"secretary": "书记账户", "reviewer": "审核账户"}
    for r in results:
        line = (f"{labels[r.role]}：应有 {r.candidates}，新建 {r.created}，更新 {r.updated}，未变 {r.unchanged}，"
                f"停用 {r.deactivated}")
        if r.conflicts:
            line += f"，与手工账户重名未处理 {r.conflicts}"
        if r.shared_phone:
            line += f"，与其他单位同手机号 {r.shared_phone}"
        if r.no_phone:
            line += f"，无手机号 {r.no_phone}"
        console().print(line)


@users_app.command("edit", help="change an account's role, scope or active flag (never the last admin)")
def users_edit(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str | None, typer.Option("--role", help="admin | org_department | reviewer | secretary | viewer")] = None,
    scope: Annotated[str | None, typer.Option("--scope", help="organization code ('' clears it)")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="enable or disable the account")] = None,
) -> None:
    from services.accounts import update_user

    st = state(ctx)
    account = update_user(st.app.db, name, role=role, scope=scope, active=active, clear_scope=scope == "")
    if st.json:
        emit_json(account.as_dict())
    else:
        console().print(f"已更新 {account.name}：{_role_and_scope(account.role, account.scope)}"
                        f"{'' if account.active else '（已停用）'}")


@users_app.command("reset", help="a new password for an account (shown once), or --sms: SMS code sign-in only")
def users_reset(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="login name")],
    sms: Annotated[bool, typer.Option("--sms", help="remove the password: the account signs in by SMS code")] = False,
) -> None:
    from services.accounts import force_sms_sign_in, reset_password

    st = state(ctx)
    if sms:
        force_sms_sign_in(st.app.db, name)
        result: dict[str, object] = {"name": name, "sms_only": True}
    else:
        result = {"name": name, "password": reset_password(st.app.db, name)}
    if st.json:
        emit_json(result)
    elif sms:
        console().print(f"{name} 已改为短信验证码登录")
    else:
        console().print(str(result["password"]))


@users_app.command("revoke", help="revoke every API token of an account")
def users_revoke(ctx: typer.Context, name: Annotated[str, typer.Argument(help="login name")]) -> None:
    from services.accounts import revoke_tokens

    st = state(ctx)
    revoked = revoke_tokens(st.app.db, name)
    if st.json:
        emit_json({"name": name, "revoked": revoked})
    else:
        console().print(f"已吊销 {name} 的 {revoked} 个令牌")
