"""The working-day calendar against the official 国务院办公厅 holiday arrangements.

Each year's expected days off and make-up working days below are typed in from the notice
itself (not from the ``holidays`` package), so the tests check the package's data, and this
library's reading of it, against the published text:

- 2023: 《国务院办公厅关于2023年部分节假日安排的通知》国办发明电〔2022〕16号
- 2024: 《国务院办公厅关于2024年部分节假日安排的通知》国办发明电〔2023〕7号
- 2025: 《国务院办公厅关于2025年部分节假日安排的通知》国办发明电〔2024〕12号
  (the first under the revised 《全国年节及纪念日放假办法》, 国务院令第795号: 除夕 and
  5月2日 became statutory holidays)
- 2026: 《国务院办公厅关于2026年部分节假日安排的通知》, dated 2025-11-04 (published by
  Xinhua the same day; gov.cn 公报 2025 issue 12406). The document number is not quoted
  here because it could not be confirmed.

Deadlines follow 《民法典》第201条: N working days "自…之日起" end on the Nth working day
after the trigger day; the trigger day never counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from yibao_credit.errors import CalendarError
from yibao_credit.time.calendar import WorkingCalendar, YearArrangement, default_calendar

D = date


@dataclass(frozen=True)
class Notice:
    """A year's arrangement as the notice prints it: ranges of days off, make-up days."""

    number: str | None
    off: tuple[tuple[date, date], ...]  # inclusive ranges "X日至Y日放假(调休)"
    work: tuple[date, ...]  # "X日（周六/周日）上班"

    def days_off(self) -> set[date]:
        days: set[date] = set()
        for first, last in self.off:
            day = first
            while day <= last:
                days.add(day)
                day += timedelta(days=1)
        return days


NOTICES: dict[int, Notice] = {
    2023: Notice(
        "国办发明电〔2022〕16号",
        off=(
            (D(2023, 1, 1), D(2023, 1, 2)),  # 元旦: 2022-12-31 至 2023-01-02
            (D(2023, 1, 21), D(2023, 1, 27)),  # 春节
            (D(2023, 4, 5), D(2023, 4, 5)),  # 清明节
            (D(2023, 4, 29), D(2023, 5, 3)),  # 劳动节
            (D(2023, 6, 22), D(2023, 6, 24)),  # 端午节
            (D(2023, 9, 29), D(2023, 10, 6)),  # 中秋节、国庆节
        ),
        work=(
            D(2023, 1, 28),
            D(2023, 1, 29),
            D(2023, 4, 23),
            D(2023, 5, 6),
            D(2023, 6, 25),
            D(2023, 10, 7),
            D(2023, 10, 8),
        ),
    ),
    2024: Notice(
        "国办发明电〔2023〕7号",
        off=(
            (D(2024, 1, 1), D(2024, 1, 1)),  # 元旦
            (D(2024, 2, 10), D(2024, 2, 17)),  # 春节 (除夕 2-9 only "encouraged")
            (D(2024, 4, 4), D(2024, 4, 6)),  # 清明节
            (D(2024, 5, 1), D(2024, 5, 5)),  # 劳动节
            (D(2024, 6, 10), D(2024, 6, 10)),  # 端午节
            (D(2024, 9, 15), D(2024, 9, 17)),  # 中秋节
            (D(2024, 10, 1), D(2024, 10, 7)),  # 国庆节
        ),
        work=(
            D(2024, 2, 4),
            D(2024, 2, 18),
            D(2024, 4, 7),
            D(2024, 4, 28),
            D(2024, 5, 11),
            D(2024, 9, 14),
            D(2024, 9, 29),
            D(2024, 10, 12),
        ),
    ),
    2025: Notice(
        "国办发明电〔2024〕12号",
        off=(
            (D(2025, 1, 1), D(2025, 1, 1)),  # 元旦
            (D(2025, 1, 28), D(2025, 2, 4)),  # 春节 (from 除夕)
            (D(2025, 4, 4), D(2025, 4, 6)),  # 清明节
            (D(2025, 5, 1), D(2025, 5, 5)),  # 劳动节
            (D(2025, 5, 31), D(2025, 6, 2)),  # 端午节
            (D(2025, 10, 1), D(2025, 10, 8)),  # 国庆节、中秋节
        ),
        work=(
            D(2025, 1, 26),
            D(2025, 2, 8),
            D(2025, 4, 27),
            D(2025, 9, 28),
            D(2025, 10, 11),
        ),
    ),
    2026: Notice(
        None,  # dated 2025-11-04; number not confirmed
        off=(
            (D(2026, 1, 1), D(2026, 1, 3)),  # 元旦
            (D(2026, 2, 15), D(2026, 2, 23)),  # 春节 (腊月二十八 至 正月初七)
            (D(2026, 4, 4), D(2026, 4, 6)),  # 清明节
            (D(2026, 5, 1), D(2026, 5, 5)),  # 劳动节
            (D(2026, 6, 19), D(2026, 6, 21)),  # 端午节
            (D(2026, 9, 25), D(2026, 9, 27)),  # 中秋节
            (D(2026, 10, 1), D(2026, 10, 7)),  # 国庆节
        ),
        work=(
            D(2026, 1, 4),
            D(2026, 2, 14),
            D(2026, 2, 28),
            D(2026, 5, 9),
            D(2026, 9, 20),
            D(2026, 10, 10),
        ),
    ),
}


