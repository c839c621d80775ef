"""Commands of the notify feature: sweep, outbox list, notify send, scheduler, meetings move, calendar."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from shuzhi_cli.context import console, emit_json, err_console, state
from shuzhi_cli.groups import meeting_app

outbox_app = typer.Typer(help="发件箱 the outbox: what was sent, when, and whether it arrived", no_args_is_help=True)
notify_app = typer.Typer(help="通知 delivering queued reminders", no_args_is_help=True)
calendar_app = typer.Typer(help="工作日历 China's working-day calendar and its overrides", no_args_is_help=True)


# Test-only: makes `notify send` stop dead after its claim (the crash test SIGKILLs it there).
PAUSE_AFTER_CLAIM_ENV = "SHUZHI_TEST_PAUSE_AFTER_CLAIM"


def _label(table_name: str, key: str | None) -> str:
    """An outbox status, channel or template in Chinese, from services.outbox's one label table."""
    from services import outbox

    return outbox.outbox_label(getattr(outbox, table_name), key)


def report_failed_years(failed: dict[int, str] | list[dict[str, Any]]) -> None:
    """H1: a year whose stored plan cannot be read was skipped, the others were done. Said on stderr; the
    command then exits 1 (after finishing everything else) so cron, Prefect and operators notice."""
    items = failed.items() if isinstance(failed, dict) else ((f["year"], f["error"]) for f in failed)
    for year, error in items:
        err_console().print(f"警告：{year} 年度的计划无法读取，已跳过该年度（其他年度照常处理）: {error}", soft_wrap=True)


