"""The five-field cron matcher: `*`, numbers, lists, ranges, steps, both day fields, and refusals."""

from __future__ import annotations

from datetime import datetime

import pytest

from runs.cron import CronInvalid, cron_matches, cron_parse

# 2026-03-02 is a Monday.
MONDAY_0930 = datetime(2026, 3, 2, 9, 30)


@pytest.mark.parametrize(
    ("expression", "when", "expected"),
    [
        ("* * * * *", MONDAY_0930, True),
        ("30 9 * * *", MONDAY_0930, True),
        ("31 9 * * *", MONDAY_0930, False),
        ("*/15 * * * *", MONDAY_0930, True),
        ("*/15 * * * *", datetime(2026, 3, 2, 9, 31), False),
        ("0,15,30,45 * * * *", MONDAY_0930, True),
        ("25-35 8-10 * * *", MONDAY_0930, True),
        ("25-35 10-12 * * *", MONDAY_0930, False),
        ("10-50/20 * * * *", MONDAY_0930, True),  # 10, 30, 50
        ("10-50/20 * * * *", datetime(2026, 3, 2, 9, 40), False),
        ("5/25 * * * *", MONDAY_0930, True),  # 5, 30, 55
        ("30 9 * * 1-5", MONDAY_0930, True),  # weekdays
        ("30 9 * * 0,6", MONDAY_0930, False),  # weekends
        ("0 0 * * 7", datetime(2026, 3, 1, 0, 0), True),  # 7 is Sunday too
        ("0 0 * * 0", datetime(2026, 3, 1, 0, 0), True),
        ("0 0 1 * *", datetime(2026, 3, 1, 0, 0), True),
        ("0 0 1 1 *", datetime(2026, 3, 1, 0, 0), False),  # January only
        ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0), True),
        # Both day fields restricted: either one matching is enough (Vixie cron).
        ("30 9 15 * 1", MONDAY_0930, True),
        ("30 9 2 * 5", MONDAY_0930, True),
        ("30 9 15 * 5", MONDAY_0930, False),
        # One of them `*` (or `*/n`): only the other counts.
        ("30 9 15 * *", MONDAY_0930, False),
        ("30 9 */2 * 1", datetime(2026, 3, 3, 9, 30), False),  # the 3rd is in */2, but a Tuesday
        ("30 9 */2 * 1", datetime(2026, 3, 9, 9, 30), True),  # a Monday, the 9th (in */2: 1, 3, 5, 7, 9)
    ],
)
def test_an_expression_matches_the_minutes_it_names(expression, when, expected):
    assert cron_matches(expression, when) is expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "expected 5 fields"),
        ("* * * * * *", "expected 5 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside 0-23"),
        ("* * 0 * *", "day of month: 0 is outside 1-31"),
        ("* * * 13 *", "month: 13 is outside 1-12"),
        ("* * * * 8", "day of week: 8 is outside 0-7"),
        ("*/0 * * * *", "minute: 0 is outside 1-59"),
        ("*/ * * * *", "minute: '' is not a number"),
        ("30-10 * * * *", "minute: range '30-10' runs backwards"),
        ("a * * * *", "minute: 'a' is not a number"),
        ("1,,2 * * * *", "minute: '' is not a number"),
        ("@daily", "expected 5 fields"),
    ],
)
def test_a_bad_expression_is_refused_naming_the_field(expression, message):
    with pytest.raises(CronInvalid) as caught:
        cron_parse(expression)
    assert message in str(caught.value)


def test_steps_and_lists_expand_to_the_expected_sets():
    cron = cron_parse("*/20 0-6/3 1,15 */6 1-5")
    assert cron.minutes == {0, 20, 40}
    assert cron.hours == {0, 3, 6}
    assert cron.days == {1, 15}
    assert cron.months == {1, 7}
    assert cron.weekdays == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 0 31 2 *", "never fires: no day 31 in February"),
        ("0 0 30,31 2 *", "never fires: no day 30, 31 in February"),
        ("0 0 31 4,6,9,11 *", "never fires: no day 31 in April, June, September, November"),
    ],
)
def test_an_expression_that_can_never_fire_is_refused(expression, message):
    with pytest.raises(CronInvalid, match=message):
        cron_parse(expression)


@pytest.mark.parametrize("expression", ["0 0 29 2 *", "0 0 31 2 1", "0 0 31 1-12 *", "0 0 */31 2 *"])
def test_rare_but_possible_expressions_are_kept(expression):
    cron_parse(expression)  # leap days; the 31st or a Monday; months with a 31st; the 1st
