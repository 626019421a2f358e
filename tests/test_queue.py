"""The call queue, ownership, pools, aging and the call-log tabs (DESIGN D4, D6)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import attrs
import pytest

from leadflow.errors import Conflict, PermissionDenied, ValidationError
from leadflow.events import (
    AssignmentMethod,
    Claimed,
    LeadAssigned,
    LeadReassigned,
    LeadStageChanged,
    Released,
)
from leadflow.model import FollowUp, FollowUpKind, FollowUpSubject, Priority, Role
from leadflow.queue import (
    NotInQueue,
    Reason,
    advance,
    assign,
    build_queue,
    call_log_tabs,
    claim,
    next_change_at,
    pool,
    queue_ready_at,
    release,
    why_not,
)
from leadflow.stages import (
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
DAY = timedelta(days=1)


def ids(entries: list) -> list[int]:  # type: ignore[type-arg]
    return [e.lead.lead_id.int for e in entries]


# ----------------------------------------------------------------------------- leads queue


def test_no_answer_at_ten_is_back_at_eleven() -> None:
    book = leads_queue()
    lead = log_outcome(book, new_lead(book), "no_answer", user(), T0).lead
    assert build_queue([lead], 7, T0 + timedelta(minutes=59), book) == []
    why = why_not(lead, 7, T0 + timedelta(minutes=59), book)
    assert why is not None
    assert why.reason is NotInQueue.SNOOZED
    assert str(why) == "snoozed until 2026-03-10T11:00:00+00:00"
    (entry,) = build_queue([lead], 7, T0 + HOUR, book)
    assert entry.reason is Reason.RETRY_AFTER_SNOOZE
    assert why_not(lead, 7, T0 + HOUR, book) is None
    assert queue_ready_at(lead, T0) == T0 + HOUR


def test_engaged_is_out_for_48_hours() -> None:
    book = leads_queue()
    lead = log_outcome(book, new_lead(book), "engaged", user(), T0).lead
    assert build_queue([lead], 7, T0 + 48 * HOUR - timedelta(seconds=1), book) == []
    assert len(build_queue([lead], 7, T0 + 48 * HOUR, book)) == 1


def test_a_follow_up_holds_the_lead_then_puts_it_first_with_its_notes() -> None:
    book = leads_queue()
    tuesday_nine = T0 + timedelta(days=7, hours=-1)  # 2026-03-17 09:00 UTC
    held = log_outcome(
        book, new_lead(book, n=1), "no_answer", user(), T0, follow_up=call_event(tuesday_nine)
    ).lead
    fresh = new_lead(book, n=2)
    retry = log_outcome(book, new_lead(book, n=3), "no_answer", user(), T0).lead
    before = tuesday_nine - timedelta(minutes=1)
    assert ids(build_queue([held, fresh, retry], 7, before, book)) == [2, 3]
    why = why_not(held, 7, before, book)
    assert why is not None
    assert str(why) == "follow-up at 2026-03-17T09:00:00+00:00"
    queue = build_queue([retry, fresh, held], 7, tuesday_nine, book)
    assert ids(queue) == [1, 2, 3]
    assert queue[0].reason is Reason.FOLLOW_UP_DUE
    assert queue[0].notes == "Discuss rate lock"
    assert [e.reason for e in queue[1:]] == [Reason.NEW_LEAD, Reason.RETRY_AFTER_SNOOZE]


def test_queue_order_due_follow_ups_then_new_oldest_first_then_least_recently_touched() -> None:
    book = leads_queue()

    def task(n: int, due_in: timedelta, priority: Priority) -> FollowUp:
        return FollowUp(
            follow_up_id=UUID(int=900 + n),
            kind=FollowUpKind.TASK,
            subject=FollowUpSubject.CALL,
            due=T0 + due_in,
            priority=priority,
        )

    def made(n: int, minutes: int) -> object:
        return attrs.evolve(new_lead(book, n=n), created_at=T0 + timedelta(minutes=minutes))

    low = schedule_follow_up(book, new_lead(book, n=1), task(1, HOUR, Priority.LOW), user(), T0)
    high = schedule_follow_up(book, new_lead(book, n=2), task(2, HOUR, Priority.HIGH), user(), T0)
    early = schedule_follow_up(
        book, new_lead(book, n=3), task(3, 30 * 60 * timedelta(seconds=1), Priority.LOW), user(), T0
    )
    young, old = made(4, 20), made(5, 10)
    touched_late = log_outcome(
        book, new_lead(book, n=6), "sms_sent", user(), T0 + 30 * timedelta(minutes=1)
    ).lead
    touched_early = log_outcome(book, new_lead(book, n=7), "sms_sent", user(), T0).lead
    other_user = new_lead(book, n=8, assignee=9)
    leads = [touched_late, young, low.lead, other_user, touched_early, old, high.lead, early.lead]
    now = T0 + 2 * HOUR
    assert ids(build_queue(leads, 7, now, book)) == [3, 2, 1, 5, 4, 7, 6]
    assert ids(build_queue(leads, 7, now, book, limit=3)) == [3, 2, 1]
    assert [e.reason for e in build_queue(leads, 7, now, book)][-1] is Reason.RETRY


def test_why_not_names_every_reason() -> None:
    book = investor()
    lead = new_lead(book)
    assert why_not(lead, 8, T0, book) is not None
    assert str(why_not(lead, 8, T0, book)) == "owned by user 7"
    assert (
        str(why_not(attrs.evolve(lead, assignee_id=None), 7, T0, book))
        == "unassigned (in the pool)"
    )
    for _ in range(3):
        lead = log_outcome(book, lead, "told_wrong_number", user(), T0).lead
    dead = set_stage(book, lead, "wrong_number", user(), T0).lead
    assert str(why_not(dead, 7, T0, book)) == "killed"
    assert build_queue([dead], 7, T0, book) == []


# ----------------------------------------------------------------------------- ownership


def test_two_users_claiming_the_same_pool_lead() -> None:
    book = investor()
    in_cloud = new_lead(book, assignee=None)
    first = claim(book, in_cloud, user(7), T0)
    assert isinstance(first.events[0], Claimed)
    with pytest.raises(Conflict, match="held by user 7"):
        claim(book, first.lead, user(8), T0)
    assert pool([first.lead], book) == []
    assert build_queue([first.lead], 8, T0, book) == []
    assert ids(build_queue([first.lead], 7, T0, book)) == [1]
    assert claim(book, first.lead, user(7), T0).events == ()


def test_release_and_assign() -> None:
    book = investor()
    lead = new_lead(book)
    with pytest.raises(PermissionDenied, match="only they or an admin"):
        release(book, lead, user(8), T0)
    released = release(book, lead, user(7), T0)
    assert released.lead.assignee_id is None
    assert pool([released.lead], book) == [released.lead]
    with pytest.raises(ValidationError, match="nothing to release"):
        release(book, released.lead, user(7), T0)
    admin = user(1, role=Role.ADMIN)
    assigned = assign(book, released.lead, user(8), admin, T0)
    assert isinstance(assigned.events[0], LeadAssigned)
    reassigned = assign(book, assigned.lead, user(9), admin, T0)
    (event,) = reassigned.events
    assert isinstance(event, LeadReassigned)
    assert (event.from_assignee, event.to_assignee) == (8, 9)
    with pytest.raises(PermissionDenied, match="only to themselves"):
        assign(book, reassigned.lead, user(7), user(8), T0)
    with pytest.raises(Conflict):
        assign(book, reassigned.lead, user(8), user(8), T0)  # self-assign = claim
    inactive = attrs.evolve(user(5), active=False)
    with pytest.raises(PermissionDenied, match="inactive"):
        assign(book, reassigned.lead, inactive, admin, T0)


# ----------------------------------------------------------------------------- aging


def test_call_log_timeline_without_touches() -> None:
    book = call_log()
    day0 = T0.replace(hour=8)
    lead = attrs.evolve(new_lead(book), created_at=day0, updated_at=day0)
    nine = day0.replace(hour=9)
    lead = schedule_follow_up(book, lead, call_event(nine), user(), day0).lead
    assert lead.stage == "scheduled"
    assert next_change_at(lead, book) == nine + timedelta(minutes=1)

    def at(when: object) -> str:
        return advance(lead, when, book).lead.stage  # type: ignore[arg-type]

    assert at(nine) == "scheduled"
    assert at(nine + timedelta(minutes=1)) == "missed"
    assert at(nine + 2 * DAY - timedelta(seconds=1)) == "missed"
    assert at(nine + 2 * DAY) == "past_due"
    assert at(nine + 3 * DAY) == "abandoned"
    abandoned = advance(lead, nine + 3 * DAY, book).lead
    assert abandoned.assignee_id == 7  # still owned
    assert pool([abandoned], book) == [abandoned]  # but anyone may take it
    final = advance(lead, nine + 8 * DAY, book)
    assert final.lead.stage == "available"
    assert final.lead.assignee_id is None
    assert [
        (type(e).__name__, e.at - nine)
        for e in final.events  # type: ignore[attr-defined]
    ] == [
        ("LeadStageChanged", timedelta(minutes=1)),
        ("LeadStageChanged", 2 * DAY),
        ("LeadStageChanged", 3 * DAY),
        ("LeadStageChanged", 8 * DAY),
        ("Released", 8 * DAY),
    ]
    assert all(e.actor is None for e in final.events)
    assert next_change_at(final.lead, book) is None


def test_a_note_on_day_two_restarts_the_untouched_clocks() -> None:
    book = call_log()
    day0 = T0.replace(hour=8)
    nine = day0.replace(hour=9)
    lead = attrs.evolve(new_lead(book), created_at=day0, updated_at=day0)
    lead = schedule_follow_up(book, lead, call_event(nine), user(), day0).lead
    noon2 = day0 + 2 * DAY + 4 * HOUR
    lead = advance(lead, noon2, book).lead
    assert lead.stage == "past_due"
    lead = add_note(book, lead, "Left a message with the spouse", user(), noon2).lead
    revived = advance(lead, noon2, book)
    assert revived.lead.stage == "not_scheduled"
    assert next_change_at(revived.lead, book) == noon2 + 2 * DAY
    assert advance(revived.lead, noon2 + 3 * DAY, book).lead.stage == "abandoned"
    assert advance(revived.lead, noon2 + 8 * DAY, book).lead.stage == "available"


def test_claiming_from_the_lead_bank_puts_the_lead_back_to_work() -> None:
    book = call_log()
    lead = attrs.evolve(new_lead(book), created_at=T0, updated_at=T0)
    available = advance(lead, T0 + 9 * DAY, book).lead
    assert (available.stage, available.assignee_id) == ("available", None)
    tabs = call_log_tabs([available], 8, book)
    assert [r.status for r in tabs.lead_bank] == ["Available"]
    taken = claim(book, available, user(8), T0 + 9 * DAY).lead
    back = advance(taken, T0 + 9 * DAY, book).lead
    assert (back.stage, back.assignee_id) == ("not_scheduled", 8)
    assert [r.status for r in call_log_tabs([back], 8, book).to_be_scheduled] == ["Not Scheduled"]


def test_call_log_tabs() -> None:
    book = call_log()
    day0 = T0
    leads = []
    for n, offset in enumerate([timedelta(0), 2 * DAY, 3 * DAY], start=1):
        lead = attrs.evolve(new_lead(book, n=n), created_at=day0 - offset, updated_at=day0 - offset)
        leads.append(advance(lead, day0, book).lead)
    scheduled = schedule_follow_up(
        book, new_lead(book, n=4), call_event(day0 + DAY, n=4), user(), day0
    ).lead
    mine = call_log_tabs([*leads, scheduled], 7, book)
    assert [(r.status, r.colour) for r in mine.to_be_scheduled] == [
        ("Past Due", "red"),
        ("Not Scheduled", "grey"),
    ]
    assert [r.lead.lead_id.int for r in mine.schedule] == [4]
    assert [r.status for r in mine.lead_bank] == ["Abandoned"]
    theirs = call_log_tabs([*leads, scheduled], 8, book)
    assert theirs.to_be_scheduled == ()
    assert theirs.schedule == ()
    assert [r.status for r in theirs.lead_bank] == ["Abandoned"]


def test_call_log_archive_never_ages() -> None:
    book = call_log()
    archived = set_stage(book, new_lead(book), "lost_archive", user(), T0).lead
    assert next_change_at(archived, book) is None
    assert advance(archived, T0 + 100 * DAY, book).events == ()


def test_offer_rejected_releases_after_seven_days_unless_it_moved_on() -> None:
    book = investor()
    rejected = set_stage(book, new_lead(book), "offer_rejected", user(), T0).lead
    assert next_change_at(rejected, book) == T0 + 7 * DAY
    assert advance(rejected, T0 + 7 * DAY - timedelta(seconds=1), book).events == ()
    after = advance(rejected, T0 + 7 * DAY, book)
    assert after.lead.assignee_id is None
    (event,) = after.events
    assert isinstance(event, Released)
    assert event.reason == "hold in Offer Rejected ended"
    moved_on = set_stage(book, rejected, "needs_offer", user(), T0 + DAY).lead
    assert next_change_at(moved_on, book) is None
    assert advance(moved_on, T0 + 30 * DAY, book).lead.assignee_id == 7


def test_speed_to_lead_releases_a_routed_lead_nobody_called() -> None:
    book = attrs.evolve(leads_queue(), speed_to_lead=timedelta(minutes=15))
    unassigned = new_lead(book, assignee=None)
    admin = user(1, role=Role.ADMIN)
    routed = assign(book, unassigned, user(7), admin, T0, method=AssignmentMethod.ROUTING).lead
    assert next_change_at(routed, book) == T0 + timedelta(minutes=15)
    late = advance(routed, T0 + HOUR, book)
    (event,) = late.events
    assert isinstance(event, Released)
    assert event.reroute
    assert event.at == T0 + timedelta(minutes=15)
    assert "within 15m" in event.reason
    called = log_outcome(book, routed, "no_answer", user(), T0 + timedelta(minutes=10)).lead
    assert next_change_at(called, book) is None
    manual = assign(book, unassigned, user(7), admin, T0).lead
    assert next_change_at(manual, book) is None  # only routed leads


def test_stage_changes_made_by_aging_apply_stage_effects() -> None:
    book = call_log()
    lead = attrs.evolve(new_lead(book), created_at=T0, updated_at=T0)
    result = advance(lead, T0 + 9 * DAY, book)
    assert [type(e) for e in result.events] == [
        LeadStageChanged,
        LeadStageChanged,
        LeadStageChanged,
        Released,
    ]
