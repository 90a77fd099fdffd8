"""A five-field cron matcher: `minute hour day-of-month month day-of-week`.

Each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those.
Day of week is 0-7 (0 and 7 are Sunday). As in Vixie cron, when both day fields are restricted
(neither starts with `*`) a time matches if either does; otherwise both must. No names, no `@daily`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# (name, lowest, highest) of each field, in order.
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


class CronInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday (7 folded into 0)
    days_any: bool
    weekdays_any: bool

    def matches(self, when: datetime) -> bool:
        """True if `when` (its minute, in its own timezone) is one the expression names."""
        if when.minute not in self.minutes or when.hour not in self.hours or when.month not in self.months:
            return False
        day = when.day in self.days
        weekday = (when.isoweekday() % 7) in self.weekdays
        if self.days_any or self.weekdays_any:
            return day and weekday
        return day or weekday


def _number(text: str, name: str, low: int, high: int) -> int:
    if not text.isdigit():
        raise CronInvalid(f"{name}: {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise CronInvalid(f"{name}: {value} is outside {low}-{high}")
    return value


def _field(text: str, name: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, slash, step_text = part.partition("/")
        step = _number(step_text, name, 1, high) if slash else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = _number(start, name, low, high), _number(end, name, low, high)
            if first > last:
                raise CronInvalid(f"{name}: range {span!r} runs backwards")
        else:
            first = _number(span, name, low, high)
            last = high if slash else first  # `5/15` means from 5 to the end, every 15
        values.update(range(first, last + 1, step))
    return values


# The most days each month can have (February: 29, in leap years).
MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _never_fires(days: set[int], months: set[int], *, weekdays_restricted: bool) -> str | None:
    """Why a day-of-month list can never meet the months (`0 0 31 2 *`), or None when it can."""
    if weekdays_restricted:  # either day field may match: some weekday of some month always comes
        return None
    if any(day <= MONTH_DAYS[month] for month in months for day in days):
        return None
    named = ", ".join(MONTH_NAMES[m - 1] for m in sorted(months))
    return f"never fires: no day {', '.join(map(str, sorted(days)))} in {named}"


def cron_parse(expression: str) -> Cron:
    """Parse a five-field expression or raise CronInvalid naming the field at fault (or why it never fires)."""
    parts = expression.split()
    if len(parts) != 5:
        raise CronInvalid(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
    sets = [_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True)]
    never = _never_fires(sets[2], sets[3], weekdays_restricted=not parts[4].startswith("*"))
    if never:
        raise CronInvalid(never)
    return Cron(
        minutes=frozenset(sets[0]),
        hours=frozenset(sets[1]),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=frozenset(d % 7 for d in sets[4]),
        days_any=parts[2].startswith("*"),
        weekdays_any=parts[4].startswith("*"),
    )


def cron_matches(expression: str, when: datetime) -> bool:
    return cron_parse(expression).matches(when)