def notice_says_working(notice: Notice, day: date) -> bool:
    """The notice's reading: make-up days work, listed days off rest, else Mon–Fri work."""
    if day in notice.work:
        return True
    if day in notice.days_off():
        return False
    return day.weekday() < 5


def days_of(year: int) -> list[date]:
    first = D(year, 1, 1)
    return [first + timedelta(days=i) for i in range((D(year + 1, 1, 1) - first).days)]


CAL = default_calendar()


# --- which years are carried ---------------------------------------------------------------


def test_package_carries_the_official_years_2001_to_2026() -> None:
    """holidays 0.109 holds 调休 data for 2001–2026; 2023–2026 are what the tests pin."""
    carried = CAL.carried_years()
    assert set(range(2001, 2027)) <= carried
    assert min(carried) == 2001
    assert carried == set(range(2001, max(carried) + 1))  # no holes
    for year in (2023, 2024, 2025, 2026):
        assert CAL.source(year).startswith("holidays ")


def test_default_calendar_is_built_once() -> None:
    assert default_calendar() is default_calendar()


# --- whole years against the notices ----------------------------------------------------------


@pytest.mark.parametrize("year", sorted(NOTICES))
def test_every_day_of_the_year_matches_the_notice(year: int) -> None:
    """2023 国办发明电〔2022〕16号; 2024 国办发明电〔2023〕7号; 2025 国办发明电〔2024〕12号;
    2026 the 国务院办公厅 notice of 2025-11-04. Every day of the year, one by one."""
    notice = NOTICES[year]
    wrong = [
        (day, CAL.is_working_day(day))
        for day in days_of(year)
        if CAL.is_working_day(day) != notice_says_working(notice, day)
    ]
    assert wrong == []


@pytest.mark.parametrize("year", sorted(NOTICES))
def test_make_up_days_fall_on_weekends_and_are_working_days(year: int) -> None:
    for day in NOTICES[year].work:
        assert day.weekday() >= 5, day
        assert CAL.is_working_day(day), day


