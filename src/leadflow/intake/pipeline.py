"""The intake pipeline: the one way a lead is created.

Rows (raw mappings, a file's cells, or already validated drafts) go through
the same steps, a chunk at a time, each chunk in one unit of work::

    validate -> drop duplicates (source + external id) -> match the contact (D2)
    -> route (D7) -> build the lead, contact, events, exception record, message
    and jobs -> hand them to the unit of work in one call

A single lead (:meth:`LeadDesk.create_lead`) is a chunk of one; an import
and ``leadflow route`` are many chunks; a journey's action is a chunk of one
inside the job's own unit of work; a dry run is the same pipeline over a
throwaway store (:class:`~leadflow.intake.dry.DryStore`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Literal, NamedTuple
from uuid import UUID

import attrs

from leadflow.errors import FieldError, LeadflowError, ValidationError
from leadflow.intake.records import Contacts, IntakeUnit, Records, StoreUnit
from leadflow.model import SYSTEM, Actor, Contact, Lead, Origin, User
from leadflow.routing.engine import Outcome, Router, RoutingResult
from leadflow.validate import LeadDraft, RowValidator

if TYPE_CHECKING:
    from leadflow.command import CommandContext

__all__ = [
    "CreateResult",
    "ImportReport",
    "Intake",
    "Pipeline",
    "RowOutcome",
    "Status",
    "validated",
]

Status = Literal["assigned", "unassigned", "rejected", "duplicate"]

#: A row of a chunk: its number (``None`` for a lone lead), the row as given, and its
#: draft or the error that refused it.
Item = tuple[int | None, object, "LeadDraft | ValidationError"]


@attrs.frozen(kw_only=True)
class Intake:
    """Who creates the leads of one intake run, and how.

    ``source`` is every lead's source; ``actor`` the user creating them or
    the system actor; ``origin`` how they came. ``assign_to`` assigns every
    lead to one user instead of routing it; ``contact_id`` attaches every
    lead to that contact; ``via`` is the user acted for; ``depth`` is how
    many automations led to these leads (for loop cutting).
    """

    source: str
    actor: Actor = SYSTEM
    origin: Origin = Origin.IMPORT
    assign_to: int | None = None
    contact_id: UUID | None = None
    via: int | None = None
    depth: int = 0


@attrs.frozen(kw_only=True)
class CreateResult:
    """What :meth:`LeadDesk.create_lead` did.

    ``outcome`` is the routing outcome (``assigned``, ``offered``,
    ``unassigned``, ``held``) or ``rejected`` (nothing stored, ``lead`` is
    ``None``). ``duplicate`` is set when the lead's external id was already
    stored for its source (nothing new stored; ``lead`` is the existing one).
    """

    outcome: Outcome
    lead: Lead | None
    contact: Contact | None
    routing: RoutingResult | None = None
    contact_matched: bool = False
    duplicate: bool = False


class RowOutcome(NamedTuple):
    """One row of an import: its 1-based number, the row as given and what became of it.

    ``status`` is ``assigned``, ``unassigned`` (held, offered or kept with an
    exception), ``rejected`` (``error`` says why) or ``duplicate`` (``lead``
    is the lead stored before; ``None`` in a dry run). ``lead`` is ``None``
    in a dry run, which stores nothing; ``contact`` is the lead's contact.
    An immutable named tuple: an import makes one a row, so it is cheap to make.
    """

    row_number: int
    row: object
    status: Status
    lead: Lead | None = None
    contact: Contact | None = None
    routing: RoutingResult | None = None
    error: ValidationError | None = None
    contact_matched: bool = False
    #: The row's draft (``None`` when it did not validate).
    draft: LeadDraft | None = None


@attrs.frozen(kw_only=True)
class ImportReport:
    """Totals of an import: ``rows == assigned + unassigned + rejected + duplicates``."""

    rows: int = 0
    assigned: int = 0
    unassigned: int = 0
    rejected: int = 0
    duplicates: int = 0

    @property
    def accounted(self) -> bool:
        """Whether every row is counted once: the invariant of the totals."""
        return self.rows == self.assigned + self.unassigned + self.rejected + self.duplicates


def validated(validator: RowValidator, chunk: Sequence[tuple[int | None, object]]) -> list[Item]:
    """Each row of ``chunk`` with its draft or its error.

    A draft is taken as it is; rows with the same columns (a CSV file's, a
    form's) are validated as one table (:meth:`RowValidator.validate_table`,
    a column at a time); others one by one. Errors are kept without their
    traceback (it would hold this frame, and the chunk with it).
    """
    rows = [row for _, row in chunk if isinstance(row, Mapping)]
    if len(rows) == len(chunk) > 1:
        headers = tuple(rows[0])
        if all(tuple(row) == headers for row in rows):
            numbers = [number or 0 for number, _ in chunk]
            table = [list(row.values()) for row in rows]
            results = validator.validate_table(headers, table, numbers)
            return [
                (number, row, result) for (number, row), result in zip(chunk, results, strict=True)
            ]
    items: list[Item] = []
    for number, row in chunk:
        if isinstance(row, LeadDraft):
            items.append((number, row, row))
            continue
        try:
            items.append((number, row, validator.validate(row, number)))  # type: ignore[arg-type]
        except ValidationError as error:
            items.append((number, row, error.with_traceback(None)))
    return items


def _refusal(
    error: LeadflowError, field: str, value: object, number: int | None
) -> ValidationError:
    """``error`` (raised by routing a row) as the row's ValidationError; the original is its
    ``__cause__``."""
    if isinstance(error, ValidationError):
        return error.with_traceback(None)
    refusal = ValidationError([FieldError(field, value, str(error))], row=number)
    refusal.__cause__ = error.with_traceback(None)
    return refusal


class Pipeline:
    """The intake pipeline of one :class:`Intake` over one command context.

    ``units`` opens the unit of work of each chunk: by default the
    context's own command (the store's unit of work, whose events are
    published once it commits); a dry run passes its throwaway store's.
    """

    def __init__(
        self,
        ctx: CommandContext,
        intake: Intake,
        *,
        units: Callable[[], AbstractContextManager[IntakeUnit]] | None = None,
    ) -> None:
        self.ctx = ctx
        self.intake = intake
        self.source = ctx.directory.source(intake.source)
        actor = intake.actor
        self.creator = actor if isinstance(actor, User) and intake.origin is Origin.MANUAL else None
        self.scope, self.owners = Contacts.scope_of(ctx, intake.source, actor.user_id)
        self._units = units

    @contextmanager
    def _store_units(self) -> Iterator[IntakeUnit]:
        with self.ctx.command() as command:
            yield StoreUnit(command)

    def run(
        self, chunks: Iterable[Sequence[Item]], *, outcomes: bool = True
    ) -> Iterator[tuple[list[Status], list[RowOutcome]]]:
        """Each chunk, in its own unit of work: its statuses and (with ``outcomes``) its
        rows' outcomes, yielded once the chunk is committed."""
        for items in chunks:
            now = self.ctx.now()
            with (self._units or self._store_units)() as unit:
                done = self.chunk(unit, items, now, outcomes=outcomes)
            yield done

    def chunk(
        self, unit: IntakeUnit, items: Sequence[Item], now: datetime, *, outcomes: bool = True
    ) -> tuple[list[Status], list[RowOutcome]]:
        """Dedupe, match, route and build one chunk's rows, and hand them to ``unit``."""
        ctx, intake = self.ctx, self.intake
        source_key = intake.source
        state = ctx.routing_state(unit, source_key, now)
        stored_cursors = dict(state.cursors)
        router = Router(ctx.directory, state)
        valid = [draft for _, _, draft in items if isinstance(draft, LeadDraft)]
        externals = {ext for d in valid if (ext := d.attributes.external_id) is not None}
        stored = unit.find_leads_by_external_ids(source_key, externals) if externals else {}
        # rows with a stored external id are duplicates: they match no contact
        fresh = [d for d in valid if d.attributes.external_id not in stored]
        contacts, repeated = self._contacts(unit, fresh)
        records = Records(ctx, intake, now, unit.new_ids(now, 3 * len(fresh)))

        route, source, creator, assign_to = (
            router.route,
            self.source,
            self.creator,
            intake.assign_to,
        )
        add, match, made_rows = records.add, contacts.match, records.rows
        by_email, by_phone, fixed = contacts.by_email, contacts.by_phone, contacts.fixed
        statuses: list[Status] = []
        made: dict[str, int] = {}  # external id -> position of its lead, within the chunk
        results: list[RowOutcome] = []
        keep = results.append if outcomes else _skip
        for number, row, draft in items:
            if not isinstance(draft, LeadDraft):
                statuses.append("rejected")
                keep(RowOutcome(number or 0, row, "rejected", error=draft))
                continue
            attributes = draft.attributes
            ext = attributes.external_id
            if ext is not None:
                if ext in made:
                    statuses.append("duplicate")  # its lead is filled in once built
                    keep(RowOutcome(number or 0, row, "duplicate", draft=draft))
                    continue
                if ext in stored:
                    statuses.append("duplicate")
                    lead = stored[ext]
                    keep(RowOutcome(number or 0, row, "duplicate", lead=lead, draft=draft))
                    continue
            details = draft.contact
            contact = (
                match(details)
                if fixed is not None or details.email in by_email or details.cell_phone in by_phone
                else None
            )
            requested = assign_to if assign_to is not None else draft.assignee_id
            try:
                result = route(
                    attributes,
                    source,
                    now,
                    creator=creator,
                    assignee=requested,
                    contact_matched=contact is not None,
                )
            except LeadflowError as error:
                statuses.append("rejected")
                refusal = _refusal(error, "assignee_id", requested, number)
                keep(RowOutcome(number or 0, row, "rejected", error=refusal, draft=draft))
                continue
            if result.outcome is Outcome.REJECTED:
                statuses.append("rejected")
                if outcomes:
                    keep(self._unroutable(number, row, draft, result))
                continue
            lead_at = add(draft, contact, result, contacts, repeated)
            if ext is not None:
                made[ext] = lead_at
            status: Status = "assigned" if result.outcome is Outcome.ASSIGNED else "unassigned"
            statuses.append(status)
            keep(
                RowOutcome(
                    number or 0,
                    row,
                    status,
                    None,
                    made_rows[lead_at][1],
                    result,
                    None,
                    contact is not None,
                    draft,
                )
            )
        unit.take(records)
        # the cursors, once per chunk, in the same unit of work as its assignments
        for policy, cursor in router.state.cursors.items():
            if stored_cursors.get(policy) != cursor:
                unit.save_cursor(policy, cursor)
        if outcomes and records.built:
            self._fill_built(results, records, made)
        return statuses, results

    @staticmethod
    def _fill_built(results: list[RowOutcome], records: Records, made: Mapping[str, int]) -> None:
        """Give the chunk's outcomes the leads (and new contacts) its unit of work built: the
        created rows' in the order they were added, and those of their duplicates."""
        created = 0
        for at, outcome in enumerate(results):
            if outcome.status == "duplicate":
                draft = outcome.draft
                assert draft is not None
                lead_at = made.get(draft.attributes.external_id or "")
                if lead_at is not None:  # a duplicate of a lead made earlier in the chunk
                    results[at] = outcome._replace(lead=records.lead(lead_at))
            elif outcome.routing is not None and outcome.error is None:
                lead, contact = records.lead(created), records.contact(created)
                results[at] = outcome._replace(lead=lead, contact=contact)
                created += 1

    def _unroutable(
        self, number: int | None, row: object, draft: LeadDraft, routed: RoutingResult
    ) -> RowOutcome:
        """A row refused by the unroutable setting: nobody could take it, its contact is new."""
        reason = (
            f"nobody could take the lead ({routed.reason}) and its contact "
            "is new: rejected by the organisation's unroutable setting"
        )
        error = ValidationError([FieldError("lead_source", self.intake.source, reason)], row=number)
        return RowOutcome(number or 0, row, "rejected", routing=routed, error=error, draft=draft)

    def _contacts(self, unit: IntakeUnit, fresh: Sequence[LeadDraft]) -> tuple[Contacts, set[str]]:
        """The contacts the chunk's new leads may join, read once, and the emails and phones
        that more than one row of the chunk has (a contact made for one may be joined)."""
        actor = self.intake.actor.user_id
        if self.intake.contact_id is not None:
            fixed = unit.get_contact(self.intake.contact_id)
            return Contacts((fixed,), self.scope, (), actor, fixed=fixed), set()
        owners = self.owners
        emails = [e for d in fresh if (e := d.contact.email)]
        phones = [p for d in fresh if (p := d.contact.cell_phone)]
        found = (
            unit.find_contacts(emails=set(emails), phones=set(phones), owners=owners)
            if emails or phones
            else []
        )
        repeated = {key for key, n in Counter(emails + phones).items() if n > 1}
        return Contacts(found, self.scope, owners or (), actor), repeated

    def create(self, unit: IntakeUnit, item: Item, now: datetime) -> CreateResult:
        """One lead, in ``unit``: a chunk of one. A refused row raises its error."""
        _, (outcome,) = self.chunk(unit, [item], now)
        error = outcome.error
        if error is not None and outcome.routing is None:
            cause = error.__cause__
            raise cause if isinstance(cause, LeadflowError) else error
        if outcome.status == "duplicate":
            lead = outcome.lead
            assert lead is not None
            return CreateResult(
                outcome=Outcome.ASSIGNED if lead.assignee_id else Outcome.UNASSIGNED,
                lead=lead,
                contact=None,
                duplicate=True,
            )
        routing = outcome.routing
        assert routing is not None
        if outcome.status == "rejected":
            return CreateResult(outcome=Outcome.REJECTED, lead=None, contact=None, routing=routing)
        return CreateResult(
            outcome=routing.outcome,
            lead=outcome.lead,
            contact=outcome.contact,
            routing=routing,
            contact_matched=outcome.contact_matched,
        )


def _skip(_: object) -> None:
    """Keeps nothing (a chunk's rows, when nobody asked for their outcomes)."""
