"""`shuzhi demo`: a whole simulated season on a fresh embedded database, narrated stage by stage.

Everything goes through the same services the CLI, the web console and the flows call; only the clock is
moved (`FixedClock`), so a season of three months runs in seconds.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.app import App
from services.clock import PLAN_TZ, FixedClock
from services.cycles import fire_event, list_cycles
from services.demo_city import DEMO_PLAN, write_city_csv
from services.errors import ShuzhiError
from services.settings import Settings
from storage.db import Database
from storage.tables.core import cycles, orgs

YEAR = 2014
ADMIN_PASSWORD = "demo-2014-admin"


@dataclass
class Narrator:
    """How the demo speaks: a heading per stage, lines, tables of counts. The CLI gives rich output."""

    heading: Callable[[str], None] = print
    line: Callable[[str], None] = print
    table: Callable[[str, list[str], list[list[str]]], None] = lambda title, head, rows: print(title, head, rows)


@dataclass
class Profile:
    """How one secretary behaves this season (seeded)."""

    report: str  # sample report they submit first: good | achievements_only | no_problems
    delay: int  # days after the due date they submit (negative: early)
    commitment_delay: int  # days after the commitment due date they file (negative: early)


@dataclass
class DemoResult:
    folder: Path
    db_url: str
    counts: dict[str, int] = field(default_factory=dict)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PLAN_TZ)


class Season:
    def __init__(self, app: App, folder: Path, narrator: Narrator, *, seed: int = 2014) -> None:
        self.app = app
        self.db: Database = app.db
        self.clock: FixedClock = app.clock  # type: ignore[assignment]
        self.folder = folder
        self.say = narrator
        self.rng = random.Random(seed)
        self.profiles: dict[str, Profile] = {}
        self.stats: Counter[str] = Counter()
        self.reports: dict[str, Path] = {}

    # -- helpers -------------------------------------------------------------------------------
    def fire(self, org: str, event: str, *, kind: str = "upward", by: str, note: str | None = None,
             report: Path | None = None) -> bool:
        try:
            fire_event(self.db, year=YEAR, org=org, event=event, kind=kind, now=self.clock.now(), by=by, note=note,
                       hooks=self.app.hooks, options={"report": report} if report else {})
        except ShuzhiError as refusal:
            self.stats["refused"] += 1
            self.stats[f"refused:{type(refusal).__name__}"] += 1
            return False
        self.stats[event] += 1
        return True

    def cycles_in(self, state: str, *, kind: str = "upward") -> list[dict[str, Any]]:
        return list_cycles(self.db, year=YEAR, today=self.app.today(), state=state, kind=kind)

    def report_file(self, name: str) -> Path:
        if name not in self.reports:
            from services.reports import sample_report

            path = self.folder / "reports" / f"{name}.md"
            path.parent.mkdir(exist_ok=True)
            path.write_text(sample_report(name), encoding="utf-8")
            self.reports[name] = path
        return self.reports[name]

    def set_day(self, day: date, hour: int = 9) -> None:
        self.clock.set(at(day, hour))

    # -- the season ------------------------------------------------------------------------------
    def setup(self) -> None:
        from services.orgs import import_orgs
        from services.years import start_year

        self.say.heading("一、导入组织架构，启动年度述职 (import the tree, launch 2014)")
        self.db.upgrade()
        csv_path = write_city_csv(self.folder / "orgs.csv")
        imported = import_orgs(self.db, csv_path, now=self.clock.now())
        plan_path = self.folder / "plan.toml"
        plan_path.write_text(DEMO_PLAN, encoding="utf-8")
        launched = start_year(self.db, plan_text=DEMO_PLAN, year=YEAR, now=self.clock.now(), by="组织部管理员")
        self.say.line(f"导入组织 {imported.imported} 个（{csv_path.name}）；启动 {YEAR} 年度：新建述职流程 "
                      f"{launched.created} 个（向上级、向本级各一），述职评议会 {launched.meetings_created} 场")
        with self.db.connect() as conn:
            codes = list(conn.execute(sa.select(orgs.c.code).where(orgs.c.kind != "prefecture")).scalars())
        for code in codes:
            roll = self.rng.random()
            report = "good" if roll < 0.72 else ("achievements_only" if roll < 0.9 else "no_problems")
            delay = self.rng.choice([-5, -4, -3, -2, -1, -1, 0, 0, 0, 1, 2, 3, 5])
            self.profiles[code] = Profile(report, delay, self.rng.choice([-6, -4, -3, -2, -1, 0, 0, 1, 3]))

    def daily(self, day: date) -> None:
        """One working day: secretaries act, reviewers review, meetings are held, then the 09:00 sweep."""
        self.set_day(day, 8)
        today = day
        # secretaries: research then submit around their due date
        for row in self.cycles_in("researching"):
            due = date.fromisoformat(row["due"])
            if today >= due - timedelta(days=12) + timedelta(days=self.profiles[row["org"]].delay):
                self.fire(row["org"], "finish_research", by=row["name"])
        for row in self.cycles_in("drafting"):
            profile = self.profiles[row["org"]]
            if today >= date.fromisoformat(row["due"]) + timedelta(days=profile.delay):
                self.fire(row["org"], "submit", by=row["name"], report=self.report_file(profile.report))
        for row in self.cycles_in("revising"):
            self.fire(row["org"], "resubmit", by=row["name"], report=self.report_file("good"))
        # reviewers: decide with the automatic pre-review beside them (the decision stays human)
        for row in self.cycles_in("submitted"):
            self.review(row)
        self.meetings(today)
        self.after_meetings(today)
        self.sweep_and_send(day)

    def review(self, row: dict[str, Any]) -> None:
        from services.reports import list_versions

        versions = list_versions(self.db, year=YEAR, org=row["org"])
        check = (versions[-1].get("check") or {}) if versions else {}
        suggestion = check.get("suggestion", "approve")
        reviewer = "市委组织部" if row["org_kind"] in ("town", "subdistrict", "farm", "city_unit") else f"{row['organizer']}党委"
        findings = "；".join(check.get("findings", [])[:2]) or "问题查找不深"
        if suggestion == "rewrite":
            self.fire(row["org"], "rewrite", by=reviewer, note=f"责令重写：{findings}")
        elif suggestion == "revise":
            self.fire(row["org"], "revise", by=reviewer, note=f"督促修改：{findings}")
        else:
            self.fire(row["org"], "approve", by=reviewer)

    def meetings(self, today: date) -> None:
        """Each organizer whose meeting is today holds it: presentations, comments, ballots, close."""
        from services.ballots import cast_ballot, issue_codes
        from services.meetings import add_attendees, open_meeting, record_comment

        by_organizer: dict[str, list[dict[str, Any]]] = {}
        for row in list_cycles(self.db, year=YEAR, today=today, kind="upward"):
            if row["meeting"] == today.isoformat():
                by_organizer.setdefault(row["organizer"], []).append(row)
        for organizer, rows in sorted(by_organizer.items()):
            self.set_day(today, 14)
            open_meeting(self.db, year=YEAR, now=self.clock.now(), organizer=organizer, by="组织部",
                         presiding=f"{organizer}书记", venue="党员活动中心会议室")
            attendees = [{"name": f"参会代表{i:02d}", "role": "两代表一委员" if i % 4 == 0 else "党员干部"} for i in range(1, 16)]
            add_attendees(self.db, year=YEAR, organizer=organizer, attendees=attendees)
            presenting = []
            for row in rows:
                if row["state"] != "approved":
                    self.stats["not_ready_for_meeting"] += 1
                    continue
                if self.fire(row["org"], "present", by=row["name"]):
                    presenting.append(row["org"])
                    record_comment(self.db, year=YEAR, org=row["org"], organizer=organizer, now=self.clock.now(),
                                   comment="抓基层党建责任意识较强，问题查摆较为具体。",
                                   strengths="三级联动机制落实较好", problems="软弱涣散村整顿进度不一",
                                   direction="加大村级集体经济发展力度", by=f"{organizer}书记")
            if not presenting:
                continue
            codes = issue_codes(self.db, year=YEAR, count=len(attendees), now=self.clock.now(), organizer=organizer,
                                by="组织部")["codes"]
            ratings_pool = ["好", "好", "好", "较好", "较好", "一般", "差"]
            for code in codes[: len(codes) - 1]:  # one attendee leaves early: their code stays unused
                ratings = {org: self.rng.choice(ratings_pool if self.profiles[org].report == "good" else ratings_pool[2:])
                           for org in presenting}
                cast_ballot(self.db, year=YEAR, code=code, ratings=ratings)
                self.stats["ballots"] += 1
            self.stats["meetings"] += 1

    def after_meetings(self, today: date) -> None:
        from services.ballots import close_evaluation
        from services.rectification import add_item, set_commitment

        self.set_day(today, 10)
        organizers = {r["organizer"] for r in self.cycles_in("presented")
                      if date.fromisoformat(r["meeting"]) + timedelta(days=1) <= today}
        for organizer in sorted(organizers):
            close_evaluation(self.db, year=YEAR, now=self.clock.now(), organizer=organizer, by="组织部", hooks=self.app.hooks)
        for row in self.cycles_in("evaluated"):
            if today >= date.fromisoformat(row["meeting"]) + timedelta(days=4):
                self.fire(row["org"], "give_feedback", by="组织部")
        for row in self.cycles_in("feedback_given"):
            self.fire(row["org"], "start_rectification", by=row["name"])
        for row in self.cycles_in("rectifying"):
            if today < date.fromisoformat(row["due"]) + timedelta(days=self.profiles[row["org"]].commitment_delay):
                continue
            add_item(self.db, year=YEAR, org=row["org"], problem="软弱涣散基层党组织整顿不到位",
                     measure="书记包联，三个月内完成整顿验收", responsible=row["name"] + "书记",
                     due=row["due"], now=self.clock.now(), by=row["name"])
            set_commitment(self.db, year=YEAR, org=row["org"], text="一年内村级集体经济收入全部达到5万元以上。",
                           now=self.clock.now(), by=row["name"])
            self.fire(row["org"], "file_commitment", by="市委组织部")
        for row in self.cycles_in("committed"):
            self.fire(row["org"], "close", by="市委组织部")

    def sweep_and_send(self, day: date) -> None:
        from notifications.config import build_channels
        from services.outbox import dispatch
        from services.sweep import sweep_deadlines

        self.set_day(day, 9)
        swept = sweep_deadlines(self.db, now=self.clock.now(), year=YEAR)
        self.stats["queued"] += swept.queued
        self.stats["escalated"] += swept.escalated
        channels = build_channels(self.app.settings)
        sent = dispatch(self.db, now=self.clock.now(), channels=channels)
        self.stats["sent"] += sent.sent
        self.stats["deliveries"] += sent.deliveries

    # -- narration -------------------------------------------------------------------------------
    def report_stage(self, title: str) -> None:
        from services.cycles import stage_counts
        from states.machine import STATE_LABELS, STATES
        from states.orgs import LEVEL_LABELS, LEVEL_OF_KIND

        counts: dict[str, Counter[str]] = {}
        for row in stage_counts(self.db, year=YEAR):
            level = LEVEL_LABELS[LEVEL_OF_KIND[row["org_kind"]]]
            counts.setdefault(level, Counter())[row["state"]] += row["count"]
        present = [s for s in STATES if any(c[s] for c in counts.values())]
        rows = [[level, *[str(c[s] or "") for s in present]] for level, c in counts.items()]
        self.say.table(f"{title}：各级述职流程所处阶段（向上级述职）", ["层级", *[STATE_LABELS[s] for s in present]], rows)
        lagging = list_cycles(self.db, year=YEAR, today=self.app.today(), lagging=True, kind="upward")
        overdue = [r for r in lagging if r["overdue"]]
        self.say.line(f"滞后 {len(lagging)} 个（已逾期 {len(overdue)} 个）；累计提醒入队 {self.stats['queued']} 条、"
                      f"升级督办 {self.stats['escalated']} 条、已发送 {self.stats['sent']} 条")
        if overdue:
            sample = "，".join(f"{r['name']}（{r['step']} 截止 {r['due']}）" for r in overdue[:5])
            self.say.line(f"  逾期示例：{sample}{' 等' if len(overdue) > 5 else ''}")

    def quiet_hours(self, day: date) -> None:
        """At 22:30 the organization department presses "remind now" for the units already overdue: email goes
        out at once, SMS waits for 08:00 (notifications.md quiet hours)."""
        from notifications.config import build_channels
        from services.outbox import dispatch
        from services.sweep import remind_now

        self.clock.set(at(day, 22, 30))
        overdue = [r for r in list_cycles(self.db, year=YEAR, today=day, lagging=True, kind="upward") if r["overdue"]]
        queued = sum(remind_now(self.db, year=YEAR, org=r["org"], now=self.clock.now(), by="市委组织部")["queued"]
                     for r in overdue)
        night = dispatch(self.db, now=self.clock.now(), channels=build_channels(self.app.settings))
        self.clock.set(at(day + timedelta(days=1), 8, 1))
        morning = dispatch(self.db, now=self.clock.now(), channels=build_channels(self.app.settings))
        self.stats["queued"] += queued
        self.stats["sent"] += night.sent + morning.sent
        self.stats["held_overnight"] += night.held
        self.say.line(f"夜间 22:30 对已逾期的 {len(overdue)} 个单位“立即提醒”：入队 {queued} 条；邮件即时发出 {night.sent} 条，"
                      f"短信 {night.held} 条待免打扰时段（22:00–08:00）结束；次日 08:01 发出 {morning.sent} 条")


def run_demo(folder: Path, narrator: Narrator, *, seed: int = 2014) -> DemoResult:
    folder.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{folder / 'shuzhi.db'}"
    settings = Settings.from_env({}, db_url=db_url, sink_dir=str(folder / "sink"))
    from services.app import build_app

    clock = FixedClock(at(date(2014, 11, 24)))
    app = build_app(settings, clock=clock)
    season = Season(app, folder, narrator, seed=seed)
    season.setup()

    milestones = {
        date(2014, 12, 1): "二、12月1日 调研撰写",
        date(2014, 12, 8): "三、12月8日 市直单位和乡镇报送述职报告截止前",
        date(2014, 12, 14): "四、12月14日 审核把关",
        date(2014, 12, 22): "五、12月22日 市委（扩大）会述职评议之后",
        date(2014, 12, 30): "六、12月30日 村（社区）述职评议之后",
        date(2015, 1, 16): "七、1月16日 反馈与整改",
    }
    day = date(2014, 11, 24)
    end = date(2015, 1, 20)
    while day <= end:
        season.daily(day)
        if day == date(2014, 12, 11):
            season.quiet_hours(day)
        if day in milestones:
            narrator.heading(milestones[day])
            season.report_stage(milestones[day].split(" ", 1)[1])
        day += timedelta(days=1)

    own_level(season)
    results(season)
    closing(season)
    return DemoResult(folder=folder, db_url=db_url, counts=dict(season.stats))


def own_level(season: Season) -> None:
    """R7: the same secretaries report to their own committees by the end of January."""
    from services.ballots import close_evaluation
    from services.meetings import open_meeting

    season.say.heading("八、向本级党组织述职（1月底前完成，结果报市委组织部备案）")
    day = date(2015, 1, 19)
    season.set_day(day)
    for event, state in (("finish_research", "researching"), ("submit", "drafting")):
        for row in season.cycles_in(state, kind="own_level"):
            season.fire(row["org"], event, kind="own_level", by=row["name"],
                        report=season.report_file("good") if event == "submit" else None)
    for row in season.cycles_in("submitted", kind="own_level"):
        season.fire(row["org"], "approve", kind="own_level", by=f"{row['org']}党委")
    season.set_day(date(2015, 1, 28), 14)
    presented = 0
    for row in season.cycles_in("approved", kind="own_level"):
        open_meeting(season.db, year=YEAR, now=season.clock.now(), own=row["org"], by=row["name"])
        presented += season.fire(row["org"], "present", kind="own_level", by=row["name"])
        close_evaluation(season.db, year=YEAR, now=season.clock.now(), own=row["org"], by=row["name"], hooks=season.app.hooks)
    season.say.line(f"向本级述职：{presented} 个党组织完成述职和测评")


def results(season: Season) -> None:
    from services.results import compute_results, run_veto, show_results
    from services.scores import generate_component_scores, import_scores, write_scores_csv
    from services.summary_report import write_summary_report

    season.say.heading("九、综合评定、排名、差额否决、重点管理")
    season.set_day(date(2015, 1, 20))
    rows = generate_component_scores(season.db, year=YEAR, seed=2014)
    scores_csv = write_scores_csv(rows, season.folder / "scores.csv")
    import_scores(season.db, scores_csv, year=YEAR, now=season.clock.now())
    computed = compute_results(season.db, year=YEAR, now=season.clock.now())
    season.say.line(f"综合评定：{computed.get('ranked', computed.get('computed', '?'))} 个单位参与排名")
    towns = show_results(season.db, year=YEAR, category="towns")
    season.say.table("乡镇（街道、场）综合得分排名", ["名次", "编码", "综合得分", "重点管理"],
                     [[str(r["rank"] or "—"), r["org"], f"{r['composite']:.2f}" if r["composite"] is not None else "缺项",
                       "是" if r["key_management"] else ""] for r in towns])
    villages = show_results(season.db, year=YEAR, category="villages")
    listed = [r["org"] for r in villages if r["key_management"]]
    season.say.line(f"村级党组织 {len(villages)} 个，列入重点管理 {len(listed)} 个（不低于10%）：{'，'.join(listed)}")
    veto = run_veto(season.db, year=YEAR, category="towns", honour="年度目标考核先进单位", places=4, now=season.clock.now())
    season.say.line(f"平行考核、差额否决（1:1.5）年度目标考核先进单位 4 名：候选 {'，'.join(veto['candidates'])}；"
                    f"授予 {'，'.join(veto['awarded'])}；否决 {'，'.join(veto['vetoed']) or '无'}")
    for suffix in ("docx", "xlsx", "md"):
        write_summary_report(season.db, year=YEAR, organizer="T01", out=season.folder / f"T01-summary.{suffix}",
                             now=season.clock.now())
    season.say.line(f"马口镇党委述职评议考核情况报告：{season.folder / 'T01-summary.docx'}（另有 .xlsx、.md）")


def closing(season: Season) -> None:
    from services.outbox import outbox_counts, outbox_counts_text

    season.say.heading("十、本年度小结")
    season.report_stage("1月20日")
    with season.db.connect() as conn:
        returns = conn.execute(sa.select(sa.func.sum(cycles.c.returns))).scalar() or 0
        rewrites = season.stats["rewrite"]
    counts = outbox_counts(season.db, year=YEAR)
    season.say.line(f"述职报告退回修改 {int(returns)} 次（其中责令重写 {rewrites} 次）；述职评议会 {season.stats['meetings']} 场，"
                    f"收回测评票 {season.stats['ballots']} 张")
    season.say.line("消息发件箱：" + outbox_counts_text(counts) +
                    f"（短信、邮件写入本地投递目录 {season.folder / 'sink'}）")
    try:
        from services.accounts import create_user

        create_user(season.db, "admin", "admin", ADMIN_PASSWORD)
    except Exception as error:  # the console is optional for the demo's own story
        season.say.line(f"（未创建网页控制台账号：{error}）")
