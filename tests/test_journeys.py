"""Automations run by the desk: after commit, once, recorded and retried on failure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from desk_helpers import T0, make_desk, row
from leadflow.automation import MAX_DEPTH, AssignTo, CreateLead, Subscription, Trigger
from leadflow.desk import LeadDesk
from leadflow.errors import ConfigError
from leadflow.events import AssignmentMethod, LeadAssigned, LeadCreated
from leadflow.jobs import read_job
from leadflow.model import Lead, Origin
from leadflow.notify import outbox_status
from leadflow.predicates import Condition, Criteria, Op
from leadflow.storage.memory import MemoryStore
from leadflow.storage.protocol import AUTOMATION_KIND, OutboxStatus, Store

REFER_ON_SUBMIT = Subscription(
    key="refer_on_submit",
    trigger=Trigger.LEAD_STAGE_CHANGED,
    to_stage="application_submitted",
    criteria=Criteria(include=(Condition("loan_purpose", Op.EQUALS, "Purchase"),)),
    action=CreateLead(source="referral", assign_to=AssignTo.CONTACT_OWNER),
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        s: Store = MemoryStore()
    else:
        from leadflow.storage.sqlite import SQLiteStore

        s = SQLiteStore(tmp_path / "journeys.db")
    yield s
    s.close()


def leads_of(store: Store, contact_id: UUID) -> list[Lead]:
    with store.unit_of_work() as uow:
        return sorted(uow.leads_of_contact(contact_id), key=lambda lead: lead.lead_id)


def jobs(store: Store) -> list[Any]:
    with store.unit_of_work() as uow:
        return [m for m in uow.messages() if m.kind == AUTOMATION_KIND]


def submit(desk: LeadDesk, purpose: str) -> tuple[Lead, UUID]:
    created = desk.create_lead(
        row(loan_purpose=purpose), source="purchased_leads", actor=None, origin=Origin.API
    )
    assert created.lead is not None
    assert created.contact is not None
    lead = desk.set_stage(created.lead.lead_id, "application_submitted", actor=2)
    return lead, created.contact.contact_id


def test_a_purchase_application_creates_one_referral_lead_for_the_contact_owner(
    store: Store,
) -> None:
    desk, clock = make_desk(store, subscriptions=[REFER_ON_SUBMIT])
    lead, contact_id = submit(desk, "Purchase")
    owner = lead.assignee_id
    assert owner is not None
    both = leads_of(store, contact_id)
    assert both[0].lead_id == lead.lead_id
    assert len(both) == 2
    made = both[1]
    assert made.attributes.source == "referral"
    assert made.assignee_id == owner  # the contact's owner: whoever routing gave the first lead
    assert made.origin is Origin.JOURNEY
    assert made.assignment_method == AssignmentMethod.OVERRIDE
    history = desk.history(made.lead_id)
    assert [type(e) for e in history] == [LeadCreated, LeadAssigned]
    assert history[0].actor is None  # an automation, not a person
    (job,) = jobs(store)
    assert job.status is OutboxStatus.SENT
    assert read_job(job).subscription == "refer_on_submit"
    # moving on fires nothing more; the job never runs twice
    clock.tick(days=1)
    desk.set_stage(lead.lead_id, "pre_approved", actor=2)
    report = desk.run_automations()
    assert (report.ran, report.created) == (0, ())
    assert len(leads_of(store, contact_id)) == 2


def test_a_refinance_application_creates_nothing(store: Store) -> None:
    desk, _ = make_desk(store, subscriptions=[REFER_ON_SUBMIT])
    _, contact_id = submit(desk, "Refinance - Cash Out")
    assert len(leads_of(store, contact_id)) == 1
    assert jobs(store) == []


def test_jobs_wait_for_the_host_when_the_desk_does_not_run_them(store: Store) -> None:
    desk, _ = make_desk(store, subscriptions=[REFER_ON_SUBMIT], run_subscriptions=False)
    _, contact_id = submit(desk, "Purchase")
    assert len(leads_of(store, contact_id)) == 1
    assert outbox_status(store, kind=AUTOMATION_KIND)["pending"] == 1
    report = desk.run_automations()
    assert report.ran == 1
    assert len(report.created) == 1
    assert len(leads_of(store, contact_id)) == 2
    assert outbox_status(store, kind=AUTOMATION_KIND) == {"pending": 0, "sent": 1, "failed": 0}


def test_a_failing_action_is_recorded_retried_and_never_undoes_the_command(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk, clock = make_desk(store, subscriptions=[REFER_ON_SUBMIT])
    real = desk.automations._run_job
    calls = []

    def flaky(*args: Any) -> Any:
        calls.append(args)
        if len(calls) <= 2:
            raise ConnectionError("the CRM's lead service is down")
        return real(*args)

    monkeypatch.setattr(desk.automations, "_run_job", flaky)
    lead, contact_id = submit(desk, "Purchase")
    # the stage change committed; the job failed and waits for its retry
    assert desk.get_lead(lead.lead_id).stage == "application_submitted"
    assert len(leads_of(store, contact_id)) == 1
    (job,) = jobs(store)
    assert (job.status, job.attempts) == (OutboxStatus.PENDING, 1)
    assert "lead service is down" in job.last_error
    assert job.next_attempt_at == T0 + timedelta(minutes=1)
    # not due yet: nothing runs
    assert desk.run_automations(T0 + timedelta(seconds=30)).ran == 0
    # the second attempt fails too, and waits twice as long
    report = desk.run_automations(T0 + timedelta(minutes=1))
    assert report.failed_now == 1
    (job,) = jobs(store)
    assert job.next_attempt_at == T0 + timedelta(minutes=3)
    clock.tick(minutes=3)
    report = desk.run_automations()
    assert (report.ran, len(report.created)) == (1, 1)
    assert len(leads_of(store, contact_id)) == 2
    assert desk.run_automations(T0 + timedelta(days=1)).ran == 0


def test_a_job_that_keeps_failing_ends_failed_and_visible(store: Store) -> None:
    queuing, _ = make_desk(store, subscriptions=[REFER_ON_SUBMIT], run_subscriptions=False)
    submit(queuing, "Purchase")
    other = LeadDesk(store)  # a desk that does not know the subscription
    for minutes in range(3):
        other.run_automations(T0 + timedelta(days=minutes + 1), max_attempts=3)
    (job,) = jobs(store)
    assert (job.status, job.attempts) == (OutboxStatus.FAILED, 3)
    assert "'refer_on_submit' is not registered" in job.last_error
    assert outbox_status(store, kind=AUTOMATION_KIND)["failed"] == 1


def test_a_subscription_feeding_itself_stops_at_the_depth_bound(store: Store) -> None:
    chain = Subscription(
        key="again_and_again",
        trigger=Trigger.LEAD_CREATED,
        criteria=Criteria(include=(Condition("source", Op.EQUALS, "referral"),)),
        action=CreateLead(source="referral", assign_to=AssignTo.CONTACT_OWNER),
    )
    desk, _ = make_desk(store, subscriptions=[chain])
    created = desk.create_lead(row(), source="referral", actor=2)
    assert created.contact is not None
    # the person's lead, then one per level of the chain
    assert len(leads_of(store, created.contact.contact_id)) == 1 + MAX_DEPTH
    assert all(job.status is OutboxStatus.SENT for job in jobs(store))
    assert [read_job(job).depth for job in jobs(store)] == list(range(1, MAX_DEPTH + 1))


def test_an_import_fires_lead_created_subscriptions(store: Store) -> None:
    welcome = Subscription(
        key="second_look",
        trigger=Trigger.LEAD_CREATED,
        criteria=Criteria(include=(Condition("source", Op.EQUALS, "purchased_leads"),)),
        action=CreateLead(source="referral"),
    )
    desk, _ = make_desk(store, subscriptions=[welcome])
    rows = [row(f"P{i}", "Lead", external_id=f"J-{i}") for i in range(5)]
    report = desk.import_rows(rows, source="purchased_leads", actor=1, chunk_size=2)
    assert report.assigned == 5
    with store.unit_of_work() as uow:
        assert uow.count_leads() == 10
    assert outbox_status(store, kind=AUTOMATION_KIND) == {"pending": 0, "sent": 5, "failed": 0}
    again = desk.import_rows(rows, source="purchased_leads", actor=1)
    assert again.duplicates == 5
    with store.unit_of_work() as uow:
        assert uow.count_leads() == 10


def test_subscriptions_must_name_configured_sources_and_users() -> None:
    bad = Subscription(
        key="nowhere",
        trigger=Trigger.LEAD_CREATED,
        action=CreateLead(source="billboard", assign_to=AssignTo.JOURNEY_USER, journey_user=99),
    )
    with pytest.raises(ConfigError) as caught:
        make_desk(MemoryStore(), subscriptions=[bad, bad])
    text = str(caught.value)
    assert "'billboard' is not configured" in text
    assert "journey user 99 does not exist" in text
    assert "registered twice" in text


def test_mail_delivery_leaves_automation_jobs_alone(store: Store) -> None:
    from leadflow.notify import MemoryNotifier, deliver_outbox

    desk, _ = make_desk(store, subscriptions=[REFER_ON_SUBMIT], run_subscriptions=False)
    submit(desk, "Purchase")
    notifier = MemoryNotifier()
    report = deliver_outbox(store, notifier, T0 + timedelta(hours=1))
    assert report.remaining == 0
    assert all(m.kind != AUTOMATION_KIND for m in notifier.sent)
    assert outbox_status(store, kind=AUTOMATION_KIND)["pending"] == 1


def test_a_stage_change_made_by_the_sweep_fires_its_journey_and_is_logged_once(
    store: Store,
) -> None:
    from leadflow.events import LeadStageChanged
    from leadflow.stages import call_log

    on_past_due = Subscription(
        key="refer_when_past_due",
        trigger=Trigger.LEAD_STAGE_CHANGED,
        to_stage="past_due",
        action=CreateLead(source="referral", assign_to=AssignTo.CONTACT_OWNER),
    )
    desk, clock = make_desk(store, playbook=call_log(), subscriptions=[on_past_due])
    created = desk.create_lead(row(), source="purchased_leads", actor=None)
    assert created.lead is not None
    assert created.contact is not None
    clock.tick(days=2, minutes=1)
    assert desk.advance().leads == 1
    lead = desk.get_lead(created.lead.lead_id)
    assert lead.stage == "past_due"
    changes = [e for e in desk.history(lead.lead_id) if isinstance(e, LeadStageChanged)]
    assert [(e.from_stage, e.to_stage) for e in changes] == [("not_scheduled", "past_due")]
    both = leads_of(store, created.contact.contact_id)
    assert len(both) == 2  # the journey made its lead, once
    assert both[1].attributes.source == "referral"
    assert both[1].assignee_id == lead.assignee_id
    assert desk.advance().leads == 0
    assert len(leads_of(store, created.contact.contact_id)) == 2
