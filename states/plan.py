"""The year plan (cli.md, R6–R7, R12): parsed and validated from its TOML mapping, pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from states.deadlines import DeadlineRules

LEVEL_KEYS = ("city", "towns", "villages")


class PlanError(ValueError):
    """A plan that cannot be launched; `problems` names each field that is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ReminderRules:
    before_days: tuple[int, ...] = (3, 1)
    escalate_after_days: int = 2
    quiet_hours: str = "22:00-08:00"
    sms_per_minute: int = 600
    sms_per_phone_per_day: int = 5

    @property
    def window_days(self) -> int:
        return max(self.before_days, default=0)


@dataclass(frozen=True)
class YearPlan:
    year: int
    timezone: str = "Asia/Shanghai"
    meetings: dict[str, date] = field(default_factory=dict)  # level key → date
    by_organizer: dict[str, date] = field(default_factory=dict)  # organizer code → date
    own_level_deadline: date | None = None
    deadlines: DeadlineRules = field(default_factory=DeadlineRules)
    reminders: ReminderRules = field(default_factory=ReminderRules)
    extra: dict[str, Any] = field(default_factory=dict)  # sections later features own ([scoring], …)

    def meeting_for(self, *, organizer_code: str, level_key: str) -> date:
        return self.by_organizer.get(organizer_code, self.meetings[level_key])

    @property
    def season(self) -> tuple[date, date]:
        """Meetings fall in the fourth quarter: from November to 31 December (R6, plan 五)."""
        return date(self.year, 11, 1), date(self.year, 12, 31)


# Sections owned by later features; accepted as tables and kept verbatim.
EXTENSION_SECTIONS = ("scoring", "assessment", "ballots", "calendar", "summary", "publication")

_TOP_KEYS = {"year", "timezone", "submission_lead_days", "meetings", "own_level", "reminders", "deadlines"}
_REMINDER_KEYS = {"before_days", "escalate_after_days", "quiet_hours", "sms_per_minute", "sms_per_phone_per_day"}
MAX_NESTING = 8  # lists and tables inside the plan; deeper is refused before anything recurses
REMINDER_MAXIMUM = {"escalate_after_days": 60, "sms_per_minute": 1_000_000, "sms_per_phone_per_day": 1_000}
_DEADLINE_KEYS = {"review_days_before", "evaluation_days_after", "feedback_days_after", "commitment_days_after"}


def _as_date(value: Any, where: str, problems: list[str]) -> date | None:
    if isinstance(value, datetime):
        problems.append(f"{where}：'{_show(value)}' 应为日期（YYYY-MM-DD），不带时间")
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems.append(f"{where}：'{_show(value)}' 不是日期（应为 YYYY-MM-DD）")
    return None


def _as_int(value: Any, where: str, problems: list[str], *, minimum: int = 0, maximum: int = 366) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        problems.append(f"{where}：'{_show(value)}' 应为 {minimum} 到 {maximum} 之间的整数")
        return None
    return value


def _show(value: Any, limit: int = 40) -> str:
    """A value as quoted in a problem: short, one line."""
    text = str(value) if not isinstance(value, (list, dict)) else type(value).__name__
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


