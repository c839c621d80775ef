"""The year plan (cli.md, R6–R7, R12): parsed and validated from its TOML mapping, pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from states.deadlines import DeadlineRules
from states.scoring import RuleProblem

LEVEL_KEYS = ("city", "towns", "villages")


class PlanError(ValueError):
    """A plan that cannot be launched; `problems` names each field that is wrong, each a code of the message
    catalogue (services.errors, `plan.*`) with its parameters, so the CLI and the console say it in their reader's
    language (states stay pure: the text lives with the catalogue)."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("; ".join(f"{p.code} {p.params}" for p in problems))
        self.problems = problems


def _problem(problems: list[RuleProblem], code: str, **params: Any) -> None:
    problems.append(RuleProblem(code, params))


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


def _as_date(value: Any, where: str, problems: list[RuleProblem]) -> date | None:
    if isinstance(value, datetime):
        _problem(problems, "plan.datetime", where=where, value=_show(value))
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    _problem(problems, "plan.not_date", where=where, value=_show(value))
    return None


def _as_int(value: Any, where: str, problems: list[RuleProblem], *, minimum: int = 0, maximum: int = 366) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        _problem(problems, "plan.not_int", where=where, value=_show(value), low=minimum, high=maximum)
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
    problems: list[RuleProblem] = []
    if _depth(data, MAX_NESTING) > MAX_NESTING:
        raise PlanError([RuleProblem("plan.nesting", {"limit": MAX_NESTING})])
    for key in data:
        if key not in _TOP_KEYS and key not in EXTENSION_SECTIONS:
            _problem(problems, "plan.unknown_key", key=_show(key))

    year = _as_int(data.get("year"), "year", problems, minimum=1949, maximum=9998)
    timezone = data.get("timezone", "Asia/Shanghai")
    if not is_timezone(timezone):
        _problem(problems, "plan.timezone", value=_show(timezone))

    rules_kwargs: dict[str, int] = {}
    if "submission_lead_days" in data:
        lead = _as_int(data["submission_lead_days"], "submission_lead_days", problems)
        if lead is not None:
            rules_kwargs["submission_lead_days"] = lead
    deadlines = data.get("deadlines", {})
    if not isinstance(deadlines, dict):
        _problem(problems, "plan.table", key="deadlines")
        deadlines = {}
    for key, value in deadlines.items():
        if key not in _DEADLINE_KEYS:
            _problem(problems, "plan.unknown_key", key=f"deadlines.{_show(key)}")
            continue
        parsed = _as_int(value, f"deadlines.{key}", problems)
        if parsed is not None:
            rules_kwargs[key] = parsed

    meetings_raw = data.get("meetings")
    meetings: dict[str, date] = {}
    by_organizer: dict[str, date] = {}
    if not isinstance(meetings_raw, dict):
        _problem(problems, "plan.meetings_missing")
        meetings_raw = {}
    for key, value in meetings_raw.items():
        if key == "by_organizer":
            if not isinstance(value, dict):
                _problem(problems, "plan.by_organizer_table")
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
            _problem(problems, "plan.unknown_key", key=f"meetings.{_show(key)}")
    named = {p.params.get("where") for p in problems}
    for key in LEVEL_KEYS:
        if key not in meetings and f"meetings.{key}" not in named:
            _problem(problems, "plan.meeting_missing", where=f"meetings.{key}")

    own_level = data.get("own_level", {})
    own_deadline: date | None = None
    if not isinstance(own_level, dict):
        _problem(problems, "plan.table", key="own_level")
        own_level = {}
    for key, value in own_level.items():
        if key == "deadline":
            own_deadline = _as_date(value, "own_level.deadline", problems)
        else:
            _problem(problems, "plan.unknown_key", key=f"own_level.{_show(key)}")

    reminders_raw = data.get("reminders", {})
    reminder_kwargs: dict[str, Any] = {}
    if not isinstance(reminders_raw, dict):
        _problem(problems, "plan.table", key="reminders")
        reminders_raw = {}
    for key, value in reminders_raw.items():
        if key not in _REMINDER_KEYS:
            _problem(problems, "plan.unknown_key", key=f"reminders.{_show(key)}")
        elif key == "before_days":
            if (not isinstance(value, list) or len(value) > 20
                    or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 60 for v in value)):
                _problem(problems, "plan.before_days")
            else:
                reminder_kwargs[key] = tuple(sorted(set(value), reverse=True))
        elif key == "quiet_hours":
            if not _is_quiet_hours(value):
                _problem(problems, "plan.quiet_hours", value=_show(value))
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
            _problem(problems, "plan.table", key=key)

    if year is not None:
        plan = YearPlan(year=year)
        start, end = plan.season
        for key, when in [*((f"meetings.{k}", v) for k, v in meetings.items()),
                          *((f"meetings.by_organizer.{k}", v) for k, v in by_organizer.items())]:
            if not start <= when <= end:
                _problem(problems, "plan.outside_season", where=key, date=when, year=year, start=start, end=end)
        if own_deadline is not None and not date(year, 12, 1) <= own_deadline <= date(year + 1, 3, 31):
            _problem(problems, "plan.own_deadline", date=own_deadline, start=date(year, 12, 1),
                     end=date(year + 1, 3, 31))
        if "city" in meetings and "towns" in meetings and meetings["towns"] < meetings["city"]:
            _problem(problems, "plan.order", later="towns", earlier="city")
        if "towns" in meetings and "villages" in meetings and meetings["villages"] < meetings["towns"]:
            _problem(problems, "plan.order", later="villages", earlier="towns")

    if problems or year is None:
        raise PlanError(problems or [RuleProblem("plan.year_missing", {})])
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