# --- Spring Festival and National Day, spelled out ----------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # 2023 春节 1月21日至27日; 1月28日（周六）、1月29日（周日）上班. 国办发明电〔2022〕16号
        (D(2023, 1, 20), True),
        (D(2023, 1, 26), False),
        (D(2023, 1, 27), False),
        (D(2023, 1, 28), True),
        (D(2023, 1, 29), True),
        # 2023 中秋国庆 9月29日至10月6日; 10月7日（周六）、8日（周日）上班
        (D(2023, 9, 28), True),
        (D(2023, 9, 29), False),
        (D(2023, 10, 6), False),
        (D(2023, 10, 7), True),
        (D(2023, 10, 8), True),
        # 2024 春节 2月10日至17日; 2月4日（周日）、2月18日（周日）上班. 国办发明电〔2023〕7号
        (D(2024, 2, 4), True),
        (D(2024, 2, 9), True),  # 除夕, Friday: only "encouraged" to rest, officially a workday
        (D(2024, 2, 15), False),
        (D(2024, 2, 16), False),
        (D(2024, 2, 18), True),
        (D(2024, 2, 19), True),
        # 2024 国庆 10月1日至7日; 9月29日（周日）、10月12日（周六）上班
        (D(2024, 9, 29), True),
        (D(2024, 9, 30), True),
        (D(2024, 10, 4), False),
        (D(2024, 10, 7), False),
        (D(2024, 10, 8), True),
        (D(2024, 10, 12), True),
        # 2025 春节 1月28日（除夕）至2月4日; 1月26日（周日）、2月8日（周六）上班.
        # 国办发明电〔2024〕12号
        (D(2025, 1, 26), True),
        (D(2025, 1, 27), True),
        (D(2025, 1, 28), False),
        (D(2025, 2, 4), False),
        (D(2025, 2, 5), True),
        (D(2025, 2, 8), True),
        # 2025 国庆中秋 10月1日至8日; 9月28日（周日）、10月11日（周六）上班
        (D(2025, 9, 28), True),
        (D(2025, 10, 6), False),  # 中秋节 itself
        (D(2025, 10, 8), False),
        (D(2025, 10, 9), True),
        (D(2025, 10, 11), True),
        # 2026 春节 2月15日至23日; 2月14日（周六）、2月28日（周六）上班 (notice of 2025-11-04)
        (D(2026, 2, 13), True),
        (D(2026, 2, 14), True),
        (D(2026, 2, 16), False),
        (D(2026, 2, 20), False),
        (D(2026, 2, 23), False),
        (D(2026, 2, 24), True),
        (D(2026, 2, 28), True),
        # 2026 国庆 10月1日至7日; 9月20日（周日）、10月10日（周六）上班
        (D(2026, 9, 20), True),
        (D(2026, 9, 30), True),
        (D(2026, 10, 5), False),
        (D(2026, 10, 7), False),
        (D(2026, 10, 8), True),
        (D(2026, 10, 10), True),
    ],
)
def test_around_spring_festival_and_national_day(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


# --- counting deadlines -----------------------------------------------------------------------


def test_make_up_weekend_days_count_as_working_days() -> None:
    """2024-02-04 (Sun) and 2024-02-18 (Sun) were worked (国办发明电〔2023〕7号)."""
    assert CAL.add_working_days(D(2024, 2, 2), 1) == D(2024, 2, 4)  # Sat 2-3 skipped
    # From Fri 2-9 (除夕, a working day): 2-10..2-17 off, Sun 2-18 is the first working day.
    assert CAL.add_working_days(D(2024, 2, 9), 1) == D(2024, 2, 18)
    assert CAL.add_working_days(D(2024, 2, 9), 2) == D(2024, 2, 19)


def test_the_trigger_day_never_counts() -> None:
    """民法典第201条: the period starts the day after the trigger day, even a working one."""
    assert CAL.is_working_day(D(2024, 10, 8))
    assert CAL.add_working_days(D(2024, 10, 8), 1) == D(2024, 10, 9)
    assert CAL.is_working_day(D(2024, 9, 30))
    assert CAL.add_working_days(D(2024, 9, 30), 1) == D(2024, 10, 8)
    # a make-up working day as trigger day does not count either
    assert CAL.add_working_days(D(2024, 9, 29), 1) == D(2024, 9, 30)
    # a trigger day inside the holiday
    assert CAL.add_working_days(D(2024, 10, 1), 1) == D(2024, 10, 8)


def test_ten_working_day_objection_window_across_national_day_2024() -> None:
    """A result notified on Fri 2024-09-27; objections within 10 working days.

    By hand, from 国办发明电〔2023〕7号 (国庆 10月1日至7日; 9月29日周日、10月12日周六上班):
      9-27 Fri  trigger day, not counted
      9-28 Sat  rest
      9-29 Sun  make-up working day ....... 1
      9-30 Mon ............................ 2
      10-1 Tue .. 10-7 Mon  国庆 days off (10-4 and 10-7 moved from 9-29 and 10-12)
      10-8 Tue 3, 10-9 Wed 4, 10-10 Thu 5, 10-11 Fri 6
      10-12 Sat make-up working day ....... 7
      10-13 Sun rest
      10-14 Mon 8, 10-15 Tue 9, 10-16 Wed 10  -> deadline 2024-10-16
    """
    deadline = CAL.add_working_days(D(2024, 9, 27), 10)
    assert deadline == D(2024, 10, 16)
    assert CAL.working_days_between(D(2024, 9, 27), deadline) == 10
    # and one day later the window has passed
    assert CAL.working_days_between(D(2024, 9, 27), D(2024, 10, 17)) == 11


def test_explain_add_across_national_day_2024() -> None:
    steps = CAL.explain_add(D(2024, 9, 27), 10)
    assert [day for day, _ in steps] == [
        D(2024, 9, 27) + timedelta(days=i)
        for i in range((D(2024, 10, 16) - D(2024, 9, 27)).days + 1)
    ]
    reasons = dict(steps)
    assert reasons[D(2024, 9, 27)] == "trigger day, not counted"
    assert reasons[D(2024, 9, 28)] == "weekend"
    assert reasons[D(2024, 9, 29)] == "make-up working day, working day 1/10"
    assert reasons[D(2024, 9, 30)] == "working day 2/10"
    assert reasons[D(2024, 10, 1)] == "holiday: 国庆节"
    assert reasons[D(2024, 10, 4)].startswith("holiday: ")
    assert "2024-09-29" in reasons[D(2024, 10, 4)]  # moved from the make-up day
    assert reasons[D(2024, 10, 12)] == "make-up working day, working day 7/10"
    assert reasons[D(2024, 10, 13)] == "weekend"
    assert reasons[D(2024, 10, 16)] == "working day 10/10"


def test_explain_add_names_a_holiday_on_a_weekend() -> None:
    """2024 春节 starts on Sat 2-10, a statutory holiday, not merely a weekend."""
    reasons = dict(CAL.explain_add(D(2024, 2, 9), 1))
    assert reasons[D(2024, 2, 10)] == "holiday: 春节"
    assert reasons[D(2024, 2, 17)] == "weekend"
    assert reasons[D(2024, 2, 18)] == "make-up working day, working day 1/1"


def test_deadline_across_spring_festival_2025() -> None:
    """Trigger Fri 2025-01-24, 10 working days (国办发明电〔2024〕12号):
    1-25 Sat rest; 1-26 Sun make-up 1; 1-27 Mon 2; 1-28..2-4 off; 2-5 3, 2-6 4, 2-7 5;
    2-8 Sat make-up 6; 2-9 Sun rest; 2-10 7, 2-11 8, 2-12 9, 2-13 10."""
    assert CAL.add_working_days(D(2025, 1, 24), 10) == D(2025, 2, 13)


def test_deadline_across_new_year_2026() -> None:
    """Trigger Wed 2025-12-24, 10 working days: 12-25 1, 12-26 2, 12-29 3, 12-30 4, 12-31 5;
    2026-01-01..03 元旦 off; Sun 01-04 make-up 6; 01-05 7, 01-06 8, 01-07 9, 01-08 10
    (2026 notice of 2025-11-04)."""
    assert CAL.add_working_days(D(2025, 12, 24), 10) == D(2026, 1, 8)
    assert CAL.working_days_between(D(2025, 12, 24), D(2026, 1, 8)) == 10


def test_working_days_between_is_signed() -> None:
    """Reversed ranges give the negative count of the reversed range (a signed difference)."""
    a, b = D(2024, 9, 27), D(2024, 10, 16)
    assert CAL.working_days_between(a, b) == 10
    assert CAL.working_days_between(b, a) == -10
    assert CAL.working_days_between(a, a) == 0
    assert CAL.working_days_between(D(2024, 9, 30), D(2024, 10, 7)) == 0  # all off


@pytest.mark.parametrize("n", [0, -1])
def test_n_must_be_positive(n: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CAL.add_working_days(D(2024, 1, 2), n)
    with pytest.raises(ValueError, match="at least 1"):
        CAL.explain_add(D(2024, 1, 2), n)


# --- years not carried -------------------------------------------------------------------------


def first_uncarried_year() -> int:
    return max(CAL.carried_years()) + 1


def test_a_year_not_carried_is_refused_with_the_year_named() -> None:
    year = first_uncarried_year()  # 2027 with holidays 0.109
    with pytest.raises(CalendarError) as info:
        CAL.is_working_day(D(year, 3, 1))
    (problem,) = info.value.problems
    assert problem.code == "calendar.year-not-published"
    assert str(year) in problem.message
    assert "国务院办公厅" in problem.message
    assert "November/December" in problem.message
    assert "pack" in problem.message
    with pytest.raises(CalendarError, match=str(year)):
        CAL.source(year)


def test_a_deadline_running_into_an_uncarried_year_is_refused() -> None:
    year = first_uncarried_year()
    with pytest.raises(CalendarError, match=str(year)):
        CAL.add_working_days(D(year - 1, 12, 20), 30)
    with pytest.raises(CalendarError, match=str(year)):
        CAL.working_days_between(D(year - 1, 12, 20), D(year, 1, 20))


def test_years_before_the_package_data_are_refused() -> None:
    with pytest.raises(CalendarError, match="2000"):
        CAL.is_working_day(D(2000, 6, 1))


def test_only_the_days_after_the_trigger_day_are_consulted() -> None:
    """A trigger on 2000-12-31 needs only 2001 (元旦 2001-01-01 was a Monday)."""
    assert CAL.add_working_days(D(2000, 12, 31), 1) == D(2001, 1, 2)
    assert CAL.working_days_between(D(2000, 12, 31), D(2001, 1, 2)) == 1


def test_the_end_of_time_is_an_uncarried_year_not_an_overflow() -> None:
    with pytest.raises(CalendarError, match="10000"):
        CAL.add_working_days(date.max, 1)


# --- arrangements supplied by a pack ----------------------------------------------------------

# A made-up arrangement for tests only; it is NOT any year's official arrangement.
FAKE_NOTICE = "测试用安排（非官方）"


def fake_arrangement(year: int) -> YearArrangement:
    jan1 = D(year, 1, 1)
    # first Saturday of March is the (fictional) make-up day; Jan 1 and the next weekday off
    first_sat = D(year, 3, 1) + timedelta(days=(5 - D(year, 3, 1).weekday()) % 7)
    return YearArrangement(
        year=year,
        notice=FAKE_NOTICE,
        days_off=[jan1, jan1 + timedelta(days=1)],
        workdays=[first_sat],
    )


def test_a_supplied_arrangement_makes_the_year_usable() -> None:
    year = first_uncarried_year()
    arrangement = fake_arrangement(year)
    cal = WorkingCalendar([arrangement])
    assert year in cal.carried_years()
    assert cal.source(year) == FAKE_NOTICE
    for day in arrangement.days_off:
        if day.weekday() < 5:
            assert not cal.is_working_day(day)
    (make_up,) = arrangement.workdays
    assert cal.is_working_day(make_up)
    assert cal.add_working_days(make_up - timedelta(days=1), 1) == make_up
    assert dict(cal.explain_add(make_up - timedelta(days=1), 1))[make_up] == (
        "make-up working day, working day 1/1"
    )
    # a deadline can now run from the last carried year into it
    assert cal.add_working_days(D(year - 1, 12, 20), 30) > D(year, 1, 1)
    # the shared default calendar is unchanged
    assert year not in CAL.carried_years()


def test_a_supplied_arrangement_overrides_the_package_for_its_year() -> None:
    """Override 2024 with the official data plus one extra (fictional) day off, 2024-10-08."""
    official = NOTICES[2024]
    extra = D(2024, 10, 8)
    override = YearArrangement(
        year=2024,
        notice=FAKE_NOTICE,
        days_off=sorted(official.days_off() | {extra}),
        workdays=list(official.work),
    )
    cal = WorkingCalendar([override])
    assert cal.source(2024) == FAKE_NOTICE
    assert cal.source(2023).startswith("holidays ")
    assert not cal.is_working_day(extra)
    assert CAL.is_working_day(extra)
    assert cal.add_working_days(D(2024, 9, 27), 10) == D(2024, 10, 17)
    reasons = dict(cal.explain_add(D(2024, 9, 27), 10))
    assert reasons[extra] == f"holiday: day off per {FAKE_NOTICE}"
    # everything else of 2024 still matches the notice
    for day in days_of(2024):
        if day != extra:
            assert cal.is_working_day(day) == notice_says_working(official, day), day


def test_an_override_with_the_official_data_changes_nothing() -> None:
    official = NOTICES[2025]
    same = WorkingCalendar(
        [
            YearArrangement(
                year=2025,
                notice="国办发明电〔2024〕12号",
                days_off=sorted(official.days_off()),
                workdays=list(official.work),
            )
        ]
    )
    assert same.source(2025) == "国办发明电〔2024〕12号"
    assert all(same.is_working_day(d) == CAL.is_working_day(d) for d in days_of(2025))


def test_two_arrangements_for_one_year_are_refused() -> None:
    with pytest.raises(ValueError, match="2030"):
        WorkingCalendar([fake_arrangement(2030), fake_arrangement(2030)])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"days_off": [D(2028, 1, 1)]}, "outside 2027"),
        ({"workdays": [D(2026, 12, 26)]}, "outside 2027"),
        ({"workdays": [D(2027, 1, 4)]}, "Saturday or Sunday"),  # a Monday
        ({"days_off": [D(2027, 1, 1), D(2027, 1, 2)], "workdays": [D(2027, 1, 2)]}, "both"),
        ({"source": "x"}, "Extra inputs are not permitted"),
        ({"days_off": []}, "at least 1"),
        ({"notice": ""}, "at least 1"),
    ],
)
def test_year_arrangement_validation(fields: dict[str, object], message: str) -> None:
    data: dict[str, object] = {"year": 2027, "notice": FAKE_NOTICE, "days_off": [D(2027, 1, 1)]}
    data.update(fields)
    with pytest.raises(ValidationError, match=message):
        YearArrangement.model_validate(data)


