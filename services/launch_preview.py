"""Launching with a preview (issue 12): a plan template filled from the tree, and what a launch would create —
meetings and cycles per level, the earliest and latest deadlines, the problems — computed without writing."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import sqlalchemy as sa

from services.errors import Problem, ShuzhiError
from services.years import _meeting_dates, _organizers, load_plan_text
from states.orgs import LEVEL_OF_KIND, meeting_level_key
from storage.db import Database
from storage.tables.core import cycles, orgs, years

LEVEL_NAMES = {0: "地市级", 1: "县（市、区）级", 2: "乡镇（街道）及市直单位", 3: "村（社区）及其他"}
LEVEL_KEY_NAMES = {"city": "县（市、区）党委书记向地市委述职", "towns": "乡镇（街道）、市直单位向县（市、区）委述职",
                   "villages": "村（社区）及其他基层党组织向乡镇（街道）党委述职"}
LEVEL_KEY_NAMES_EN = {"city": "county (city, district) secretaries report to the prefecture committee",
                      "towns": "towns (subdistricts) and city units report to the county committee",
                      "villages": "villages (communities) and other grassroots units report to the town committee"}
TEMPLATE_ORGANIZERS = 40  # named in the template's comments; more are summarised
# the template's comments: (Chinese, English)
TEMPLATE_COMMENTS = {
    "title": ("{year} 年度述职评议考核方案（由组织树生成，请按实际修改）",
              "the {year} plan of reports and evaluation (drafted from the tree: edit it to fit)"),
    "lead": ("会前多少天报送述职报告", "days before the meeting a report is due"),
    "meetings": ("各层级述职评议会议日期", "the evaluation meetings' dates, per level"),
    "by_organizer": ("个别组织者另定日期：去掉 # 并填写日期", "another date for one organizer: remove the # and set the date"),
    "heard": ("{name}，听取 {count} 个单位述职", "{name}, hears {count} unit(s)"),
    "more": ("……另有 {count} 个县乡级组织者（在组织树中按名称查找编码）",
             "…and {count} more county and town organizers (find their codes by name in the tree)"),
    "own_level": ("本级述职截止日期", "the deadline of the reports to the own committee"),
    "before_days": ("截止前几天提醒", "days before a deadline to remind"),
    "escalate": ("逾期几天后向上级督办", "days overdue before the superior is told"),
}


def plan_template(db: Database, *, year: int, lang: str = "zh") -> str:
    """A year plan to edit: the three meeting levels with December dates, the organizers of the tree listed by name
    (commented out) for per-organizer dates, the own-level deadline and the reminder rule; comments in `lang`."""

    def say(key: str, **params: Any) -> str:
        zh, en = TEMPLATE_COMMENTS[key]
        return (en if lang == "en" else zh).format(**params)

    level_names = LEVEL_KEY_NAMES_EN if lang == "en" else LEVEL_KEY_NAMES
    with db.connect() as conn:
        organizers = _organizers(conn)
        names = dict(conn.execute(sa.select(orgs.c.id, orgs.c.name).where(orgs.c.id.in_([o.id for o in organizers[:2000]]))).all())
        heard = Counter(conn.execute(sa.select(orgs.c.parent_id).where(orgs.c.kind != "prefecture")).scalars())
    lines = [
        f"# {say('title', year=year)}",
        f"year = {year}",
        'timezone = "Asia/Shanghai"',
        f"submission_lead_days = 10  # {say('lead')}",
        "",
        f"[meetings]  # {say('meetings')}",
    ]
    for key, day in (("city", 15), ("towns", 20), ("villages", 26)):
        lines.append(f'{key} = "{year}-12-{day:02d}"  # {level_names[key]}')
    lines += ["", f"[meetings.by_organizer]  # {say('by_organizer')}"]
    upper = sorted((o for o in organizers if meeting_level_key(o.kind) != "villages"), key=lambda o: o.path)
    for organizer in upper[:TEMPLATE_ORGANIZERS]:
        lines.append(f'# {organizer.code} = "{year}-12-20"  # '
                     + say("heard", name=names.get(organizer.id, organizer.code), count=heard.get(organizer.id, 0)))
    if len(upper) > TEMPLATE_ORGANIZERS:
        lines.append(f"# {say('more', count=len(upper) - TEMPLATE_ORGANIZERS)}")
    lines += ["", f"[own_level]  # {say('own_level')}", f'deadline = "{year + 1}-01-31"', "",
              "[reminders]", f"before_days = [3, 1]  # {say('before_days')}", f"escalate_after_days = 2  # {say('escalate')}",
              ""]
    return "\n".join(lines)


def preview_launch(db: Database, *, plan_text: str, year: int) -> dict[str, Any]:
    """What `start_year` would do with this plan, without doing it: {ok, problems, relaunch, levels: [{level, name,
    meetings, upward, own_level, existing}], totals, earliest, latest}. Problems (a bad plan, an unknown organizer,
    a meeting before its parent's, a deadline in a year with no calendar) are listed, not raised."""
    problems: list[str] = []
    out: dict[str, Any] = {"year": year, "ok": False, "problems": problems, "levels": [], "relaunch": False,
                           "earliest": None, "latest": None, "totals": {"meetings": 0, "upward": 0, "own_level": 0}}
    try:
        plan = load_plan_text(plan_text, year=year)
    except ShuzhiError as error:
        problems.extend(error.problems or [_as_problem(error)])
        return out
    with db.connect() as conn:
        organizers = _organizers(conn)
        all_codes = set(conn.execute(sa.select(orgs.c.code)).scalars())
        if not all_codes:
            problems.append(Problem("preview.no_orgs"))
            return out
        try:
            dates = _meeting_dates(plan, organizers, all_codes)
        except ShuzhiError as error:
            problems.extend(error.problems or [_as_problem(error)])
            return out
        out["relaunch"] = conn.execute(sa.select(years.c.year).where(years.c.year == year)).first() is not None
        kind_of_org = {o.id: o.kind for o in organizers}
        per_level: dict[int, dict[str, Any]] = {}

        def level(kind: str, shift: int = 0) -> dict[str, Any]:
            lvl = min(int(LEVEL_OF_KIND[kind]) + shift, 3)
            return per_level.setdefault(lvl, {"level": lvl, "name": LEVEL_NAMES[lvl], "meetings": 0, "upward": 0,
                                              "own_level": 0, "existing": 0, "first_meeting": None, "last_meeting": None})

        for organizer_id, held_on in dates.items():
            entry = level(kind_of_org[organizer_id], shift=1)  # a meeting is listed with the level it hears
            entry["meetings"] += 1
            entry["first_meeting"] = min(filter(None, (entry["first_meeting"], held_on)))
            entry["last_meeting"] = max(filter(None, (entry["last_meeting"], held_on)))
        # every assessed organization has an own-level cycle, and an upward one when it has a parent (whose
        # meeting hears it: a parent with an assessed child is an organizer)
        for kind, has_parent, n in conn.execute(
            sa.select(orgs.c.kind, orgs.c.parent_id.is_not(None).label("has_parent"), sa.func.count())
            .where(orgs.c.kind != "prefecture").group_by(orgs.c.kind, orgs.c.parent_id.is_not(None))
        ):
            entry = level(kind)
            entry["own_level"] += n
            if has_parent:
                entry["upward"] += n
        if out["relaunch"]:
            for kind, n in conn.execute(
                sa.select(orgs.c.kind, sa.func.count()).select_from(cycles.join(orgs, orgs.c.id == cycles.c.org_id))
                .where(cycles.c.year == year).group_by(orgs.c.kind)
            ):
                level(kind)["existing"] += n
        dues: list[date] = []
        try:
            from services.workdays import plan_step_dues

            for held_on in sorted(set(dates.values())):
                dues.extend(v for v in plan_step_dues(conn, plan, held_on).values() if isinstance(v, date))
        except ShuzhiError as error:
            problems.append(_as_problem(error))
        except NotImplementedError as error:  # a year the working-day calendar does not know yet
            problems.append(Problem("preview.calendar", detail=str(error)))
    if plan.own_level_deadline is not None:
        dues.append(plan.own_level_deadline)
    levels = [per_level[k] for k in sorted(per_level)]
    for entry in levels:
        for key in ("first_meeting", "last_meeting"):
            entry[key] = entry[key].isoformat() if entry[key] else None
    out["levels"] = levels
    out["totals"] = {k: sum(e[k] for e in levels) for k in ("meetings", "upward", "own_level", "existing")}
    out["totals"]["to_create"] = max(0, out["totals"]["upward"] + out["totals"]["own_level"] - out["totals"]["existing"])
    if dues:
        out["earliest"], out["latest"] = min(dues).isoformat(), max(dues).isoformat()
    out["ok"] = not problems
    return out


def _as_problem(error: ShuzhiError) -> str:
    """An error met while previewing, as one problem of the list (in the page's language when catalogued)."""
    return Problem(error.code, **error.params) if error.code else error.message
