"""The Lead Management Activity Report (DESIGN D11, the seed's 29 columns)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from desk_helpers import make_desk, row
from leadflow.io.csvsafe import safe_cell, write_csv
from leadflow.reports import COLUMNS, PeriodKind, activity_report, period_of, summarize
from leadflow.storage.memory import MemoryStore

SEED_COLUMNS = [
    "organization_id",
    "lead_id",
    "contact_id",
    "lead_first_name",
    "lead_last_name",
    "lead_email",
    "lead_mobile_phone",
    "lead_origin",
    "lead_source",
    "lead_created_at",
    "loan_purpose",
    "loan_amount",
    "referred_by",
    "assigned_to_user_id",
    "assigned_to_first_name",
    "assigned_to_last_name",
    "assigned_to_email",
    "assigned_to_user_role",
    "assigned_to_user_status",
    "assigned_to_user_teams",
    "new_lead",
    "contact_attempted",
    "contacted",
    "application_started",
    "application_submitted",
    "pre_approved",
    "in_process",
    "closed",
    "most_recent_outcome",
]


def test_exactly_the_seed_columns_in_order() -> None:
    assert list(COLUMNS) == SEED_COLUMNS
    assert len(COLUMNS) == 29


def test_periods_are_calendar_weeks_and_months_in_the_org_zone() -> None:
    chicago = ZoneInfo("America/Chicago")
    week = period_of(PeriodKind.WEEKLY, date(2026, 3, 12), chicago)
    assert week.start == datetime(2026, 3, 9, tzinfo=chicago)
    assert week.end == datetime(2026, 3, 16, tzinfo=chicago)
    assert week.label == "weekly 2026-03-09 to 2026-03-15"
    month = period_of(PeriodKind.MONTHLY, date(2026, 2, 14), chicago)
    assert (month.start.date(), month.end.date()) == (date(2026, 2, 1), date(2026, 3, 1))


def test_a_seeded_week() -> None:
    store = MemoryStore()
    desk, clock = make_desk(store)
    # Tuesday 10 March 2026, 15:00 UTC (10:00 in Chicago)
    a = desk.create_lead(
        row("Annie", "Quince", loan_amount="$300,000"), source="purchased_leads", actor=None
    )
    b = desk.create_lead(
        row("Bob", "Stone", loan_amount="100000"), source="purchased_leads", actor=None
    )
    assert a.lead is not None
    assert b.lead is not None
    clock.tick(hours=1)
    desk.log_outcome(a.lead.lead_id, "inbound_call", actor=2)  # New -> Engaged, no attempt
    clock.tick(days=1)
    desk.set_stage(a.lead.lead_id, "application_submitted", actor=2)
    desk.log_outcome(b.lead.lead_id, "left_vm", actor=3)
    clock.tick(days=7)  # next week: must not count
    desk.set_stage(a.lead.lead_id, "pre_approved", actor=2)

    period = period_of(PeriodKind.WEEKLY, date(2026, 3, 10), ZoneInfo("America/Chicago"))
    with store.unit_of_work() as uow:
        events = uow.activity(start=period.start, end=period.end)
        leads = {
            lead.lead_id: lead
            for lead in (uow.get_lead(a.lead.lead_id), uow.get_lead(b.lead.lead_id))
        }
        contacts = {
            c.contact_id: c for c in (uow.get_contact(lead.contact_id) for lead in leads.values())
        }
    users = {u.user_id: u for u in desk.config.users}
    rows = list(
        activity_report(
            period, events, leads, contacts, users, desk.playbook, organization_id="acme"
        )
    )
    assert [r.lead_id for r in rows] == [a.lead.lead_id, b.lead.lead_id]
    annie = rows[0].as_dict()
    assert annie["lead_first_name"] == "Annie"
    assert annie["assigned_to_email"] == "maria@example.com"
    assert annie["assigned_to_user_teams"] == "west"
    assert annie["loan_amount"] == "300000.00"
    assert annie["lead_origin"] == "manual"
    flags = {k: annie[k] for k in SEED_COLUMNS[20:28]}
    assert flags == {
        "new_lead": "true",
        "contact_attempted": "true",  # reached a later stage
        "contacted": "true",
        "application_started": "true",
        "application_submitted": "true",
        "pre_approved": "false",  # happened next week
        "in_process": "false",
        "closed": "false",
    }
    assert annie["most_recent_outcome"] == "Inbound call"
    bob = rows[1].as_dict()
    assert (bob["contact_attempted"], bob["contacted"], bob["most_recent_outcome"]) == (
        "true",
        "false",
        "Left vm",
    )
    per_user, org = summarize(rows)
    assert [s.assignee_id for s in per_user] == [2, 3]
    assert org.units["new_lead"] == 2
    assert org.units["application_submitted"] == 1
    assert org.volume["new_lead"] == Decimal("400000.00")
    assert org.volume["application_submitted"] == Decimal("300000.00")
    assert sum(s.volume["new_lead"] for s in per_user) == org.volume["new_lead"]

    out = io.StringIO()
    count = write_csv(out, COLUMNS, (r.values for r in rows))
    assert count == 2
    parsed = list(csv.reader(io.StringIO(out.getvalue())))
    assert parsed[0] == SEED_COLUMNS
    assert len(parsed) == 3


def test_formula_injection_is_neutralised() -> None:
    assert safe_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    for bad in ("+1 555", "-1+1", "@SUM(A1)", "\tx"):
        assert safe_cell(bad).startswith("'")
    assert safe_cell("+1") == "+1"
    assert safe_cell("+15551234567") == "+15551234567"
    assert safe_cell("Annie") == "Annie"
    out = io.StringIO()
    write_csv(out, ["name"], [["=1+1"]])
    assert out.getvalue().splitlines()[1] == "'=1+1"


def test_events_outside_the_period_make_no_row() -> None:
    store = MemoryStore()
    desk, _ = make_desk(store)
    created = desk.create_lead(row(), source="purchased_leads", actor=None)
    assert created.lead is not None
    period = period_of(PeriodKind.WEEKLY, date(2026, 3, 2), UTC)
    with store.unit_of_work() as uow:
        events = uow.activity(
            start=period.start - timedelta(days=30), end=period.end + timedelta(days=30)
        )
    rows = list(
        activity_report(
            period,
            events,
            {created.lead.lead_id: created.lead},
            {},
            {},
            desk.playbook,
            organization_id="o",
        )
    )
    assert rows == []