def _depth(value: Any, limit: int) -> int:
    """How deeply lists and tables nest inside `value`, counting no further than `limit + 1`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > limit:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def is_timezone(name: Any) -> bool:
    """A real IANA zone name, such as 'Asia/Shanghai' (no paths, no files outside the zone database)."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    return name in _zones()


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def parse_plan(data: dict[str, Any]) -> YearPlan:
    """Validate the plan's own fields; raises `PlanError` listing every problem."""
    problems: list[str] = []
    if _depth(data, MAX_NESTING) > MAX_NESTING:
        raise PlanError([f"计划文件嵌套过深（列表和表最多 {MAX_NESTING} 层）"])
    for key in data:
        if key not in _TOP_KEYS and key not in EXTENSION_SECTIONS:
            problems.append(f"未知字段 '{_show(key)}'")

    year = _as_int(data.get("year"), "year", problems, minimum=1949, maximum=9998)
    timezone = data.get("timezone", "Asia/Shanghai")
    if not is_timezone(timezone):
        problems.append(f"timezone：'{_show(timezone)}' 不是有效的时区名称（应为 IANA 时区，如 Asia/Shanghai）")

    rules_kwargs: dict[str, int] = {}
    if "submission_lead_days" in data:
        lead = _as_int(data["submission_lead_days"], "submission_lead_days", problems)
        if lead is not None:
            rules_kwargs["submission_lead_days"] = lead
    deadlines = data.get("deadlines", {})
    if not isinstance(deadlines, dict):
        problems.append("deadlines：应为一个表 [deadlines]")
        deadlines = {}
    for key, value in deadlines.items():
        if key not in _DEADLINE_KEYS:
            problems.append(f"未知字段 'deadlines.{_show(key)}'")
            continue
        parsed = _as_int(value, f"deadlines.{key}", problems)
        if parsed is not None:
            rules_kwargs[key] = parsed

    meetings_raw = data.get("meetings")
    meetings: dict[str, date] = {}
    by_organizer: dict[str, date] = {}
    if not isinstance(meetings_raw, dict):
        problems.append("meetings：缺少 [meetings] 表（city、towns、villages 三级会议日期）")
        meetings_raw = {}
    for key, value in meetings_raw.items():
        if key == "by_organizer":
            if not isinstance(value, dict):
                problems.append("meetings.by_organizer：应为“组织单位编码 = 日期”的表")
                continue
            for code, when in value.items():
                parsed_date = _as_date(when, f"meetings.by_organizer.{code}", problems)
                if parsed_date:
                    by_organizer[str(code)] = parsed_date
        elif key in LEVEL_KEYS:
            parsed_date = _as_date(value, f"meetings.{key}", problems)
            if parsed_date:
                meetings[key] = parsed_date
        else:
            problems.append(f"未知字段 'meetings.{_show(key)}'")
    for key in LEVEL_KEYS:
        if key not in meetings and f"meetings.{key}" not in " ".join(problems):
            problems.append(f"meetings.{key}：缺少该级会议日期")

    own_level = data.get("own_level", {})
    own_deadline: date | None = None
    if not isinstance(own_level, dict):
        problems.append("own_level：应为一个表 [own_level]")
        own_level = {}
    for key, value in own_level.items():
        if key == "deadline":
            own_deadline = _as_date(value, "own_level.deadline", problems)
        else:
            problems.append(f"未知字段 'own_level.{_show(key)}'")

    reminders_raw = data.get("reminders", {})
    reminder_kwargs: dict[str, Any] = {}
    if not isinstance(reminders_raw, dict):
        problems.append("reminders：应为一个表 [reminders]")
        reminders_raw = {}
    for key, value in reminders_raw.items():
        if key not in _REMINDER_KEYS:
            problems.append(f"未知字段 'reminders.{_show(key)}'")
        elif key == "before_days":
            if (not isinstance(value, list) or len(value) > 20
                    or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 60 for v in value)):
                problems.append("reminders.before_days：应为 0 到 60 之间整数的列表（最多 20 个），如 [3, 1]")
            else:
                reminder_kwargs[key] = tuple(sorted(set(value), reverse=True))
        elif key == "quiet_hours":
            if not _is_quiet_hours(value):
                problems.append(f"reminders.quiet_hours：'{_show(value)}' 应形如 \"22:00-08:00\"")
            else:
                reminder_kwargs[key] = value
        else:
            parsed_int = _as_int(value, f"reminders.{key}", problems, minimum=0 if key == "escalate_after_days" else 1,
                                 maximum=REMINDER_MAXIMUM[key])
            if parsed_int is not None:
                reminder_kwargs[key] = parsed_int

    extra = {key: data[key] for key in EXTENSION_SECTIONS if key in data}
    for key, value in extra.items():
        if not isinstance(value, dict):
            problems.append(f"{key}：应为一个表 [{key}]")

    if year is not None:
        plan = YearPlan(year=year)
        start, end = plan.season
        for key, when in [*((f"meetings.{k}", v) for k, v in meetings.items()),
                          *((f"meetings.by_organizer.{k}", v) for k, v in by_organizer.items())]:
            if not start <= when <= end:
                problems.append(f"{key}：{when} 不在 {year} 年度述职期内（{start} 至 {end}）")
        if own_deadline is not None and not date(year, 12, 1) <= own_deadline <= date(year + 1, 3, 31):
            problems.append(f"own_level.deadline：{own_deadline} 应在 {year}-12-01 至 {year + 1}-03-31 之间")
        if "city" in meetings and "towns" in meetings and meetings["towns"] < meetings["city"]:
            problems.append("meetings.towns：不得早于 meetings.city（述职自上而下逐级进行）")
        if "towns" in meetings and "villages" in meetings and meetings["villages"] < meetings["towns"]:
            problems.append("meetings.villages：不得早于 meetings.towns（述职自上而下逐级进行）")

    if problems or year is None:
        raise PlanError(problems or ["year：缺少年度"])
    return YearPlan(
        year=year,
        timezone=str(timezone),
        meetings=meetings,
        by_organizer=by_organizer,
        own_level_deadline=own_deadline or date(year + 1, 1, 31),
        deadlines=DeadlineRules(**rules_kwargs),
        reminders=ReminderRules(**reminder_kwargs),
        extra=extra,
    )


def _is_quiet_hours(value: Any) -> bool:
    if not isinstance(value, str) or "-" not in value:
        return False
    try:
        for part in value.split("-", 1):
            hours, minutes = part.strip().split(":")
            if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
                return False
    except ValueError:
        return False
    return True


def plan_to_dict(plan: YearPlan) -> dict[str, Any]:
    """The launched plan, as stored with the year (JSON-friendly)."""
    return {
        "year": plan.year,
        "timezone": plan.timezone,
        "submission_lead_days": plan.deadlines.submission_lead_days,
        "meetings": {
            **{k: v.isoformat() for k, v in plan.meetings.items()},
            "by_organizer": {k: v.isoformat() for k, v in plan.by_organizer.items()},
        },
        "own_level": {"deadline": plan.own_level_deadline.isoformat() if plan.own_level_deadline else None},
        "deadlines": {
            "review_days_before": plan.deadlines.review_days_before,
            "evaluation_days_after": plan.deadlines.evaluation_days_after,
            "feedback_days_after": plan.deadlines.feedback_days_after,
            "commitment_days_after": plan.deadlines.commitment_days_after,
        },
        "reminders": {
            "before_days": list(plan.reminders.before_days),
            "escalate_after_days": plan.reminders.escalate_after_days,
            "quiet_hours": plan.reminders.quiet_hours,
            "sms_per_minute": plan.reminders.sms_per_minute,
            "sms_per_phone_per_day": plan.reminders.sms_per_phone_per_day,
        },
        **plan.extra,
    }


def plan_from_stored(data: dict[str, Any]) -> YearPlan:
    """Rebuild a launched plan from its stored form (drops the `None` own-level if absent)."""
    cleaned = dict(data)
    own = dict(cleaned.get("own_level") or {})
    if own.get("deadline") is None:
        own.pop("deadline", None)
    cleaned["own_level"] = own
    return parse_plan(cleaned)