def test_year_arrangement_reads_iso_dates() -> None:
    """As a pack gives it (YAML/JSON strings)."""
    arrangement = YearArrangement.model_validate(
        {"year": 2027, "notice": FAKE_NOTICE, "days_off": ["2027-01-01"], "workdays": []}
    )
    assert arrangement.days_off == [D(2027, 1, 1)]


# --- properties -------------------------------------------------------------------------------

_LAST = max(CAL.carried_years())
starts = st.dates(min_value=D(2001, 1, 1), max_value=D(_LAST, 10, 31))
counts = st.integers(min_value=1, max_value=40)


def brute_force_add(start: date, n: int) -> date:
    """An independent oracle: step day by day with is_working_day."""
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        counted += CAL.is_working_day(day)
    return day


@given(starts, counts)
def test_add_lands_on_a_working_day_after_start_n_working_days_on(start: date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert end > start
    assert CAL.is_working_day(end)
    assert CAL.working_days_between(start, end) == n
    assert end == brute_force_add(start, n)


@given(starts, counts)
def test_add_is_strictly_monotone_in_n(start: date, n: int) -> None:
    assert CAL.add_working_days(start, n) < CAL.add_working_days(start, n + 1)


# Offsets of up to 90 days either way must stay inside the carried years.
inner_starts = st.dates(min_value=D(2001, 4, 1), max_value=D(_LAST, 9, 30))


@given(
    inner_starts, st.integers(min_value=-90, max_value=90), st.integers(min_value=-90, max_value=90)
)
def test_between_is_a_signed_additive_difference(start: date, i: int, j: int) -> None:
    b, c = start + timedelta(days=i), start + timedelta(days=j)
    assert CAL.working_days_between(start, b) + CAL.working_days_between(
        b, c
    ) == CAL.working_days_between(start, c)
    assert CAL.working_days_between(b, start) == -CAL.working_days_between(start, b)
    if i >= 0:
        brute = sum(CAL.is_working_day(start + timedelta(days=k)) for k in range(1, i + 1))
        assert CAL.working_days_between(start, b) == brute


@settings(max_examples=50)
@given(starts, counts)
def test_explain_add_walks_every_day_to_the_deadline(start: date, n: int) -> None:
    steps = CAL.explain_add(start, n)
    end = CAL.add_working_days(start, n)
    assert [day for day, _ in steps] == [
        start + timedelta(days=i) for i in range((end - start).days + 1)
    ]
    assert steps[0] == (start, "trigger day, not counted")
    counted = [reason for _, reason in steps if "working day" in reason]
    assert len(counted) == n
    assert counted[-1].endswith(f"working day {n}/{n}")
    for day, reason in steps[1:]:
        assert ("working day" in reason) == CAL.is_working_day(day)
