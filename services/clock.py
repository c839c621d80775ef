"""The one injectable clock (`--now`): every time-dependent rule reads it, never `datetime.now()`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from services.errors import BadInput

PLAN_TZ = ZoneInfo("Asia/Shanghai")
# A date alone means the start of office hours that day, so `--now 2014-12-05` behaves like a
# working morning (quiet hours for SMS end at 08:00).
DATE_ONLY_TIME = time(9, 0)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass
class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that stays where it is put, and can be moved (the demo, tests, simulations)."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment = self.moment + timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.moment = moment


def parse_when(text: str, *, tz: ZoneInfo = PLAN_TZ) -> datetime:
    """`2014-12-05`, `2014-12-05T09:00` or with an offset → an aware datetime."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), DATE_ONLY_TIME, tzinfo=tz)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput("clock.bad", option="--now", value=text[:40]) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def local_today(clock: Clock, tz: ZoneInfo = PLAN_TZ) -> date:
    """The plan-local calendar day at the clock's instant: deadlines are days in Asia/Shanghai."""
    return clock.now().astimezone(tz).date()