def report_paused(paused: dict[str, str]) -> None:
    for channel, reason in paused.items():
        err_console().print(f"告警：{_label('CHANNEL_LABELS', channel)}渠道已暂停，消息保留在队列中（发送方问题，"
                            f"修正配置后自动重试，或运行 shuzhi outbox retry）: {reason}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("sweep", help="deadline check: queue reminders, overdue notices and escalations (R20–R22)")(sweep)
    app.command("remind", help="remind now: queue one unit's current step notice to whoever owes it")(remind)
    app.command("scheduler", help="the embedded scheduler: sweeps on a cron, the dispatcher every minute")(scheduler)
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(notify_app, name="notify")
    app.add_typer(calendar_app, name="calendar")


def sweep(
    ctx: typer.Context,
    year: Annotated[int | None, typer.Option("--year", help="one year (default: every launched year with open cycles)")] = None,
) -> None:
    from services.sweep import sweep_deadlines

    st = state(ctx)
    result = sweep_deadlines(st.app.db, now=st.app.now(), year=year)
    if st.json:
        emit_json(result.as_dict())
    else:
        console().print(
            f"检查 {result.checked} 个流程，滞后 {result.lagging} 个；新排队消息 {result.queued} 条（其中督办升级 {result.escalated} 条）"
        )
    if result.failed_years:
        report_failed_years(result.failed_years)
        raise typer.Exit(1)


def remind(
    ctx: typer.Context,
    org: Annotated[str, typer.Argument(help="the organization's code (whose cycle)")],
    year: Annotated[int, typer.Option("--year", help="the year")],
    kind: Annotated[str, typer.Option("--kind", help="upward or own_level")] = "upward",
    by: Annotated[str, typer.Option("--by", help="who asks")] = "admin",
) -> None:
    from services.sweep import remind_now

    st = state(ctx)
    result = remind_now(st.app.db, year=year, org=org, kind=kind, now=st.app.now(), by=by)
    if st.json:
        emit_json({k: result[k] for k in ("org", "kind", "step", "queued")})
        return
    from states.machine import STEP_LABELS

    what = f"{org}“{STEP_LABELS.get(result['step'], result['step'])}”{_label('TEMPLATE_LABELS', result['template'])}"
    if result["queued"]:
        console().print(f"已向{result['recipient_name']}（{result['recipient']}）发送 {what}：新排队消息 {result['queued']} 条")
    elif not result["channels"]:
        console().print(f"{result['recipient_name']}（{result['recipient']}）没有登记手机号或邮箱，{what}无法发送")
    else:
        console().print(f"{what}本分钟内已排队，未重复发送")


@outbox_app.command("list", help="messages with status, attempts, last error and provider reference")
def outbox_list(
    ctx: typer.Context,
    year: Annotated[int | None, typer.Option("--year", help="only this year")] = None,
    org: Annotated[str | None, typer.Option("--org", help="only messages about this organization")] = None,
    status: Annotated[str | None, typer.Option("--status", help="queued, sending, sent or failed")] = None,
    limit: Annotated[int, typer.Option("--limit", help="at most this many rows in human output")] = 200,
) -> None:
    from services.outbox import channel_alerts, list_outbox

    st = state(ctx)
    rows = list_outbox(st.app.db, year=year, org=org, status=status)
    alerts = channel_alerts(st.app.db)
    for alert in alerts:  # on stderr: the JSON on stdout keeps its shape
        err_console().print(f"告警：{_label('CHANNEL_LABELS', alert['channel'])}渠道自 {alert['paused_at']} 暂停"
                            f"（第 {alert['failures']} 次），{alert['queued']} 条消息在队列中等待，{alert['retry_at']} 再试: "
                            f"{alert['reason']}", soft_wrap=True)
    if st.json:
        emit_json([{k: r[k] for k in ("id", "org", "channel", "to", "template", "step", "status", "created_at",
                                      "attempts", "last_error", "provider_ref", "sent_at")} for r in rows])
        return
    from rich.table import Table

    from states.machine import STEP_LABELS
    from states.orgs import mask_contact

    table = Table("#", "单位", "渠道", "收件人", "类型", "环节", "状态", "次数", "最后错误", "回执", "创建",
                  title=f"发件箱 {len(rows)} 条")
    for r in rows[:limit]:
        table.add_row(
            str(r["id"]), r["org"], _label("CHANNEL_LABELS", r["channel"]), mask_contact(r["to"]),
            _label("TEMPLATE_LABELS", r["template"]), STEP_LABELS.get(r["step"] or "", "—"),
            _label("STATUS_LABELS", r["status"]), str(r["attempts"]), (r["last_error"] or "")[:40],
            (r["provider_ref"] or "")[:24], (r["created_at"] or "")[:16],
        )
    out = console()
    out.print(table)
    if len(rows) > limit:
        out.print(f"…另有 {len(rows) - limit} 条未显示 (use --json for all)")


def _pause_after_claim(rows: list[Any]) -> None:
    import time
    from pathlib import Path

    marker = os.environ.get(PAUSE_AFTER_CLAIM_ENV)
    if marker:
        Path(marker).write_text(str(len(rows)), encoding="utf-8")
        time.sleep(600)


@notify_app.command("send", help="deliver queued messages through the configured channels; prints counts")
def notify_send(
    ctx: typer.Context,
    batch: Annotated[int, typer.Option("--batch", help="claims per round")] = 500,
    no_digest: Annotated[bool, typer.Option("--no-digest", help="one message per reminder, never combined")] = False,
) -> None:
    from notifications.config import build_channels
    from notifications.render import Renderer
    from services.outbox import RateOverride, dispatch

    st = state(ctx)
    channels = build_channels(st.settings)
    result = dispatch(
        st.app.db, now=st.app.now(), channels=channels, renderer=Renderer.for_settings(st.settings), batch=batch,
        digest=not no_digest, after_claim=_pause_after_claim if os.environ.get(PAUSE_AFTER_CLAIM_ENV) else None,
        rates=RateOverride.from_settings(st.settings.extra),
    )
    if st.json:
        emit_json(result.as_dict())
    else:
        console().print(
            f"已发送 {result.sent} 条（{result.deliveries} 次投递），待重试 {result.retried}，失败 {result.failed}，"
            f"暂缓（静默时段/限流）{result.held}，回收中断认领 {result.reclaimed}"
        )
    report_paused(result.paused)
    if result.failed_years:
        report_failed_years(result.failed_years)
        raise typer.Exit(1)


@outbox_app.command("retry", help="requeue failed (or cancelled) messages and lift channel pauses; prints counts")
def outbox_retry(
    ctx: typer.Context,
    status: Annotated[str, typer.Option("--status", help="failed (default) or cancelled")] = "failed",
    since: Annotated[str | None, typer.Option("--since", help="only messages created since, e.g. 2014-12-07 or 2014-12-07T09:00")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="sms or email")] = None,
    year: Annotated[int | None, typer.Option("--year", help="only this year")] = None,
) -> None:
    from services.clock import parse_when
    from services.errors import BadInput
    from services.outbox import retry_messages

    st = state(ctx)
    try:
        moment = parse_when(since) if since else None
    except BadInput:
        raise BadInput("clock.bad", value=since, option="--since") from None
    result = retry_messages(st.app.db, now=st.app.now(), status=status, since=moment, channel=channel, year=year)
    if st.json:
        emit_json(result)
    else:
        by = result["by_channel"]
        console().print(f"已重新排队 {result['requeued']} 条（短信 {by['sms']}，邮件 {by['email']}）；"
                        f"恢复暂停的渠道 {result['resumed_channels']} 个")


