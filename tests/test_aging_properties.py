"""Aging over many random histories (hypothesis).

* advancing once at the end gives the same lead and the same events as
  advancing every hour, when each command is applied to a lead advanced to
  its own time (which is what the application service does);
* ``next_change_at`` is exact: nothing changes before it, something at it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import LeadflowError
from leadflow.events import AssignmentMethod, Event
from leadflow.model import Lead, Role
from leadflow.queue import advance, assign, claim, next_change_at
from leadflow.stages import (
    Playbook,
    add_note,
    call_log,
    investor,
    leads_queue,
    log_outcome,
    schedule_follow_up,
    set_stage,
)
from stage_helpers import T0, call_event, new_lead, user

HOUR = timedelta(hours=1)
BOOKS = {
    "call_log": call_log(),
    "investor": investor(),
    "leads_queue": attrs.evolve(leads_queue(), speed_to_lead=timedelta(minutes=15)),
}


@attrs.frozen
class Command:
    at_minutes: int  # since T0
    kind: str  # note | schedule | claim | offer_rejected | no_answer
    arg: int


commands = st.lists(
    st.builds(
        Command,
        at_minutes=st.integers(0, 10 * 24 * 60),
        kind=st.sampled_from(["note", "schedule", "claim", "offer_rejected", "no_answer"]),
        arg=st.integers(1, 6 * 24 * 60),
    ),
    max_size=8,
).map(lambda cs: sorted(cs, key=lambda c: c.at_minutes))


def start(name: str) -> Lead:
    book = BOOKS[name]
    lead = new_lead(book, assignee=None)
    admin = user(1, role=Role.ADMIN)
    return assign(book, lead, user(7), admin, T0, method=AssignmentMethod.ROUTING).lead


def apply(book: Playbook, lead: Lead, command: Command, now: datetime) -> Lead:
    try:
        if command.kind == "note":
            return add_note(book, lead, "touched", user(7), now).lead
        if command.kind == "schedule":
            due = now + timedelta(minutes=command.arg)
            return schedule_follow_up(
                book, lead, call_event(due, n=command.at_minutes), user(7), now
            ).lead
        if command.kind == "claim":
            return claim(book, lead, user(8), now).lead
        if command.kind == "offer_rejected":
            return set_stage(book, lead, "offer_rejected", user(7), now).lead
        return log_outcome(book, lead, book.dispositions[0].key, user(7), now).lead
    except LeadflowError:
        return lead


def run(name: str, cmds: list[Command], sweep_every: timedelta | None) -> tuple[Lead, list[Event]]:
    book = BOOKS[name]
    lead = start(name)
    events: list[Event] = []
    end = T0 + timedelta(days=12)
    moments = [T0 + timedelta(minutes=c.at_minutes) for c in cmds]
    sweeps: list[datetime] = []
    if sweep_every is not None:
        t = T0
        while t <= end:
            sweeps.append(t)
            t += sweep_every
    timeline = sorted(
        [(m, 1, c) for m, c in zip(moments, cmds, strict=True)] + [(s, 0, None) for s in sweeps],
        key=lambda x: (x[0], x[1]),
    )
    for when, _, command in timeline:
        step = advance(lead, when, book)
        lead, events = step.lead, events + list(step.events)
        if command is not None:
            lead = apply(book, lead, command, when)
    step = advance(lead, end, book)
    return step.lead, events + list(step.events)


@given(st.sampled_from(sorted(BOOKS)), commands)
def test_advancing_once_equals_advancing_every_hour(name: str, cmds: list[Command]) -> None:
    once = run(name, cmds, None)
    hourly = run(name, cmds, HOUR)
    assert once[0] == hourly[0]
    assert once[1] == hourly[1]


@given(st.sampled_from(sorted(BOOKS)), commands)
def test_next_change_at_is_exact(name: str, cmds: list[Command]) -> None:
    book = BOOKS[name]
    lead = start(name)
    for c in cmds:
        when = T0 + timedelta(minutes=c.at_minutes)
        lead = apply(book, advance(lead, when, book).lead, c, when)
    for _ in range(10):
        moment = next_change_at(lead, book)
        if moment is None:
            assert advance(lead, T0 + timedelta(days=400), book).events == ()
            return
        assert advance(lead, moment - timedelta(microseconds=1), book).events == ()
        step = advance(lead, moment, book)
        assert step.events
        assert step.lead != lead
        lead = step.lead
