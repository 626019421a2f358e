"""The activity report through the desk: periods in the org's zone, rows, summary, CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from desk_helpers import make_desk, row
from leadflow.errors import ValidationError
from leadflow.io.reports import SUMMARY_COLUMNS, write_report_rows, write_report_summary
from leadflow.model import Origin
from leadflow.reports import COLUMNS, FLAG_STAGES
from leadflow.storage.memory import MemoryStore

CHICAGO = ZoneInfo("America/Chicago")
# Monday 2026-03-09 in Chicago; the org in desk_helpers keeps its calendar there
MONDAY = datetime(2026, 3, 9, 9, 0, tzinfo=CHICAGO)


def seeded_week() -> tuple[object, list[object]]:
    store = MemoryStore()
    desk, clock = make_desk(store)
    clock.now = MONDAY
    made = []
    for i, (purpose, amount) in enumerate((("Purchase", "300000"), ("Purchase", "150000.50"))):
        created = desk.create_lead(
            row(f"P{i}", "Lead", loan_purpose=purpose, loan_amount=amount),
            source="purchased_leads",
            actor=None,
            origin=Origin.API,
        )
        assert created.lead is not None
        made.append(created.lead)
    first = made[0].lead_id
    clock.tick(days=1)
    desk.log_outcome(first, "spoke", actor=made[0].assignee_id or 1)
    clock.tick(days=1)
    desk.set_stage(first, "application_submitted", actor=made[0].assignee_id or 1)
    # Sunday 23:30 in Chicago is Monday in UTC, and still this week
    clock.now = datetime(2026, 3, 15, 23, 30, tzinfo=CHICAGO)
    desk.add_note(made[1].contact_id, "Called back Sunday night", actor=1, lead_id=made[1].lead_id)
    return desk, made


def test_the_weekly_report_has_the_seed_columns_and_the_flags_of_the_week() -> None:
    desk, made = seeded_week()
    report = desk.activity_report("weekly", date(2026, 3, 11))
    assert report.period.start == datetime(2026, 3, 9, tzinfo=CHICAGO)
    assert report.period.end == datetime(2026, 3, 16, tzinfo=CHICAGO)
    assert [r.lead_id for r in report.rows] == [lead.lead_id for lead in made]
    first = report.rows[0].as_dict()
    assert list(first) == list(COLUMNS)
    assert len(first) == 29
    reached = [flag for flag in FLAG_STAGES if first[flag] == "true"]
    assert reached == [
        "new_lead",
        "contact_attempted",
        "contacted",
        "application_started",
        "application_submitted",
    ]
    assert first["most_recent_outcome"]
    assert report.rows[1].as_dict()["application_submitted"] == "false"
    # the summary adds up to the rows
    total = report.organization
    assert total.units["new_lead"] == 2
    assert total.volume["new_lead"] == Decimal("450000.50")
    assert total.volume["application_submitted"] == Decimal("300000.00")
    for flag in FLAG_STAGES:
        assert sum(s.units[flag] for s in report.per_assignee) == total.units[flag]
        assert sum(s.volume[flag] for s in report.per_assignee) == total.volume[flag]


def test_the_next_week_and_the_month() -> None:
    desk, _ = seeded_week()
    assert desk.activity_report("weekly", date(2026, 3, 16)).rows == ()
    month = desk.activity_report("monthly", date(2026, 3, 31))
    assert month.period.start == datetime(2026, 3, 1, tzinfo=CHICAGO)
    assert len(month.rows) == 2
    with pytest.raises(ValidationError, match="weekly"):
        desk.activity_report("daily", date(2026, 3, 31))


def test_the_report_as_csv() -> None:
    desk, _ = seeded_week()
    report = desk.activity_report("weekly", date(2026, 3, 9))
    out = io.StringIO()
    assert write_report_rows(out, report.rows) == 2
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(lines[0]) == COLUMNS
    summary = io.StringIO()
    written = write_report_summary(
        summary, report.per_assignee, report.organization, desk.directory.users
    )
    table = list(csv.DictReader(io.StringIO(summary.getvalue())))
    assert written == len(table)
    assert tuple(table[0]) == SUMMARY_COLUMNS
    assert table[-1]["assigned_to_name"] == "organization"
    assert table[-1]["new_lead_volume"] == "450000.50"
    assert sum(int(line["new_lead_units"]) for line in table[:-1]) == 2
    assert timedelta(0) <= report.period.end - report.period.start