def scheduler(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="run the due jobs once and exit (tests, demo)")] = False,
    sweep_cron: Annotated[str, typer.Option("--sweep-cron", help="crontab of the sweep, Asia/Shanghai")] = "0 8 * * *",
    dispatch_seconds: Annotated[int, typer.Option("--dispatch-seconds", help="dispatcher interval")] = 60,
) -> None:
    from services.scheduler import run_scheduler

    st = state(ctx)
    outcome = run_scheduler(st.settings, once=once, sweep_cron=sweep_cron, dispatch_seconds=dispatch_seconds,
                            clock=st.app.clock)
    if st.json:
        emit_json(outcome)
    else:
        console().print(outcome.get("message", ""))
    if outcome.get("failed_years"):
        report_failed_years(outcome["failed_years"])
        raise typer.Exit(1)


@meeting_app.command("move", help="reschedule a meeting: every dependent deadline follows, history records it")
def meetings_move(
    ctx: typer.Context,
    year: Annotated[int, typer.Option("--year", help="the year")],
    organizer: Annotated[str, typer.Option("--organizer", help="the organizer's code (whose meeting)")],
    date_: Annotated[str, typer.Option("--date", help="the new date, YYYY-MM-DD")],
    by: Annotated[str, typer.Option("--by", help="who moves it")] = "admin",
) -> None:
    from services.meetings_move import move_meeting

    st = state(ctx)
    result = move_meeting(st.app.db, year=year, organizer=organizer, date_text=date_, now=st.app.now(), by=by)
    if st.json:
        emit_json(result)
    else:
        console().print(f"{organizer} 述职评议会由 {result['from']} 改为 {result['to']}：{result['cycles']} 个流程的截止日期随之调整")


@calendar_app.command("set", help="override one day from the State Council's notice: workday or holiday")
def calendar_set(
    ctx: typer.Context,
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
    kind: Annotated[str, typer.Argument(help="workday (调休上班) or holiday (放假)")],
    note: Annotated[str, typer.Option("--note", help="e.g. 国办发明电〔2026〕…")] = "",
    by: Annotated[str, typer.Option("--by", help="who edits")] = "admin",
) -> None:
    from services.workdays import set_day

    st = state(ctx)
    result = set_day(st.app.db, day_text=day, kind=kind, note=note, now=st.app.now(), by=by)
    if st.json:
        emit_json(result)
    else:
        console().print(f"{result['day']} 设为{'工作日' if result['kind'] == 'workday' else '休息日'}")


@calendar_app.command("show", help="working days of a month, overrides marked")
def calendar_show(
    ctx: typer.Context,
    month: Annotated[str, typer.Argument(help="YYYY-MM")],
) -> None:
    from services.workdays import month_days

    st = state(ctx)
    rows = month_days(st.app.db, month_text=month)
    if st.json:
        emit_json(rows)
        return
    for r in rows:
        console().print(f"{r['day']}  {'工作日' if r['workday'] else '休息日'}" + ("  (人工设定)" if r["override"] else ""))
