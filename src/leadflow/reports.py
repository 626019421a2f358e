"""The Lead Management Activity Report, weekly and monthly (DESIGN D11).

One row per lead with activity in the period, with exactly the seed's 29
columns in the seed's order (:data:`COLUMNS`), and a summary per assignee
and for the whole organisation: how many leads reached each stage, and their
loan volume.

Everything is computed from the activity log up to the end of the period,
so a report for last week reads the same next month: the stage flags mean
"reached this stage (or a later one) by the end of the period", the assignee
is the one holding the lead at the end of the period, and the most recent
outcome is the last one logged before it ends. ``contact_attempted`` is also
set by any outbound attempt logged, as the seed defines it.

Periods are calendar periods in the organisation's time zone: a week runs
Monday 00:00 to the next Monday 00:00, a month from its first day to the
next month's. The module is pure: the caller passes the events, leads,
contacts and users.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from uuid import UUID

import attrs
from dateutil.relativedelta import relativedelta

from leadflow.errors import FieldError, ValidationError
from leadflow.events import (
    Claimed,
    Event,
    LeadAssigned,
    LeadCreated,
    LeadEvent,
    LeadReassigned,
    LeadStageChanged,
    NoteAdded,
    OutcomeLogged,
    Released,
)
from leadflow.ids import EARLIEST_MOMENT, LATEST_MOMENT
from leadflow.model import Contact, Lead, User
from leadflow.stages.playbook import Playbook

__all__ = [
    "COLUMNS",
    "FLAG_STAGES",
    "Period",
    "PeriodKind",
    "ReportRow",
    "StageSummary",
    "activity_report",
    "period_of",
    "summarize",
]

#: The report's columns, exactly as the seed lists them, in its order.
COLUMNS: tuple[str, ...] = (
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
)

#: Each stage flag column and the lead-management stage it stands for.
FLAG_STAGES: Mapping[str, str] = {
    "new_lead": "new",
    "contact_attempted": "contact_attempted",
    "contacted": "engaged",
    "application_started": "application_started",
    "application_submitted": "application_submitted",
    "pre_approved": "pre_approved",
    "in_process": "in_process",
    "closed": "closed",
}


class PeriodKind(enum.StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@attrs.frozen
class Period:
    """A report period: ``start <= at < end``, in the organisation's time zone."""

    kind: PeriodKind
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        last = (self.end - timedelta(days=1)).date()
        return f"{self.kind} {self.start.date().isoformat()} to {last.isoformat()}"


def period_of(kind: PeriodKind, day: date, timezone: tzinfo) -> Period:
    """The week (Monday to Sunday) or month containing ``day``, in ``timezone``.

    ``day`` is in the range of :data:`leadflow.ids.EARLIEST_MOMENT` ..
    ``LATEST_MOMENT``; another is a :class:`ValidationError` naming ``day``.
    """
    if not EARLIEST_MOMENT.date() <= day <= LATEST_MOMENT.date():
        raise ValidationError(
            [FieldError("day", day.isoformat(), "must be between 1970-01-01 and 2999-12-31")]
        )
    if kind is PeriodKind.WEEKLY:
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = first + relativedelta(months=1)
    return Period(
        kind,
        datetime(first.year, first.month, first.day, tzinfo=timezone),
        datetime(last.year, last.month, last.day, tzinfo=timezone),
    )


@attrs.frozen(kw_only=True)
class ReportRow:
    """One lead's line: ``values`` holds the 29 columns as text, in :data:`COLUMNS` order."""

    lead_id: UUID
    assignee_id: int | None
    loan_amount: Decimal | None
    flags: Mapping[str, bool]
    values: tuple[str, ...]

    def as_dict(self) -> dict[str, str]:
        return dict(zip(COLUMNS, self.values, strict=True))


@attrs.frozen
class StageSummary:
    """Units and loan volume per stage flag, for one assignee (or the whole organisation)."""

    assignee_id: int | None
    units: Mapping[str, int]
    volume: Mapping[str, Decimal]


def _yes(flag: bool) -> str:
    return "true" if flag else "false"


@attrs.frozen
class _State:
    stages: frozenset[str]
    attempted: bool
    assignee: int | None
    outcome: str | None


def _state_at_end(lead: Lead, events: list[Event], end: datetime) -> _State:
    stages: set[str] = set()
    attempted = False
    assignee: int | None = None
    outcome: str | None = None
    for event in events:
        if event.at >= end:
            continue
        if isinstance(event, LeadCreated):
            stages.add(event.stage)
        elif isinstance(event, LeadStageChanged):
            stages.update((event.from_stage, event.to_stage))
        elif isinstance(event, OutcomeLogged):
            outcome = event.disposition
            attempted = attempted or event.contact_attempt
        elif isinstance(event, LeadAssigned):
            assignee = event.assignee_id
        elif isinstance(event, LeadReassigned):
            assignee = event.to_assignee
        elif isinstance(event, Claimed):
            assignee = event.user_id
        elif isinstance(event, Released):
            assignee = None
    if not stages:
        stages.add(lead.stage)
    return _State(frozenset(stages), attempted, assignee, outcome)


