"""Every way in gives the same leads: one at a time, one batch, chunks of any size, a dry run.

:func:`check_paths_agree` runs one generated case four ways -- ``create_lead``
row by row, ``import_rows`` as one batch, ``import_rows`` in chunks, and a
dry run (``import_rows`` over a :class:`~leadflow.intake.DryStore` seeded from
the real store) -- and checks that they decide the same: each row's status,
assignee, policy, reason and errors; the round-robin positions after each
run; and, for the three that store, the same contacts, activity, exception
records and outbox (ids and times apart).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
from hypothesis import strategies as st

from desk_helpers import T0, make_desk, org, person
from leadflow.desk import LeadDesk, RowOutcome
from leadflow.errors import FieldError, LeadflowError, ValidationError
from leadflow.events import LeadCreated
from leadflow.intake import DryStore
from leadflow.model import SYSTEM, MatchScope, Origin, Role
from leadflow.routing import Distribution, Outcome, Unroutable
from leadflow.routing.config import MemberFilters, Period, PolicyMember, VolumeCap
from leadflow.storage import Store

PATHS = ("one_by_one", "one_batch", "chunks", "dry")
_FIRST = ["Ann", "Bob", "Cy", "Di", "Ed"]


@st.composite
def rows(draw: st.DrawFn) -> list[dict[str, str]]:
    """Rows that repeat people (emails, phones) and external ids, with some bad ones."""
    made = []
    for _ in range(draw(st.integers(0, 12))):
        first = draw(st.sampled_from(_FIRST))
        row = {"first_name": first, "last_name": "Lead"}
        if draw(st.booleans()):
            row["email"] = f"{first.lower()}@example.com"
        if draw(st.booleans()) or "email" not in row:
            row["cell_phone"] = draw(
                st.sampled_from(["5552014567", "5552019999", "(555) 201-0000"])
            )
        if draw(st.integers(0, 4)) == 0:
            row["email"] = "broken@"
        if draw(st.booleans()):
            row["external_id"] = f"X-{draw(st.integers(0, 5))}"
        extra = draw(st.sampled_from([None, "state", "stage", "assignee", "purpose"]))
        if extra == "state":
            row["property_state"] = draw(st.sampled_from(["TX", "OK"]))
        elif extra == "stage":
            row["lead_stage"] = draw(st.sampled_from(["Contact Attempted", "engaged", "nope"]))
        elif extra == "assignee":
            row["assignee_id"] = draw(st.sampled_from(["3", "4", "5"]))  # 5 is inactive
        elif extra == "purpose":
            row["loan_purpose"] = draw(st.sampled_from(["Purchase", "refi - cash out"]))
        made.append(row)
    return made


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    members = tuple(
        PolicyMember(
            user_id=uid,
            paused=draw(st.integers(0, 4)) == 0,
            weight=draw(st.integers(1, 3)),
            filters=MemberFilters(
                max_leads=(VolumeCap(per=Period.DAY, count=draw(st.integers(0, 3))),)
                if draw(st.booleans())
                else (),
                states=frozenset({"TX"}) if draw(st.integers(0, 3)) == 0 else frozenset(),
            ),
        )
        for uid in (2, 3, 4)
    )
    return {
        "matching": draw(st.sampled_from(list(MatchScope))),
        "unroutable": draw(st.sampled_from(list(Unroutable))),
        "notify": draw(st.booleans()),
        "members": members,
        "before": draw(st.lists(st.sampled_from(_FIRST), max_size=3)),
        "source": draw(st.sampled_from(["purchased_leads", "referral"])),
        "fallback": draw(st.booleans()),
        "distribution": draw(
            st.sampled_from(
                [Distribution.ROUND_ROBIN, Distribution.LEAST_LOADED, Distribution.WEIGHTED]
            )
        ),
        "actor": draw(st.sampled_from([None, 1])),
        "assign_to": draw(st.sampled_from([None, None, 3])),
        "chunk_size": draw(st.integers(1, 5)),
        "runs": draw(st.lists(rows(), min_size=1, max_size=2)),
    }


def config_of(case: dict[str, Any]) -> Any:
    config = org(
        contact_matching=case["matching"],
        unroutable=case["unroutable"],
        notify_on_assignment=case["notify"],
    )
    west = attrs.evolve(
        config.policies[0], members=case["members"], distribution=case["distribution"]
    )
    inactive = attrs.evolve(person(5, "Gone"), active=False, role=Role.MEMBER)
    purchased = config.sources[0]
    if not case["fallback"]:
        purchased = attrs.evolve(purchased, fallback_policy=None)
    return attrs.evolve(
        config,
        policies=(west, *config.policies[1:]),
        users=(*config.users, inactive),
        sources=(purchased, *config.sources[1:]),
    )


def _one(desk: LeadDesk, case: dict[str, Any], number: int, row: dict[str, str]) -> RowOutcome:
    """A row through ``create_lead``, as an import's outcome."""
    try:
        result = desk.create_lead(
            row,
            source=case["source"],
            actor=case["actor"],
            origin=Origin.IMPORT,
            assignee=case["assign_to"],
        )
    except LeadflowError as error:
        refusal = (
            error
            if isinstance(error, ValidationError)
            else ValidationError([FieldError("assignee_id", None, str(error))], row=number)
        )
        return RowOutcome(row_number=number, row=row, status="rejected", error=refusal)
    if result.duplicate:
        return RowOutcome(row_number=number, row=row, status="duplicate", lead=result.lead)
    if result.outcome is Outcome.REJECTED:
        return RowOutcome(row_number=number, row=row, status="rejected", routing=result.routing)
    status = "assigned" if result.outcome is Outcome.ASSIGNED else "unassigned"
    return RowOutcome(
        row_number=number, row=row, status=status, lead=result.lead, routing=result.routing
    )


