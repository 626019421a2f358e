"""Properties of every preset over random sequences of moves (hypothesis).

* dispositions never move a lead backwards (stage order never decreases);
* a killed lead never changes again: every move is refused;
* every move returns events that describe exactly what changed, and a
  refused move changes nothing;
* nothing but a LeadflowError is ever raised.
"""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import attrs
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import LeadflowError
from leadflow.model import Lead, Permission, Role, User
from leadflow.stages import PRESETS, Playbook, log_outcome, schedule_follow_up, set_stage
from leadflow.testing.invariants import check_transition
from stage_helpers import T0, call_event, new_lead, user


@attrs.frozen
class Move:
    kind: str  # "log", "stage" or "follow_up"
    key: str
    minutes_later: int
    actor: User
    approval: User | None
    note: str | None
    outcome: str | None
    follow_up_in: int | None


def actors() -> st.SearchStrategy[User]:
    return st.builds(
        user,
        st.integers(1, 5),
        started_on=st.sampled_from([None, date(2020, 1, 1), date(2026, 3, 1)]),
        permissions=st.frozensets(st.sampled_from([str(p) for p in Permission])),
        role=st.sampled_from(Role),
    )


def moves(book: Playbook) -> st.SearchStrategy[list[Move]]:
    outcomes = sorted({o.key for s in book.stages for o in s.outcomes}) or ["none"]
    log = st.builds(
        Move,
        kind=st.just("log"),
        key=st.sampled_from([d.key for d in book.dispositions]),
        minutes_later=st.integers(0, 3 * 24 * 60),
        actor=actors(),
        approval=st.none() | actors(),
        note=st.sampled_from([None, "", "checked"]),
        outcome=st.none(),
        follow_up_in=st.none() | st.integers(-60, 60 * 24 * 30),
    )
    stage = st.builds(
        Move,
        kind=st.just("stage"),
        key=st.sampled_from([s.key for s in book.stages]),
        minutes_later=st.integers(0, 3 * 24 * 60),
        actor=actors(),
        approval=st.none() | actors(),
        note=st.sampled_from([None, "", "checked"]),
        outcome=st.none() | st.sampled_from(outcomes),
        follow_up_in=st.none(),
    )
    follow_up = st.builds(
        Move,
        kind=st.just("follow_up"),
        key=st.just("-"),
        minutes_later=st.integers(0, 24 * 60),
        actor=actors(),
        approval=st.none(),
        note=st.none(),
        outcome=st.none(),
        follow_up_in=st.integers(-60, 60 * 24 * 30),
    )
    return st.lists(st.one_of(log, log, stage, follow_up), max_size=25)


def run(book: Playbook, lead: Lead, move: Move, now: object, n: int) -> object:
    due = None if move.follow_up_in is None else now + timedelta(minutes=move.follow_up_in)  # type: ignore[operator]
    follow_up = None if due is None else call_event(due, n=n)
    if move.kind == "log":
        return log_outcome(
            book,
            lead,
            move.key,
            move.actor,
            now,
            follow_up=follow_up,  # type: ignore[arg-type]
            note=move.note,
            approval=move.approval,
        )
    if move.kind == "stage":
        return set_stage(
            book,
            lead,
            move.key,
            move.actor,
            now,
            approval=move.approval,  # type: ignore[arg-type]
            note=move.note,
            outcome=move.outcome,
        )
    assert follow_up is not None
    return schedule_follow_up(book, lead, follow_up, move.actor, now)  # type: ignore[arg-type]


def check_preset(name: str, sequence: list[Move]) -> None:
    book = PRESETS[name]()
    lead = new_lead(book)
    now = T0
    for n, move in enumerate(sequence):
        now = now + timedelta(minutes=move.minutes_later)
        before = lead
        try:
            result = run(book, lead, move, now, n)
        except LeadflowError:
            assert lead == before  # a refused move changes nothing
            continue
        assert not before.killed, f"a killed lead accepted {move}"
        new_lead_, events = result.lead, result.events  # type: ignore[attr-defined]
        check_transition(before, new_lead_, events)
        if move.kind == "log":
            old, new = book.stage(before.stage).order, book.stage(new_lead_.stage).order
            assert new >= old, f"{move.key} moved {before.stage} back to {new_lead_.stage}"
            assert new_lead_.last_outcome == move.key
        lead = new_lead_
    assert lead.lead_id == UUID(int=1)


@given(moves(PRESETS["lead_management"]()))
def test_lead_management_moves(sequence: list[Move]) -> None:
    check_preset("lead_management", sequence)


@given(moves(PRESETS["leads_queue"]()))
def test_leads_queue_moves(sequence: list[Move]) -> None:
    check_preset("leads_queue", sequence)


@given(moves(PRESETS["investor"]()))
def test_investor_moves(sequence: list[Move]) -> None:
    check_preset("investor", sequence)


@given(moves(PRESETS["call_log"]()))
def test_call_log_moves(sequence: list[Move]) -> None:
    check_preset("call_log", sequence)


@given(st.sampled_from(sorted(PRESETS)), st.data())
def test_dispositions_alone_never_move_backwards(name: str, data: st.DataObject) -> None:
    book = PRESETS[name]()
    keys = data.draw(st.lists(st.sampled_from([d.key for d in book.dispositions]), max_size=30))
    lead = new_lead(book)
    orders = [book.stage(lead.stage).order]
    for i, key in enumerate(keys):
        lead = log_outcome(book, lead, key, user(), T0 + timedelta(hours=i)).lead
        orders.append(book.stage(lead.stage).order)
    assert orders == sorted(orders)
    assert lead.contact_attempts == sum(book.disposition(k).contact_attempt for k in keys)