def _flags(playbook: Playbook, state: _State) -> dict[str, bool]:
    reached = max(
        (playbook.stage(s).order for s in state.stages if playbook.has_stage(s)), default=0
    )
    flags = {}
    for column, key in FLAG_STAGES.items():
        flags[column] = playbook.has_stage(key) and reached >= playbook.stage(key).order
    flags["contact_attempted"] = flags["contact_attempted"] or state.attempted
    return flags


def activity_report(
    period: Period,
    events: Iterable[Event],
    leads: Mapping[UUID, Lead],
    contacts: Mapping[UUID, Contact],
    users: Mapping[int, User],
    playbook: Playbook,
    *,
    organization_id: str,
    lead_events: Mapping[UUID, list[Event]] | None = None,
) -> Iterator[ReportRow]:
    """The report's rows for ``period``, one per lead with activity in it, oldest lead first.

    ``events`` are the events of the period (any order); ``lead_events``
    gives each reported lead's whole history up to now (default: the
    period's events only, enough when every lead was created in the period).
    """
    if period.start.tzinfo is None or period.end.tzinfo is None:
        raise ValidationError([FieldError("period", period, "needs timezone-aware bounds")])
    active: set[UUID] = set()
    in_period: dict[UUID, list[Event]] = defaultdict(list)
    for event in events:
        if not period.start <= event.at < period.end:
            continue
        lead_id = event.lead_id if isinstance(event, LeadEvent | NoteAdded) else None
        if lead_id is not None:
            active.add(lead_id)
            in_period[lead_id].append(event)
    histories = lead_events if lead_events is not None else in_period
    ordered = sorted(
        (leads[i] for i in active if i in leads), key=lambda lead: (lead.created_at, lead.lead_id)
    )
    for lead in ordered:
        state = _state_at_end(lead, histories.get(lead.lead_id, []), period.end)
        flags = _flags(playbook, state)
        contact = contacts.get(lead.contact_id)
        user = users.get(state.assignee) if state.assignee is not None else None
        a = lead.attributes
        outcome = ""
        if state.outcome is not None:
            found = next((d for d in playbook.dispositions if d.key == state.outcome), None)
            outcome = found.label if found else state.outcome
        values = (
            organization_id,
            str(lead.lead_id),
            str(lead.contact_id),
            contact.details.first_name if contact else "",
            contact.details.last_name if contact else "",
            (contact.details.email or "") if contact else "",
            (contact.details.cell_phone or "") if contact else "",
            str(lead.origin),
            a.source,
            lead.created_at.isoformat(),
            str(a.loan_purpose),
            f"{a.loan_amount:.2f}" if a.loan_amount is not None else "",
            a.referred_by or "",
            str(state.assignee) if state.assignee is not None else "",
            user.first_name if user else "",
            user.last_name if user else "",
            user.email if user else "",
            str(user.role) if user else "",
            ("active" if user.active else "inactive") if user else "",
            ";".join(sorted(user.teams)) if user else "",
            *(_yes(flags[column]) for column in FLAG_STAGES),
            outcome,
        )
        yield ReportRow(
            lead_id=lead.lead_id,
            assignee_id=state.assignee,
            loan_amount=a.loan_amount,
            flags=flags,
            values=values,
        )


def summarize(rows: Iterable[ReportRow]) -> tuple[list[StageSummary], StageSummary]:
    """Per assignee (by user id, unassigned last) and organisation-wide: units and volume."""
    units: dict[int | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FLAG_STAGES, 0))
    volume: dict[int | None, dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(FLAG_STAGES, Decimal("0.00"))
    )
    total_units = dict.fromkeys(FLAG_STAGES, 0)
    total_volume = dict.fromkeys(FLAG_STAGES, Decimal("0.00"))
    for row in rows:
        amount = row.loan_amount or Decimal("0.00")
        for column, reached in row.flags.items():
            if reached:
                units[row.assignee_id][column] += 1
                volume[row.assignee_id][column] += amount
                total_units[column] += 1
                total_volume[column] += amount
    keys = sorted(units, key=lambda k: (k is None, k or 0))
    per_assignee = [StageSummary(k, units[k], volume[k]) for k in keys]
    return per_assignee, StageSummary(None, total_units, total_volume)