def decided(outcome: RowOutcome) -> tuple[object, ...]:
    """What a row's outcome decided, ids and times apart."""
    routing = outcome.routing
    error = outcome.error
    errors = (
        tuple((e.field, e.message) for e in error.errors)
        if error is not None and outcome.routing is None
        else ()
    )
    return (
        outcome.row_number,
        outcome.status,
        None if routing is None else (routing.outcome, routing.assignee_id, routing.policy),
        None if routing is None else (routing.reason, routing.via_fallback),
        errors,
    )


def _event(event: Any) -> tuple[object, ...]:
    fields = attrs.asdict(event, recurse=False)
    for name in ("at", "lead_id", "contact_id"):
        fields.pop(name, None)
    return (event.kind, tuple(sorted(fields.items(), key=lambda kv: kv[0])))


def stored(store: Store) -> dict[str, object]:
    """What a store holds, ids and times apart, in the order the leads were made."""
    with store.unit_of_work() as uow:
        events = uow.activity(start=T0 - timedelta(days=1), end=T0 + timedelta(days=1))
        lead_ids = [e.lead_id for e in events if isinstance(e, LeadCreated)]
        leads = [uow.get_lead(lead_id) for lead_id in lead_ids]
        contact_order = list(dict.fromkeys(lead.contact_id for lead in leads))
        contacts = [uow.get_contact(c) for c in contact_order]
        return {
            "leads": [
                (
                    lead.attributes,
                    lead.stage,
                    lead.assignee_id,
                    lead.assignment_method,
                    contact_order.index(lead.contact_id),
                )
                for lead in leads
            ],
            "contacts": [(c.details, c.owner_id) for c in contacts],
            "activity": [[_event(e) for e in uow.history(lead_id)] for lead_id in lead_ids],
            "exceptions": [
                (r.failure_reason, r.source, r.distribution, lead_ids.index(r.lead_id))
                for r in uow.exceptions(include_closed=True)
            ],
            "outbox": sorted((m.kind, m.recipient) for m in uow.messages()),
            "cursors": uow.cursors(),
        }


def run_path(path: str, case: dict[str, Any], store: Store) -> dict[str, object]:
    desk, clock = make_desk(store, config_of(case))
    for first in case["before"]:  # people already known, some held (no owner)
        desk.create_lead(
            {"first_name": first, "last_name": "Known", "email": f"{first.lower()}@example.com"},
            source=case["source"],
            actor=None,
            origin=Origin.API,
        )
    dry = DryStore(store) if path == "dry" else None
    runs = []
    for batch in case["runs"]:
        clock.tick(minutes=1)
        seen: list[RowOutcome] = []
        if path == "one_by_one":
            seen = [_one(desk, case, n, row) for n, row in enumerate(batch, start=1)]
        else:
            desk.import_rows(
                batch,
                source=case["source"],
                actor=case["actor"] if case["actor"] is not None else SYSTEM,
                assign_to=case["assign_to"],
                chunk_size=10_000 if path == "one_batch" else case["chunk_size"],
                on_row=seen.append,
                units=dry.unit_of_work if dry is not None else None,
            )
        if dry is not None:
            with dry.unit_of_work() as unit:
                cursors = unit.cursors()
        else:
            with store.unit_of_work() as uow:
                cursors = uow.cursors()
        runs.append(([decided(o) for o in seen], cursors))
    return {"runs": runs, "store": stored(store) if dry is None else None}


def check_paths_agree(case: dict[str, Any], make_store: Callable[[], Store]) -> None:
    results = {}
    for path in PATHS:
        store = make_store()
        try:
            results[path] = run_path(path, case, store)
        finally:
            store.close()
    reference = results["one_by_one"]
    for path in PATHS[1:]:
        assert results[path]["runs"] == reference["runs"], path
        if path != "dry":
            assert results[path]["store"] == reference["store"], path
