"""Playbooks: the seed's stages, dispositions, snoozes, effects and guards, table-driven."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import pytest
from dateutil.relativedelta import relativedelta

from leadflow.errors import ConfigError, PermissionDenied, ValidationError
from leadflow.events import (
    FollowUpClosed,
    FollowUpScheduled,
    LeadStageChanged,
    NoteAdded,
    OutcomeLogged,
    Released,
    ReleaseScheduled,
    Signal,
)
from leadflow.model import FollowUpStatus, Permission, Role
from leadflow.stages import (
    PRESETS,
    Category,
    Channel,
    Disposition,
    Playbook,
    Stage,
    call_log,
    close_follow_up,
    general_follow_up,
    investor,
    lead_management,
    leads_queue,
    log_outcome,
    parse_interval,
    preset,
    schedule_follow_up,
    set_stage,
)
from leadflow.testing.invariants import check_transition
from stage_helpers import T0, call_event, new_lead, user

HOUR = timedelta(hours=1)

# (preset, disposition, stage reached from the initial stage, snooze, counts as attempt)
DISPOSITIONS = [
    ("leads_queue", "no_answer", "contact_attempted", HOUR, True),
    ("leads_queue", "left_vm", "contact_attempted", HOUR, True),
    ("leads_queue", "vm_full", "contact_attempted", HOUR, True),
    ("leads_queue", "engaged", "engaged", 48 * HOUR, True),
    ("leads_queue", "sms_sent", "contact_attempted", None, True),
    ("leads_queue", "inbound_call", "engaged", None, False),
    ("leads_queue", "inbound_sms", "engaged", None, False),
    ("lead_management", "no_answer", "contact_attempted", None, True),
    ("lead_management", "left_vm", "contact_attempted", None, True),
    ("lead_management", "sent_email", "contact_attempted", None, True),
    ("lead_management", "sent_text", "contact_attempted", None, True),
    ("lead_management", "spoke", "engaged", None, True),
    ("lead_management", "inbound_call", "engaged", None, False),
    ("lead_management", "inbound_text", "engaged", None, False),
    ("lead_management", "inbound_email", "engaged", None, False),
    ("investor", "not_contacted", "not_contacted", None, True),
    ("investor", "connected", "not_contacted", None, True),
    ("investor", "told_wrong_number", "not_contacted", None, True),
    ("investor", "sms_sent", "not_contacted", None, True),
    ("investor", "sms_reply", "not_contacted", None, False),
    ("call_log", "no_answer", "not_scheduled", None, True),
    ("call_log", "left_message", "not_scheduled", None, True),
    ("call_log", "spoke", "not_scheduled", None, True),
    ("call_log", "text_sent", "not_scheduled", None, True),
    ("call_log", "email_sent", "not_scheduled", None, True),
    ("call_log", "inbound_call", "not_scheduled", None, False),
]


def test_the_table_covers_every_preset_disposition() -> None:
    covered = {(name, key) for name, key, *_ in DISPOSITIONS}
    every = {(name, d.key) for name, build in PRESETS.items() for d in build().dispositions}
    assert every - covered == set()


@pytest.mark.parametrize(("name", "key", "stage", "snooze", "attempt"), DISPOSITIONS)
def test_each_disposition_lands_in_its_stage_with_its_snooze(
    name: str, key: str, stage: str, snooze: timedelta | None, attempt: bool
) -> None:
    book = preset(name)
    lead = new_lead(book)
    result = log_outcome(book, lead, key, user(), T0)
    assert result.lead.stage == stage
    assert result.lead.snoozed_until == (None if snooze is None else T0 + snooze)
    assert result.lead.contact_attempts == int(attempt)
    assert result.lead.last_outcome == key
    assert result.lead.last_touched_at == T0
    assert isinstance(result.events[0], OutcomeLogged)
    assert [type(e) for e in result.events[1:]] == (
        [LeadStageChanged] if stage != lead.stage else []
    )
    check_transition(lead, result.lead, result.events)


def test_engaged_then_no_answer_stays_engaged_with_a_one_hour_snooze() -> None:
    book = leads_queue()
    engaged = log_outcome(book, new_lead(book), "engaged", user(), T0).lead
    assert engaged.snoozed_until == T0 + 48 * HOUR
    later = T0 + 50 * HOUR
    result = log_outcome(book, engaged, "no_answer", user(), later)
    assert result.lead.stage == "engaged"
    assert result.lead.snoozed_until == later + HOUR
    assert result.lead.contact_attempts == 2
    assert [type(e) for e in result.events] == [OutcomeLogged]


def test_a_follow_up_date_replaces_the_status_snooze() -> None:
    book = leads_queue()
    tuesday = T0 + timedelta(days=7)
    result = log_outcome(
        book, new_lead(book), "no_answer", user(), T0, follow_up=call_event(tuesday)
    )
    assert result.lead.snoozed_until is None
    (follow_up,) = result.lead.open_follow_ups
    assert follow_up.due == tuesday
    assert follow_up.notes == "Discuss rate lock"
    assert isinstance(result.events[-1], FollowUpScheduled)


def test_logging_an_outcome_closes_follow_ups_that_are_due() -> None:
    book = leads_queue()
    lead = log_outcome(
        book, new_lead(book), "no_answer", user(), T0, follow_up=call_event(T0 + HOUR)
    )
    due_later = schedule_follow_up(book, lead.lead, call_event(T0 + 9 * HOUR, n=2), user(), T0)
    result = log_outcome(book, due_later.lead, "engaged", user(), T0 + 2 * HOUR)
    statuses = {f.follow_up_id.int: f.status for f in result.lead.follow_ups}
    assert statuses == {501: FollowUpStatus.DONE, 502: FollowUpStatus.OPEN}
    assert any(isinstance(e, FollowUpClosed) for e in result.events)


def test_a_follow_up_in_the_past_is_refused() -> None:
    book = leads_queue()
    lead = new_lead(book)
    with pytest.raises(ValidationError, match=r"follow_up .* is in the past"):
        log_outcome(book, lead, "no_answer", user(), T0, follow_up=call_event(T0 - HOUR))


def test_unknown_disposition_lists_the_known_ones() -> None:
    book = leads_queue()
    with pytest.raises(ValidationError, match=r"is not a disposition of Leads Queue .*no_answer"):
        log_outcome(book, new_lead(book), "hung_up", user(), T0)


# ----------------------------------------------------------------------------- investor


def test_wrong_number_needs_three_reports() -> None:
    book = investor()
    lead = new_lead(book)
    for reports in range(3):
        with pytest.raises(ValidationError, match="needs 3 prior 'wrong_number' reports") as info:
            set_stage(book, lead, "wrong_number", user(), T0)
        assert f"this lead has {reports}" in str(info.value)
        lead = log_outcome(book, lead, "told_wrong_number", user(), T0).lead
    assert lead.report_count("wrong_number") == 3
    result = set_stage(book, lead, "wrong_number", user(), T0)
    assert result.lead.stage == "wrong_number"
    assert result.lead.killed


def test_dead_deal_needs_an_approver_in_the_first_30_days() -> None:
    book = investor()
    lead = new_lead(book)
    rookie = user(started_on=date(2026, 2, 20))  # day 19 on 10 March
    with pytest.raises(
        PermissionDenied, match="needs approval: user 7 is on day 19 of their first 30"
    ):
        set_stage(book, lead, "dead_deal", rookie, T0)
    with pytest.raises(PermissionDenied, match="cannot approve"):
        set_stage(book, lead, "dead_deal", rookie, T0, approval=user(8))
    with pytest.raises(PermissionDenied, match="own action"):
        set_stage(book, lead, "dead_deal", rookie, T0, approval=rookie)
    manager = user(9, role=Role.ADMIN)
    assert set_stage(book, lead, "dead_deal", rookie, T0, approval=manager).lead.killed
    approver = user(10, permissions=frozenset({Permission.APPROVE}))
    assert set_stage(book, lead, "dead_deal", rookie, T0, approval=approver).lead.killed
    veteran = user(started_on=date(2026, 2, 8))  # day 31
    assert set_stage(book, lead, "dead_deal", veteran, T0).lead.killed


def test_already_sold_needs_a_confirmation_note() -> None:
    book = investor()
    lead = new_lead(book)
    with pytest.raises(
        ValidationError, match="is required for stage 'already_sold': confirm the sale"
    ):
        set_stage(book, lead, "already_sold", user(), T0, note="  ")
    result = set_stage(book, lead, "already_sold", user(), T0, note="Assessor: sold 2026-02-01")
    assert result.lead.killed
    assert any(isinstance(e, NoteAdded) for e in result.events)


@pytest.mark.parametrize("red", ["already_sold", "wrong_number", "dead_deal"])
def test_a_red_status_kills_and_nothing_changes_after(red: str) -> None:
    book = investor()
    lead = new_lead(book)
    for _ in range(3):
        lead = log_outcome(book, lead, "told_wrong_number", user(), T0).lead
    killed = set_stage(book, lead, red, user(), T0, note="confirmed").lead
    assert killed.killed_at == T0
    assert book.stage(red).category is Category.DEAD
    later = T0 + HOUR
    with pytest.raises(ValidationError, match=r"was killed .* accepts no further change"):
        log_outcome(book, killed, "not_contacted", user(), later)
    with pytest.raises(ValidationError, match="was killed"):
        set_stage(book, killed, "needs_offer", user(), later)
    with pytest.raises(ValidationError, match="was killed"):
        schedule_follow_up(book, killed, call_event(later + HOUR), user(), later)


def test_offer_rejected_keeps_the_owner_and_schedules_a_release_seven_days_out() -> None:
    book = investor()
    lead = set_stage(book, new_lead(book), "offer_made", user(), T0).lead
    result = set_stage(book, lead, "offer_rejected", user(), T0 + HOUR)
    assert result.lead.assignee_id == 7
    assert result.lead.release_at == T0 + HOUR + timedelta(days=7)
    assert [type(e) for e in result.events] == [LeadStageChanged, ReleaseScheduled]
    moved_on = set_stage(book, result.lead, "needs_offer", user(), T0 + 2 * HOUR)
    assert moved_on.lead.release_at is None  # the hold ends when the lead moves on


def test_other_yellow_statuses_release_at_once() -> None:
    book = investor()
    result = set_stage(book, new_lead(book), "not_interested", user(), T0)
    assert result.lead.assignee_id is None
    assert [type(e) for e in result.events] == [LeadStageChanged, Released]


def test_green_statuses_keep_the_lead_and_signal_the_host() -> None:
    book = investor()
    expected = {
        "needs_offer": ["notify_underwriter"],
        "appointment_booked": [],
        "offer_made": ["kpi_offer_made"],
        "send_contract": ["send_contract_form", "draft_contract"],
        "under_contract": ["transaction_form"],
    }
    for stage, signals in expected.items():
        result = set_stage(book, new_lead(book), stage, user(), T0)
        assert result.lead.assignee_id == 7
        assert [e.name for e in result.events if isinstance(e, Signal)] == signals
        assert book.stage(stage).colour == "green"


def test_investor_colours() -> None:
    colours = {s.key: s.colour for s in investor().stages}
    assert colours["not_contacted"] == "purple"
    assert {colours[k] for k in ("offer_rejected", "not_interested", "listed_with_agent")} == {
        "yellow"
    }
    assert {colours[k] for k in ("already_sold", "wrong_number", "dead_deal")} == {"red"}


def test_general_follow_up_halves_the_requested_delay() -> None:
    book = investor()
    lead = new_lead(book)
    result = general_follow_up(
        book, lead, user(), T0, parse_interval("6 months"), follow_up_id=UUID(int=9)
    )
    (task,) = result.lead.open_follow_ups
    assert task.due == T0 + relativedelta(months=3)
    assert task.due.date() == date(2026, 6, 10)
    assert task.assignee_id == 7
    odd = general_follow_up(
        book, lead, user(), T0, relativedelta(months=7), follow_up_id=UUID(int=10)
    )
    assert odd.lead.open_follow_ups[0].due == T0 + relativedelta(months=3, days=15)
    as_asked = general_follow_up(
        leads_queue(), lead, user(), T0, relativedelta(months=6), follow_up_id=UUID(int=11)
    )
    assert as_asked.lead.open_follow_ups[0].due == T0 + relativedelta(months=6)


# ----------------------------------------------------------------------------- lead management


def test_closed_needs_an_outcome() -> None:
    book = lead_management()
    lead = new_lead(book)
    with pytest.raises(
        ValidationError, match="Closed needs an outcome: funded, withdrawn, declined, lost"
    ):
        set_stage(book, lead, "closed", user(), T0)
    with pytest.raises(ValidationError, match="outcome = 'won'"):
        set_stage(book, lead, "closed", user(), T0, outcome="won")
    closed = set_stage(book, lead, "closed", user(), T0, outcome="funded").lead
    assert (closed.stage, closed.outcome) == ("closed", "funded")
    assert book.stage("closed").outcome("declined").category is Category.LOST  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="takes no outcome"):
        set_stage(book, lead, "engaged", user(), T0, outcome="funded")


def test_dispositions_on_a_terminal_stage_log_but_do_not_move() -> None:
    book = lead_management()
    closed = set_stage(book, new_lead(book), "closed", user(), T0, outcome="lost").lead
    result = log_outcome(book, closed, "left_vm", user(), T0 + HOUR)
    assert result.lead.stage == "closed"
    assert result.lead.contact_attempts == 1


def test_reopening_a_closed_lead_needs_reactivate() -> None:
    book = lead_management()
    closed = set_stage(book, new_lead(book), "closed", user(), T0, outcome="withdrawn").lead
    with pytest.raises(PermissionDenied, match="'reactivate' permission"):
        set_stage(book, closed, "engaged", user(), T0)
    boss = user(permissions=frozenset({Permission.REACTIVATE}))
    result = set_stage(book, closed, "engaged", boss, T0)
    (change,) = result.events
    assert isinstance(change, LeadStageChanged)
    assert change.backward
    assert result.lead.outcome is None


def test_backward_moves_are_recorded_where_allowed() -> None:
    book = lead_management()
    lead = set_stage(book, new_lead(book), "application_submitted", user(), T0).lead
    back = set_stage(book, lead, "contact_attempted", user(), T0 + HOUR)
    assert back.lead.stage_history[-1].backward
    assert back.lead.stage_history[-1].from_stage == "application_submitted"


def test_backward_moves_are_refused_where_not_allowed() -> None:
    book = lead_management().add_stage(
        Stage(key="funding", label="Funding", order=7, allow_backward=False)
    )
    lead = set_stage(book, new_lead(book), "funding", user(), T0).lead
    with pytest.raises(ValidationError, match="does not allow moving a lead back from Funding"):
        set_stage(book, lead, "engaged", user(), T0)


def test_same_stage_changes_nothing() -> None:
    book = lead_management()
    lead = new_lead(book)
    result = set_stage(book, lead, "new", user(), T0)
    assert result.lead is lead
    assert result.events == ()


# ----------------------------------------------------------------------------- call log


def test_call_log_statuses_and_colours() -> None:
    book = call_log()
    assert [(s.key, s.colour) for s in book.stages] == [
        ("not_scheduled", "grey"),
        ("scheduled", "blue"),
        ("missed", "yellow"),
        ("past_due", "red"),
        ("abandoned", "orange"),
        ("available", "green"),
        ("lost_archive", "black"),
    ]


def test_call_log_scheduling_moves_to_scheduled() -> None:
    book = call_log()
    result = schedule_follow_up(book, new_lead(book), call_event(T0 + 2 * HOUR), user(), T0)
    assert result.lead.stage == "scheduled"
    assert [type(e) for e in result.events] == [FollowUpScheduled, LeadStageChanged]


def test_call_log_schedule_statuses_are_not_set_by_hand() -> None:
    book = call_log()
    with pytest.raises(ValidationError, match="set by the playbook's rules"):
        set_stage(book, new_lead(book), "past_due", user(), T0)


def test_call_log_archive_reopens_only_with_reactivate() -> None:
    book = call_log()
    archived = set_stage(book, new_lead(book), "lost_archive", user(), T0).lead
    with pytest.raises(PermissionDenied, match="reactivate"):
        set_stage(book, archived, "not_scheduled", user(), T0)
    staff = user(permissions=frozenset({Permission.REACTIVATE}))
    assert set_stage(book, archived, "not_scheduled", staff, T0).lead.stage == "not_scheduled"


def test_close_follow_up() -> None:
    book = leads_queue()
    lead = schedule_follow_up(book, new_lead(book), call_event(T0 + HOUR), user(), T0).lead
    done = close_follow_up(book, lead, UUID(int=501), user(), T0, status=FollowUpStatus.CANCELLED)
    assert done.lead.open_follow_ups == ()
    with pytest.raises(ValidationError, match="not an open follow-up"):
        close_follow_up(book, done.lead, UUID(int=501), user(), T0)


# ----------------------------------------------------------------------------- playbook validation


def test_presets_are_as_designed() -> None:
    assert [s.label for s in lead_management().stages] == [
        "New", "Contact Attempted", "Engaged", "Application Started",
        "Application Submitted", "Pre-Approved", "In Process", "Closed",
    ]  # fmt: skip
    assert [s.label for s in leads_queue().stages] == [
        "New", "Contact Attempted", "Engaged", "Nurture", "Converted",
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="not a preset"):
        preset("salesforce")


def test_a_disposition_to_a_missing_stage_names_both() -> None:
    with pytest.raises(ConfigError) as info:
        leads_queue().add_disposition(
            Disposition(
                key="callback", label="Callback", channel=Channel.CALL, to_stage="qualified"
            )
        )
    assert info.value.problems == (
        "playbook 'leads_queue': disposition 'callback': moves to stage 'qualified', "
        "which does not exist",
    )


def test_every_playbook_problem_is_listed() -> None:
    book = leads_queue()
    stages = (
        *book.stages,
        Stage(key="new", label="Again", order=9),
        Stage(key="second", label="Second", order=9, initial=True),
        Stage(key="gone", label="", order=10, effect=book.stages[0].effect, terminal=False),
    )
    with pytest.raises(ConfigError) as info:
        Playbook(key="broken", name="Broken", stages=stages, dispositions=book.dispositions)
    text = "\n".join(info.value.problems)
    assert "stage 'new' is defined twice" in text
    assert "has 2 initial stages (new, second)" in text
    assert "stage 'gone': label is blank" in text


def test_customising_a_preset() -> None:
    book = (
        leads_queue()
        .rename_stage("nurture", "Long-term")
        .add_stage(Stage(key="qualified", label="Qualified", order=3, allow_backward=True))
    )
    assert book.stage("nurture").label == "Long-term"
    assert [s.key for s in book.stages][:4] == ["new", "contact_attempted", "engaged", "qualified"]
    with pytest.raises(
        ConfigError, match="disposition 'engaged': moves to stage 'engaged', which is disabled"
    ):
        book.disable_stage("engaged")
    smaller = book.disable_disposition("engaged").disable_disposition("inbound_call")
    smaller = smaller.disable_disposition("inbound_sms").disable_stage("engaged")
    with pytest.raises(ValidationError, match="is disabled"):
        set_stage(smaller, new_lead(smaller), "engaged", user(), T0)
    with pytest.raises(ValidationError, match="is disabled"):
        log_outcome(smaller, new_lead(smaller), "engaged", user(), T0)
    assert smaller.stage_names()["long-term"] == "nurture"
