"""Creating leads: one lead, an import, the rows of a file -- all through the intake pipeline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TypedDict, TypeVar, Unpack
from uuid import UUID

from leadflow.command import Command
from leadflow.desk._base import Handler
from leadflow.errors import PermissionDenied
from leadflow.intake import (
    CreateResult,
    ImportReport,
    Intake,
    IntakeUnit,
    Pipeline,
    RowOutcome,
    Status,
    validated,
)
from leadflow.intake.pipeline import Item
from leadflow.intake.records import StoreUnit
from leadflow.model import SYSTEM, Actor, Origin
from leadflow.validate import LeadDraft

__all__ = ["IntakeHandler", "TableOptions"]

_T = TypeVar("_T")


class TableOptions(TypedDict, total=False):
    """How :meth:`IntakeHandler.table_chunks` imports a table (all optional)."""

    actor: int | Actor | None
    assign_to: int | None
    chunk_size: int
    units: Callable[[], AbstractContextManager[IntakeUnit]] | None


class IntakeHandler(Handler):
    """``create_lead``, ``import_rows`` and the rows of a file (``leadflow route``)."""

    def create_lead(
        self,
        row: Mapping[str, str | None] | LeadDraft,
        *,
        actor: int | Actor | None = SYSTEM,
        source: str | None = None,
        origin: Origin = Origin.MANUAL,
        assignee: int | None = None,
        contact_id: UUID | None = None,
        via: int | None = None,
    ) -> CreateResult:
        """Validate, match the contact, route (or assign) and store one new lead.

        ``actor`` is the user creating it, or the system actor (the
        default; ``None`` is the same) for an import, an automation or a
        host's API. A non-admin creating a lead by hand gets it; an admin
        or the system actor may name ``assignee``. ``contact_id`` attaches
        the lead to that contact (the contact page's "+New Lead"). Raises
        ValidationError with every field error; returns a ``rejected``
        result when nobody could take the lead, its contact is new and the
        organisation rejects such leads. A batch of one: the intake
        pipeline an import runs.
        """
        ctx = self.ctx
        who = ctx.actor(actor)
        draft = row if isinstance(row, LeadDraft) else ctx.validator(source=source).validate(row)
        intake = Intake(
            source=draft.attributes.source,
            actor=who,
            origin=origin,
            assign_to=assignee,
            contact_id=contact_id,
            via=via,
        )
        now = ctx.now()
        pipeline = Pipeline(ctx, intake)
        with ctx.command() as command:
            return pipeline.create(StoreUnit(command), (None, draft, draft), now)

    def create_in(self, command: Command, draft: LeadDraft, intake: Intake) -> CreateResult:
        """One lead, inside ``command`` (a journey's action, with the job it runs)."""
        now = self.ctx.now()
        return Pipeline(self.ctx, intake).create(StoreUnit(command), (None, draft, draft), now)

    def import_rows(
        self,
        rows: Iterable[Mapping[str, str | None] | LeadDraft],
        *,
        source: str,
        actor: int | Actor | None = SYSTEM,
        assign_to: int | None = None,
        ignore_unknown: bool = False,
        chunk_size: int = 500,
        on_row: Callable[[RowOutcome], None] | None = None,
        units: Callable[[], AbstractContextManager[IntakeUnit]] | None = None,
    ) -> ImportReport:
        """Import a batch of raw rows (or drafts) that share one lead source.

        Either every lead goes to ``assign_to``, or every lead is routed by
        the source's policies. A bad row is rejected with every field error
        and the rest go on. Rows are stored in chunks of ``chunk_size``,
        each one unit of work: a crash leaves whole leads only.
        Re-importing the same rows creates nothing twice: a row whose
        ``external_id`` is already stored for this source is reported as a
        duplicate. ``on_row`` receives every row's outcome, in order, after
        its chunk is committed. ``actor`` is the system actor (the default)
        or the importing user. ``units`` opens each chunk's unit of work:
        the desk's store by default, a dry run's throwaway store
        (:class:`~leadflow.intake.DryStore`) otherwise.
        """
        pipeline = self.pipeline(source, actor=actor, assign_to=assign_to, units=units)
        validator = self.ctx.validator(source=source, ignore_unknown=ignore_unknown)
        chunks = (
            validated(validator, chunk) for chunk in _chunks(enumerate(rows, start=1), chunk_size)
        )
        return _report(pipeline.run(chunks, outcomes=on_row is not None), on_row)

    def import_table(
        self,
        header: Sequence[str],
        tables: Iterable[tuple[Sequence[int], Sequence[Sequence[str]]]],
        *,
        source: str,
        on_row: Callable[[RowOutcome], None] | None = None,
        **options: Unpack[TableOptions],
    ) -> ImportReport:
        """Import the rows of a file with ``header``: ``tables`` gives (row numbers, rows of
        cells), validated a column at a time; each outcome's ``row`` is the row's cells.
        ``options`` are those of :meth:`table_chunks`."""
        outcomes = on_row is not None
        chunks = self.table_chunks(header, tables, source=source, outcomes=outcomes, **options)
        return _report(chunks, on_row)

    def table_chunks(
        self,
        header: Sequence[str],
        tables: Iterable[tuple[Sequence[int], Sequence[Sequence[str]]]],
        *,
        source: str,
        actor: int | Actor | None = SYSTEM,
        assign_to: int | None = None,
        chunk_size: int = 500,
        outcomes: bool = True,
        units: Callable[[], AbstractContextManager[IntakeUnit]] | None = None,
    ) -> Iterator[tuple[list[Status], list[RowOutcome]]]:
        """:meth:`import_table` a chunk at a time: each chunk's statuses and (with
        ``outcomes``) its rows' outcomes, yielded once its unit of work has committed (a
        file route writes them as they come)."""
        pipeline = self.pipeline(source, actor=actor, assign_to=assign_to, units=units)
        validator = self.ctx.validator(source=source)
        head = tuple(header)

        def chunks() -> Iterator[list[Item]]:
            for numbers, rows in tables:
                for start in range(0, len(rows), chunk_size):
                    part = rows[start : start + chunk_size]
                    got = numbers[start : start + chunk_size]
                    results = validator.validate_table(head, part, got)
                    yield list(zip(got, part, results, strict=True))

        return pipeline.run(chunks(), outcomes=outcomes)

    def pipeline(
        self,
        source: str,
        *,
        actor: int | Actor | None,
        assign_to: int | None,
        units: Callable[[], AbstractContextManager[IntakeUnit]] | None = None,
    ) -> Pipeline:
        """The pipeline of an import of ``source`` rows by ``actor``."""
        ctx = self.ctx
        who = ctx.actor(actor)
        ctx.directory.source(source)
        if assign_to is not None:
            ctx.require_admin(who, "assign a whole import to one user")
            if not ctx.user(assign_to).active:
                raise PermissionDenied(f"user {assign_to} is inactive and cannot be assigned leads")
        intake = Intake(source=source, actor=who, origin=Origin.IMPORT, assign_to=assign_to)
        return Pipeline(ctx, intake, units=units)


def _report(
    done: Iterable[tuple[Sequence[str], Sequence[RowOutcome]]],
    on_row: Callable[[RowOutcome], None] | None,
) -> ImportReport:
    counts: Counter[str] = Counter()
    for statuses, outcomes in done:
        counts.update(statuses)
        if on_row is not None:
            for outcome in outcomes:
                on_row(outcome)
    return ImportReport(
        rows=sum(counts.values()),
        assigned=counts["assigned"],
        unassigned=counts["unassigned"],
        rejected=counts["rejected"],
        duplicates=counts["duplicate"],
    )


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    chunk: list[_T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
