"""LeadDesk commands end to end, on every store (DESIGN §3, D2, D6, D7, D9)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from desk_helpers import T0, make_desk, org, row
from leadflow.desk import LeadDesk
from leadflow.errors import Conflict, NotFound, PermissionDenied, ValidationError
from leadflow.events import (
    AssignmentMethod,
    LeadAssigned,
    LeadCreated,
    LeadStageChanged,
    LeadUpdated,
    NoteAdded,
    OutcomeLogged,
)
from leadflow.model import Origin
from leadflow.org import OrgSettings
from leadflow.routing import FailureReason, Outcome, Unroutable
from leadflow.stages import call_log, investor, lead_management
from leadflow.storage.memory import MemoryStore
from leadflow.storage.protocol import OutboxStatus, Store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Store]:
    if request.param == "memory":
        s: Store = MemoryStore()
    else:
        from leadflow.storage.sqlite import SQLiteStore

        s = SQLiteStore(tmp_path / "desk.db")  # type: ignore[operator]
    yield s
    s.close()


def test_a_routed_lead_is_stored_whole(store: Store) -> None:
    desk, _ = make_desk(store)
    created = desk.create_lead(row(), source="purchased_leads", actor=None, origin=Origin.API)
    assert created.outcome is Outcome.ASSIGNED
    lead, contact = created.lead, created.contact
    assert lead is not None
    assert contact is not None
    assert (lead.assignee_id, lead.assignment_method, lead.version) == (2, "routing", 1)
    assert contact.owner_id == 2
    assert lead.stage == "new"
    history = desk.history(lead.lead_id)
    assert [type(e) for e in history] == [LeadCreated, LeadAssigned]
    assert history[1].policy == "west_rr"  # type: ignore[attr-defined]
    with store.unit_of_work() as uow:
        assert uow.cursors()["west_rr"].last_user_id == 2
        (message,) = uow.messages(status=OutboxStatus.PENDING)
        assert message.recipient == "maria@example.com"
        assert str(lead.lead_id) in message.body_text
    second = desk.create_lead(row("Bob", "Stone"), source="purchased_leads", actor=None)
    assert second.lead is not None
    assert second.lead.assignee_id == 3


def test_a_non_admin_gets_the_lead_they_create(store: Store) -> None:
    desk, _ = make_desk(store)
    created = desk.create_lead(row(), source="purchased_leads", actor=4)
    assert created.lead is not None
    assert (created.lead.assignee_id, created.lead.assignment_method) == (4, "self")
    with pytest.raises(PermissionDenied, match="only an admin may name another assignee"):
        desk.create_lead(row("Bob", "Stone"), source="purchased_leads", actor=4, assignee=2)
    forced = desk.create_lead(row("Cy", "Young"), source="purchased_leads", actor=1, assignee=3)
    assert forced.lead is not None
    assert forced.lead.assignment_method == "override"


def test_a_repeat_contact_gets_a_new_lead_on_the_same_contact(store: Store) -> None:
    desk, _ = make_desk(store)
    first = desk.create_lead(row(), source="purchased_leads", actor=None)
    again = desk.create_lead(
        row(loan_purpose="HELOC", email="ANNIE.QUINCE@example.com"),
        source="purchased_leads",
        actor=None,
    )
    assert again.contact_matched
    assert again.contact is not None
    assert first.contact is not None
    assert again.contact.contact_id == first.contact.contact_id
    with store.unit_of_work() as uow:
        assert len(uow.leads_of_contact(first.contact.contact_id)) == 2


def test_validation_errors_store_nothing(store: Store) -> None:
    desk, _ = make_desk(store)
    with pytest.raises(ValidationError) as info:
        desk.create_lead(row(last="", email="bob@"), source="purchased_leads", actor=None)
    assert info.value.fields == ("last_name", "email")
    with pytest.raises(ValidationError, match="not a configured lead source"):
        desk.create_lead(row(), source="nope", actor=None)
    with store.unit_of_work() as uow:
        assert uow.count_leads() == 0


def test_a_lead_nobody_takes_is_held_with_an_exception(store: Store) -> None:
    desk, _ = make_desk(store)
    created = desk.create_lead(row(), source="referral", actor=None, origin=Origin.API)
    assert created.outcome is Outcome.HELD
    assert created.lead is not None
    assert created.lead.assignee_id is None
    assert created.contact is not None
    assert created.contact.owner_id is None
    (record,) = desk.exceptions()
    assert record.failure_reason is FailureReason.NO_POLICY
    assert record.campaign == "Referral"
    assigned = desk.assign_exception(created.lead.lead_id, 3, actor=1)
    assert assigned.assignee_id == 3
    assert desk.exceptions() == []
    with store.unit_of_work() as uow:
        assert uow.get_contact(created.contact.contact_id).owner_id == 3
    with pytest.raises(PermissionDenied):
        desk.assign_exception(created.lead.lead_id, 3, actor=2)


def test_reject_setting_stores_nothing(store: Store) -> None:
    config = org()
    import attrs

    config = attrs.evolve(
        config, settings=attrs.evolve(config.settings, unroutable=Unroutable.REJECT)
    )
    desk, _ = make_desk(store, config)
    created = desk.create_lead(row(), source="referral", actor=None)
    assert created.outcome is Outcome.REJECTED
    assert created.lead is None
    with store.unit_of_work() as uow:
        assert uow.count_leads() == 0


def test_import_is_idempotent_and_accounts_for_every_row(store: Store) -> None:
    desk, _ = make_desk(store)
    rows = [row(f"P{i}", "Lead", external_id=f"A-{i}") for i in range(10)]
    rows[3]["email"] = "broken@"
    rows[7] = {**rows[7], "loan_purpose": "Purchse"}
    seen = []
    report = desk.import_rows(
        rows, source="purchased_leads", actor=1, chunk_size=4, on_row=seen.append
    )
    assert (report.rows, report.assigned, report.rejected, report.duplicates) == (10, 8, 2, 0)
    assert [o.row_number for o in seen] == list(range(1, 11))
    rejected = [o for o in seen if o.status == "rejected"]
    assert [o.row_number for o in rejected] == [4, 8]
    assert rejected[0].error is not None
    assert rejected[0].error.fields == ("email",)
    again = desk.import_rows(rows, source="purchased_leads", actor=1)
    assert (again.rows, again.duplicates, again.rejected, again.assigned) == (10, 8, 2, 0)
    with store.unit_of_work() as uow:
        assert uow.count_leads() == 8


def test_re_importing_10000_rows_creates_nothing_and_reports_10000_duplicates(
    store: Store,
) -> None:
    config = org()
    LeadDesk.configure(store, config, actor=None, at=T0)
    desk = LeadDesk(store, config=config, playbook=lead_management(), clock=lambda: T0)
    rows = [row(f"P{i}", "Lead", external_id=f"T-{i}") for i in range(10_000)]
    made: list[UUID] = []
    first = desk.import_rows(
        rows,
        source="purchased_leads",
        actor=1,
        on_row=lambda outcome: made.append(outcome.lead.lead_id) if outcome.lead else None,
    )
    assert first.duplicates == 0
    assert first.assigned + first.unassigned == 10_000
    again = desk.import_rows(rows, source="purchased_leads", actor=1)
    assert (again.rows, again.duplicates, again.assigned, again.unassigned) == (
        10_000,
        10_000,
        0,
        0,
    )
    with store.unit_of_work() as uow:
        assert uow.count_leads() == 10_000
    # all made in one millisecond, the ids still sort in the order the rows came
    assert len(made) == 10_000
    assert made == sorted(made)


def test_import_assign_all_needs_an_admin(store: Store) -> None:
    desk, _ = make_desk(store)
    rows = [row(f"P{i}", "Lead", external_id=f"B-{i}") for i in range(3)]
    with pytest.raises(PermissionDenied, match="only an admin"):
        desk.import_rows(rows, source="purchased_leads", actor=2, assign_to=3)
    report = desk.import_rows(rows, source="purchased_leads", actor=1, assign_to=3)
    assert report.assigned == 3
    with store.unit_of_work() as uow:
        assert {lead.assignee_id for lead in uow.leads_of_assignee(3)} == {3}


def test_working_a_lead(store: Store) -> None:
    desk, clock = make_desk(store)
    created = desk.create_lead(row(), source="purchased_leads", actor=None)
    assert created.lead is not None
    assert created.contact is not None
    lead_id = created.lead.lead_id
    clock.tick(minutes=5)
    lead = desk.log_outcome(lead_id, "left_vm", actor=2, note="Tried again")
    assert lead.stage == "contact_attempted"
    clock.tick(days=1)
    lead = desk.set_stage(lead_id, "Application Submitted", actor=2)
    assert lead.stage == "application_submitted"
    desk.add_note(created.contact.contact_id, "Spoke with the spouse", actor=2, lead_id=lead_id)
    desk.update_lead(lead_id, {"loan_amount": "$312,500", "property_state": "tx"}, actor=2)
    history = desk.history(lead_id)
    kinds = [type(e) for e in history]
    assert kinds == [
        LeadCreated,
        LeadAssigned,
        OutcomeLogged,
        LeadStageChanged,
        LeadStageChanged,
        NoteAdded,
        LeadUpdated,
    ]
    update = history[-1]
    assert isinstance(update, LeadUpdated)
    assert [(c.field, c.old, c.new) for c in update.changes] == [
        ("loan_amount", None, "312500.00"),
        ("property_state", None, "TX"),
    ]
    with pytest.raises(ValidationError, match="contact field"):
        desk.update_lead(lead_id, {"email": "x@example.com"}, actor=2)
    with pytest.raises(ValidationError, match="system-generated"):
        desk.update_lead(lead_id, {"lead_id": "x"}, actor=2)
    assert desk.get_lead(lead_id).version == 5  # created, outcome, stage, note, update
    with pytest.raises(NotFound):
        desk.log_outcome(created.contact.contact_id, "left_vm", actor=2)


def test_a_refused_move_changes_nothing(store: Store) -> None:
    desk, _ = make_desk(store, playbook=investor())
    created = desk.create_lead(row(), source="purchased_leads", actor=None)
    assert created.lead is not None
    before = desk.get_lead(created.lead.lead_id)
    with pytest.raises(ValidationError, match="needs 3 prior 'wrong_number' reports"):
        desk.set_stage(before.lead_id, "wrong_number", actor=2)
    assert desk.get_lead(before.lead_id) == before
    assert len(desk.history(before.lead_id)) == 2


def test_claim_release_and_queue(store: Store) -> None:
    desk, _clock = make_desk(store, playbook=investor())
    created = desk.create_lead(row(), source="purchased_leads", actor=None)
    assert created.lead is not None
    lead_id = created.lead.lead_id
    assert [e.lead.lead_id for e in desk.queue(2)] == [lead_id]
    desk.release(lead_id, actor=2)
    assert desk.queue(2) == []
    assert [lead.lead_id for lead in desk.pool(3)] == [lead_id]
    desk.claim(lead_id, actor=3)
    with pytest.raises(Conflict, match="held by user 3"):
        desk.claim(lead_id, actor=4)
    assert desk.pool(4) == []
    assert [e.lead.lead_id for e in desk.queue(3)] == [lead_id]
    desk.assign(lead_id, 4, actor=1)
    assert desk.get_lead(lead_id).assignee_id == 4


def test_advance_touches_only_the_due_leads(store: Store) -> None:
    desk, clock = make_desk(store, playbook=call_log())
    ids = []
    for i in range(5):
        created = desk.create_lead(row(f"P{i}", "X"), source="purchased_leads", actor=None)
        assert created.lead is not None
        ids.append(created.lead.lead_id)
    desk.schedule_follow_up(ids[0], T0 + timedelta(days=30), actor=2)
    clock.tick(days=2, minutes=1)
    report = desk.advance()
    assert report.leads == 4  # the scheduled one is not due
    assert {desk.get_lead(i).stage for i in ids[1:]} == {"past_due"}
    assert desk.get_lead(ids[0]).stage == "scheduled"
    assert desk.advance().leads == 0


def test_speed_to_lead_reroutes(store: Store) -> None:
    import attrs

    from leadflow.stages import leads_queue

    book = attrs.evolve(leads_queue(), speed_to_lead=timedelta(minutes=15))
    desk, clock = make_desk(store, playbook=book)
    created = desk.create_lead(row(), source="purchased_leads", actor=None)
    assert created.lead is not None
    assert created.lead.assignee_id == 2
    clock.tick(minutes=20)
    report = desk.advance()
    assert report.rerouted == 1
    assert desk.get_lead(created.lead.lead_id).assignee_id == 3


def test_notifications_can_be_turned_off(store: Store) -> None:
    desk, _ = make_desk(store, org(notify_on_assignment=False))
    desk.create_lead(row(), source="purchased_leads", actor=None)
    with store.unit_of_work() as uow:
        assert uow.messages() == []


def test_configuration_changes_are_admin_only_and_recorded(store: Store) -> None:
    from leadflow.desk import LeadDesk

    make_desk(store)
    with pytest.raises(PermissionDenied):
        LeadDesk.configure(store, org(), actor=2)
    LeadDesk.configure(store, org(name="Acme Lending 2"), actor=1)
    with store.unit_of_work() as uow:
        history = uow.config_history()
        assert [h[1] for h in history] == [None, 1]
        current = uow.load_config()
        assert current is not None
        assert current.settings.name == "Acme Lending 2"


def test_method_recorded_for_exception_assignment(store: Store) -> None:
    desk, _ = make_desk(store)
    created = desk.create_lead(row(), source="referral", actor=None)
    assert created.lead is not None
    desk.assign_exception(created.lead.lead_id, 2, actor=1)
    event = desk.history(created.lead.lead_id)[-1]
    assert isinstance(event, LeadAssigned)
    assert event.method is AssignmentMethod.EXCEPTION
    assert OrgSettings().contact_matching == "policy_pool"
