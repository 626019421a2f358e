"""What the desk shows: a lead, queues, the pool, a lead's history, the activity report."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from uuid import UUID

import attrs

from leadflow.desk._base import Handler
from leadflow.errors import AmbiguousId, FieldError, NotFound, ValidationError, show_value
from leadflow.events import (
    Claimed,
    Decision,
    Event,
    LeadAssigned,
    LeadCreated,
    LeadEvent,
    LeadReassigned,
    NoteAdded,
    Released,
)
from leadflow.model import ContactDetails, Lead
from leadflow.queue import aging, ownership
from leadflow.queue import order as queue_order
from leadflow.reports import (
    Period,
    PeriodKind,
    ReportRow,
    StageSummary,
    activity_report,
    period_of,
    summarize,
)
from leadflow.routing.decision import describe

__all__ = ["ActivityReport", "QueuePage", "ViewHandler", "Why"]

_HEX = re.compile(r"[0-9a-f]+")
#: Where each group of a lead id's hex digits ends, dashes apart.
_ID_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
#: The most lead ids an ambiguous prefix lists.
_MOST_MATCHES = 1000


@attrs.frozen(kw_only=True)
class ActivityReport:
    """A Lead Management Activity Report: the period, its rows and the summaries."""

    period: Period
    rows: tuple[ReportRow, ...]
    per_assignee: tuple[StageSummary, ...]
    organization: StageSummary


@attrs.frozen(kw_only=True)
class QueuePage:
    """What a queue screen shows: the first entries, how many there are, who they are."""

    entries: tuple[queue_order.QueueEntry, ...]
    #: Entries in the whole queue (``len(entries)`` when it all fits).
    total: int
    #: The contact details of the shown entries' leads, by contact id.
    contacts: Mapping[UUID, ContactDetails]


@attrs.frozen(kw_only=True)
class Why:
    """Why a lead is where it is (:meth:`LeadDesk.why`).

    ``decision`` is the last routing decision made for the lead (when it was
    created, or routed again since), made at ``decided_at``; ``since`` the
    changes of hands after it (claims, releases, assignments by hand), one
    line each; ``assignee_id`` who holds the lead now.
    """

    lead_id: UUID
    assignee_id: int | None
    decision: Decision | None
    decided_at: datetime | None
    since: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """What a person reads: the decision, then what happened to the lead since."""
        shown = describe(self.decision) if self.decision is not None else ["no routing record"]
        holder = f"user {self.assignee_id}" if self.assignee_id is not None else "nobody"
        return [*shown, *self.since, f"now held by {holder}"]


#: The events after a routing decision that move a lead between hands.
_HANDS = (LeadReassigned, Claimed, Released, LeadAssigned)


class ViewHandler(Handler):
    """Reads: nothing here changes the store."""

    def why(self, lead_id: UUID) -> Why:
        """How routing decided where the lead went, and what moved it since."""
        with self.ctx.store.unit_of_work() as uow:
            lead = uow.get_lead(lead_id)
            events = uow.history(lead_id)
        decision: Decision | None = None
        decided_at: datetime | None = None
        since: list[str] = []
        created_with_decision = False
        for event in events:
            found = getattr(event, "decision", None)
            if isinstance(found, Decision):
                decision, decided_at, since = found, event.at, []
            elif isinstance(event, LeadAssigned) and created_with_decision:
                pass  # the new lead's assignment: what its decision says
            elif isinstance(event, _HANDS):
                when = event.at.isoformat(timespec="seconds")
                since.append(f"{when}: {event.describe()}")
            created_with_decision = isinstance(event, LeadCreated) and found is not None
        return Why(
            lead_id=lead.lead_id,
            assignee_id=lead.assignee_id,
            decision=decision,
            decided_at=decided_at,
            since=tuple(since),
        )

    def _aged(self, leads: Iterable[Lead], now: datetime) -> list[Lead]:
        """``leads`` as they are at ``now``, their aging rules applied: a view does not wait
        for the sweep."""
        return [aging.advance(lead, now, self.ctx.playbook).lead for lead in leads]

    def get_lead(self, lead_id: UUID) -> Lead:
        with self.ctx.store.unit_of_work() as uow:
            return uow.get_lead(lead_id)

    def queue(self, user_id: int, *, limit: int | None = 50) -> list[queue_order.QueueEntry]:
        """The user's call queue, in order, with reasons."""
        now = self.ctx.now()
        with self.ctx.store.unit_of_work() as uow:
            leads = self._aged(
                uow.leads_of_assignee(user_id, exclude_stages=self.ctx.terminal), now
            )
        return queue_order.build_queue(leads, user_id, now, self.ctx.playbook, limit=limit)

    def queue_page(self, user_id: int, *, limit: int | None = 50) -> QueuePage:
        """The first ``limit`` entries of the user's queue, how many it holds, their contacts."""
        entries = self.queue(user_id, limit=None)
        shown = entries if limit is None else entries[:limit]
        with self.ctx.store.unit_of_work() as uow:
            contacts = {
                e.lead.contact_id: uow.get_contact(e.lead.contact_id).details for e in shown
            }
        return QueuePage(entries=tuple(shown), total=len(entries), contacts=contacts)

    def resolve_lead_id(self, text: str) -> UUID:
        """The lead id ``text`` names: a whole id, or a unique prefix of 8 characters or more.

        Case and dashes do not matter (``0190F3A27C41`` is
        ``0190f3a2-7c41``). NotFound when no lead fits; :class:`AmbiguousId`
        (a NotFound) listing the ids when several do.
        """
        typed = text.strip().lower()
        try:
            return UUID(typed)
        except ValueError:
            pass
        digits = typed.replace("-", "")
        if len(digits) < 8 or not _HEX.fullmatch(digits):
            raise NotFound(
                f"{show_value(text)} is not a lead id: give the whole id or at least"
                " its first 8 characters"
            )
        prefix = "-".join(digits[a:b] for a, b in _ID_GROUPS if digits[a:b])
        if len(digits) in (8, 12, 16, 20) and typed.endswith("-"):
            prefix += "-"
        with self.ctx.store.unit_of_work() as uow:
            matches = uow.lead_ids_with_prefix(prefix, limit=_MOST_MATCHES)
        if not matches:
            raise NotFound(f"no lead id starts with {show_value(text)}")
        if len(matches) > 1:
            raise AmbiguousId(prefix, matches)
        return matches[0]

    def why_not(self, lead_id: UUID, user_id: int) -> queue_order.WhyNot | None:
        now = self.ctx.now()
        with self.ctx.store.unit_of_work() as uow:
            (lead,) = self._aged([uow.get_lead(lead_id)], now)
        return queue_order.why_not(lead, user_id, now, self.ctx.playbook)

    def pool(self, user_id: int, *, limit: int | None = 50) -> list[Lead]:
        """What anyone may take (the same for every user)."""
        self.ctx.user(user_id)
        now = self.ctx.now()
        with self.ctx.store.unit_of_work() as uow:
            pool_stages, terminal = self.ctx.playbook.pool_stages, self.ctx.terminal
            leads = self._aged(
                uow.pool_leads(pool_stages=pool_stages, exclude_stages=terminal), now
            )
        return ownership.pool(leads, self.ctx.playbook, limit=limit)

    def history(self, lead_id: UUID) -> list[Event]:
        """The lead's activity, in order."""
        with self.ctx.store.unit_of_work() as uow:
            uow.get_lead(lead_id)
            return uow.history(lead_id)

    def activity_report(self, kind: PeriodKind | str, day: date) -> ActivityReport:
        """The Lead Management Activity Report of the week or month containing ``day``.

        ``kind`` is ``weekly`` (Monday to Sunday) or ``monthly``, both in the
        organisation's time zone. Rows are the leads with activity in the
        period, oldest first; the stage flags, assignee and last outcome are
        read from each lead's history up to the end of the period, so a past
        period's report never changes.
        """
        try:
            period_kind = PeriodKind(kind)
        except ValueError:
            raise ValidationError(
                [FieldError("kind", kind, "must be 'weekly' or 'monthly'")]
            ) from None
        period = period_of(period_kind, day, self.ctx.timezone)
        with self.ctx.store.unit_of_work() as uow:
            events = uow.activity(start=period.start, end=period.end)
            lead_ids = {e.lead_id for e in events if isinstance(e, LeadEvent | NoteAdded)}
            lead_ids.discard(None)  # a note on a contact only
            leads = {i: uow.get_lead(i) for i in lead_ids if i is not None}
            contacts = {
                lead.contact_id: uow.get_contact(lead.contact_id) for lead in leads.values()
            }
            histories = {i: uow.history(i) for i in leads}
        rows = list(
            activity_report(
                period,
                events,
                leads,
                contacts,
                self.ctx.directory.users,
                self.ctx.playbook,
                organization_id=self.ctx.config.settings.organization_id,
                lead_events=histories,
            )
        )
        per_assignee, organization = summarize(rows)
        return ActivityReport(
            period=period,
            rows=tuple(rows),
            per_assignee=tuple(per_assignee),
            organization=organization,
        )
