"""The storage contract, part one: units of work, versions, uniqueness, batches, cursors."""

from __future__ import annotations

import re
from datetime import datetime

import attrs
import pytest

from leadflow.errors import Conflict, NotFound, ValidationError
from leadflow.events import (
    AssignmentMethod,
    Event,
    LeadAssigned,
)
from leadflow.model import (
    Contact,
    Lead,
    LeadAttributes,
)
from leadflow.routing.engine import PolicyCursor
from leadflow.routing.exceptions import ExceptionRecord
from leadflow.storage.protocol import OutboxMessage, OutboxStatus, Store, UnitOfWork
from leadflow.testing.contract.builders import (
    _CHICAGO,
    HOUR,
    T0,
    _by_id,
    _contacts_by_id,
    _names,
    lifecycle,
    make_config,
    make_contact,
    make_lead,
    make_message,
    make_record,
    rolled_back,
    run,
)


class UnitsOfWorkContract:
    """Units of work commit or roll back whole; versions, unique keys, batches and cursors."""

    # ------------------------------------------------------------------ commit and rollback

    def _everything(self) -> tuple[Contact, Lead, list[Event], ExceptionRecord, OutboxMessage]:
        contact = make_contact(email="ada@example.com", phone="+15552014567", owner=7)
        lead = make_lead(contact_id=contact.contact_id, external_id="W-1")
        events = lifecycle(lead)[:2]
        return contact, lead, events, make_record(lead), make_message(lead_id=lead.lead_id)

    def _write_everything(
        self,
        uow: UnitOfWork,
        everything: tuple[Contact, Lead, list[Event], ExceptionRecord, OutboxMessage],
    ) -> Lead:
        contact, lead, events, record, message = everything
        uow.add_contact(contact)
        stored = uow.add_lead(lead, next_change_at=T0 + HOUR)
        uow.append_events(events)
        uow.save_cursor("web_rr", PolicyCursor(last_user_id=7))
        uow.put_exception(record)
        uow.add_message(message)
        uow.save_config(make_config(), actor=1, at=T0)
        return stored

    def test_a_committed_unit_of_work_is_visible_in_the_next(self, store: Store) -> None:
        everything = self._everything()
        contact, lead, events, record, message = everything
        stored = run(store, lambda uow: self._write_everything(uow, everything))
        assert stored == attrs.evolve(lead, version=1)
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == stored
            assert uow.find_lead("web", "W-1") == stored
            assert uow.count_leads() == 1
            assert uow.due_leads(T0 + HOUR) == [stored]
            assert uow.leads_of_contact(contact.contact_id) == [stored]
            assert uow.get_contact(contact.contact_id) == contact
            assert uow.find_contacts(emails=["ada@example.com"]) == [contact]
            assert uow.history(lead.lead_id) == events
            assert uow.activity(start=T0, end=T0 + HOUR) == events
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=7)}
            assert uow.get_exception(lead.lead_id) == record
            assert uow.exceptions() == [record]
            assert uow.messages() == [message]
            assert uow.load_config() == make_config()
            assert uow.config_history() == [(T0, 1, make_config())]

    def test_an_exception_inside_the_block_rolls_everything_back(self, store: Store) -> None:
        everything = self._everything()
        contact, lead, _, _, _ = everything
        with rolled_back(store) as uow:
            self._write_everything(uow, everything)
        with store.unit_of_work() as uow:
            with pytest.raises(NotFound):
                uow.get_lead(lead.lead_id)
            assert uow.find_lead("web", "W-1") is None
            assert uow.count_leads() == 0
            assert uow.due_leads(T0 + HOUR) == []
            assert uow.leads_of_contact(contact.contact_id) == []
            with pytest.raises(NotFound):
                uow.get_contact(contact.contact_id)
            assert uow.find_contacts(emails=["ada@example.com"], phones=["+15552014567"]) == []
            assert uow.history(lead.lead_id) == []
            assert uow.activity(start=T0, end=T0 + HOUR) == []
            assert uow.cursors() == {}
            with pytest.raises(NotFound):
                uow.get_exception(lead.lead_id)
            assert uow.exceptions(include_closed=True) == []
            assert uow.messages() == []
            assert uow.load_config() is None
            assert uow.config_history() == []

    def test_the_exception_comes_out_of_the_block_unchanged(self, store: Store) -> None:
        failure = RuntimeError("the notifier is down")
        lead = make_lead()

        def fail() -> None:
            with store.unit_of_work() as uow:
                uow.add_lead(lead, next_change_at=None)
                raise failure

        with pytest.raises(RuntimeError) as raised:
            fail()
        assert raised.value is failure
        assert run(store, lambda uow: uow.count_leads()) == 0

    def test_a_rollback_restores_every_value_it_changed(self, store: Store) -> None:
        contact = make_contact(email="ada@example.com", owner=7)
        lead = make_lead(contact_id=contact.contact_id, external_id="W-1", assignee=7)
        record = make_record(lead)
        message = make_message(lead_id=lead.lead_id)
        with store.unit_of_work() as uow:
            uow.add_contact(contact)
            stored = uow.add_lead(lead, next_change_at=T0 + HOUR)
            uow.save_cursor("web_rr", PolicyCursor(last_user_id=7))
            uow.put_exception(record)
            uow.add_message(message)
            uow.save_config(make_config("Before"), actor=1, at=T0)

        with rolled_back(store) as uow:
            changed = attrs.evolve(
                stored,
                stage="contacted",
                assignee_id=8,
                attributes=attrs.evolve(stored.attributes, external_id="W-2"),
            )
            uow.update_lead(changed, next_change_at=None)
            details = attrs.evolve(contact.details, email="ada.q@example.com")
            uow.update_contact(attrs.evolve(contact, details=details, owner_id=8))
            uow.save_cursor("web_rr", PolicyCursor(last_user_id=8))
            uow.save_cursor("web_fallback", PolicyCursor(last_user_id=9))
            uow.put_exception(make_record(lead, assigned_to=8, closed_at=T0 + HOUR))
            uow.update_message(attrs.evolve(message, status=OutboxStatus.SENT, attempts=1))
            uow.save_config(make_config("After"), actor=2, at=T0 + HOUR)
            uow.append_events(lifecycle(lead))

        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == stored
            assert uow.leads_of_assignee(7) == [stored]
            assert uow.leads_of_assignee(8) == []
            assert uow.due_leads(T0 + HOUR) == [stored]
            assert uow.find_lead("web", "W-1") == stored
            assert uow.find_lead("web", "W-2") is None
            assert uow.get_contact(contact.contact_id) == contact
            assert uow.find_contacts(emails=["ada@example.com"], owners=[7]) == [contact]
            assert uow.find_contacts(emails=["ada.q@example.com"]) == []
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=7)}
            assert uow.get_exception(lead.lead_id) == record
            assert uow.messages(status=OutboxStatus.PENDING) == [message]
            assert uow.messages(status=OutboxStatus.SENT) == []
            assert uow.load_config() == make_config("Before")
            assert len(uow.config_history()) == 1
            assert uow.history(lead.lead_id) == []

    def test_a_conflict_caught_inside_a_unit_of_work_leaves_it_usable(self, store: Store) -> None:
        first, second = make_lead(external_id="W-1"), make_lead(external_id="W-2")
        with store.unit_of_work() as uow:
            stored = uow.add_lead(first, next_change_at=None)
            with pytest.raises(Conflict):
                uow.add_lead(first, next_change_at=T0)
            with pytest.raises(Conflict):
                uow.add_lead(attrs.evolve(second, attributes=first.attributes), next_change_at=T0)
            assert uow.get_lead(first.lead_id) == stored
            assert uow.due_leads(T0) == []
            other = uow.add_lead(second, next_change_at=None)
        with store.unit_of_work() as uow:
            assert _by_id(uow.pool_leads()) == _by_id([stored, other])

    def test_a_unit_of_work_reads_its_own_writes(self, store: Store) -> None:
        contact = make_contact(phone="+15552014567", owner=7)
        lead = make_lead(contact_id=contact.contact_id, external_id="W-1", assignee=7)
        with store.unit_of_work() as uow:
            uow.add_contact(contact)
            assert uow.get_contact(contact.contact_id) == contact
            assert uow.find_contacts(phones=["+15552014567"]) == [contact]
            stored = uow.add_lead(lead, next_change_at=T0)
            assert uow.get_lead(lead.lead_id) == stored
            assert uow.find_lead("web", "W-1") == stored
            assert uow.leads_of_assignee(7) == [stored]
            assert uow.leads_of_contact(contact.contact_id) == [stored]
            assert uow.due_leads(T0) == [stored]
            assert uow.count_leads() == 1
            assert uow.open_counts([7]) == {7: 1}
            updated = uow.update_lead(attrs.evolve(stored, stage="attempted"), next_change_at=None)
            assert uow.get_lead(lead.lead_id) == updated
            assert updated.version == 2
            assert uow.due_leads(T0) == []
            events = lifecycle(lead)[:3]
            uow.append_events(events)
            assert uow.history(lead.lead_id) == events
            uow.save_cursor("web_rr", PolicyCursor(last_user_id=7, weights=((7, 2),)))
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=7, weights=((7, 2),))}
            uow.put_exception(make_record(lead))
            assert uow.get_exception(lead.lead_id) == make_record(lead)
            message = make_message(lead_id=lead.lead_id)
            uow.add_message(message)
            assert uow.messages() == [message]
            uow.save_config(make_config(), actor=None, at=T0)
            assert uow.load_config() == make_config()

    # ------------------------------------------------------------------ versions

    def test_add_lead_stores_version_one(self, store: Store) -> None:
        lead = make_lead()
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        assert stored == attrs.evolve(lead, version=1)
        assert run(store, lambda uow: uow.get_lead(lead.lead_id)) == stored

    def test_add_lead_refuses_a_lead_that_already_has_a_version(self, store: Store) -> None:
        lead = attrs.evolve(make_lead(), version=1)
        with store.unit_of_work() as uow, pytest.raises(ValidationError):
            uow.add_lead(lead, next_change_at=None)
        assert run(store, lambda uow: uow.count_leads()) == 0

    def test_each_update_adds_one_to_the_version(self, store: Store) -> None:
        lead = make_lead()
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        for version, stage in enumerate(["attempted", "contacted", "nurture"], start=2):
            changed = attrs.evolve(stored, stage=stage, updated_at=stored.updated_at + HOUR)
            with store.unit_of_work() as uow:
                stored = uow.update_lead(changed, next_change_at=None)
            assert stored == attrs.evolve(changed, version=version)
            assert run(store, lambda uow: uow.get_lead(lead.lead_id)) == stored

    def test_an_update_from_a_stale_version_is_a_conflict(self, store: Store) -> None:
        lead = make_lead(assignee=7)
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        mine = attrs.evolve(stored, stage="attempted")
        theirs = attrs.evolve(stored, stage="contacted", assignee_id=8)
        winner = run(store, lambda uow: uow.update_lead(theirs, next_change_at=T0))
        with store.unit_of_work() as uow:
            with pytest.raises(Conflict, match=_names(lead.lead_id)):
                uow.update_lead(mine, next_change_at=None)
            assert uow.get_lead(lead.lead_id) == winner
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == winner
            assert winner.version == 2
            assert uow.due_leads(T0) == [winner]
            assert uow.leads_of_assignee(7) == []
            assert uow.leads_of_assignee(8) == [winner]
            with pytest.raises(Conflict, match=_names(lead.lead_id)):
                uow.update_lead(lead, next_change_at=None)  # version 0: never stored as such

    def test_updating_a_lead_never_stored_is_not_found(self, store: Store) -> None:
        lead = attrs.evolve(make_lead(), version=1)
        with store.unit_of_work() as uow, pytest.raises(NotFound, match=_names(lead.lead_id)):
            uow.update_lead(lead, next_change_at=None)
        assert run(store, lambda uow: uow.count_leads()) == 0

    # ------------------------------------------------------------------ uniqueness

    def test_a_duplicate_lead_id_is_a_conflict(self, store: Store) -> None:
        lead = make_lead(external_id="W-1")
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        again = attrs.evolve(lead, stage="attempted", attributes=LeadAttributes(source="phone"))
        with store.unit_of_work() as uow, pytest.raises(Conflict, match=_names(lead.lead_id)):
            uow.add_lead(again, next_change_at=T0)
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == stored
            assert uow.count_leads() == 1
            assert uow.due_leads(T0) == []

    def test_a_duplicate_contact_id_is_a_conflict(self, store: Store) -> None:
        contact = make_contact(email="ada@example.com")
        run(store, lambda uow: uow.add_contact(contact))
        again = attrs.evolve(contact, owner_id=9)
        with (
            store.unit_of_work() as uow,
            pytest.raises(Conflict, match=_names(contact.contact_id)),
        ):
            uow.add_contact(again)
        assert run(store, lambda uow: uow.get_contact(contact.contact_id)) == contact

    def test_a_duplicate_message_id_is_a_conflict(self, store: Store) -> None:
        message = make_message()
        run(store, lambda uow: uow.add_message(message))
        again = attrs.evolve(message, subject="Another subject")
        with (
            store.unit_of_work() as uow,
            pytest.raises(Conflict, match=_names(message.message_id)),
        ):
            uow.add_message(again)
        assert run(store, lambda uow: uow.messages()) == [message]

    def test_a_duplicate_external_id_of_one_source_is_a_conflict(self, store: Store) -> None:
        first = make_lead(source="web", external_id="W-1")
        stored = run(store, lambda uow: uow.add_lead(first, next_change_at=None))
        second = make_lead(source="web", external_id="W-1")
        with store.unit_of_work() as uow, pytest.raises(Conflict, match="W-1"):
            uow.add_lead(second, next_change_at=None)
        with store.unit_of_work() as uow:
            assert uow.find_lead("web", "W-1") == stored
            with pytest.raises(NotFound):
                uow.get_lead(second.lead_id)

    def test_the_same_external_id_under_another_source_is_another_lead(self, store: Store) -> None:
        web = make_lead(source="web", external_id="42")
        phone = make_lead(source="phone", external_id="42")
        with store.unit_of_work() as uow:
            stored_web = uow.add_lead(web, next_change_at=None)
            stored_phone = uow.add_lead(phone, next_change_at=None)
        with store.unit_of_work() as uow:
            assert uow.find_lead("web", "42") == stored_web
            assert uow.find_lead("phone", "42") == stored_phone
            assert uow.find_lead("referral", "42") is None

    def test_leads_without_an_external_id_never_collide(self, store: Store) -> None:
        leads = [make_lead(source="web") for _ in range(3)]
        with store.unit_of_work() as uow:
            for lead in leads:
                uow.add_lead(lead, next_change_at=None)
        assert run(store, lambda uow: uow.count_leads()) == 3

    def test_an_update_may_not_take_another_leads_external_id(self, store: Store) -> None:
        first, second = make_lead(external_id="W-1"), make_lead(external_id="W-2")
        with store.unit_of_work() as uow:
            uow.add_lead(first, next_change_at=None)
            stored = uow.add_lead(second, next_change_at=None)
        taking = attrs.evolve(stored, attributes=attrs.evolve(stored.attributes, external_id="W-1"))
        with store.unit_of_work() as uow, pytest.raises(Conflict, match="W-1"):
            uow.update_lead(taking, next_change_at=None)
        moving = attrs.evolve(stored, attributes=attrs.evolve(stored.attributes, external_id="W-3"))
        moved = run(store, lambda uow: uow.update_lead(moving, next_change_at=None))
        with store.unit_of_work() as uow:
            assert uow.get_lead(second.lead_id) == moved
            assert uow.find_lead("web", "W-3") == moved
            assert uow.find_lead("web", "W-2") is None
            assert uow.find_lead("web", "W-1") == attrs.evolve(first, version=1)

    # ------------------------------------------------------------------ batches

    def test_find_leads_by_external_ids_finds_many_at_once(self, store: Store) -> None:
        leads = [
            make_lead(source="web", external_id="W-1"),
            make_lead(source="web", external_id="W-2"),
            make_lead(source="phone", external_id="W-3"),
            make_lead(source="web"),
        ]
        with store.unit_of_work() as uow:
            w1, w2, _, _ = [uow.add_lead(lead, next_change_at=None) for lead in leads]
        with store.unit_of_work() as uow:
            found = uow.find_leads_by_external_ids("web", ["W-1", "W-2", "W-3", "w-1", "none"])
            assert found == {"W-1": w1, "W-2": w2}
            assert uow.find_leads_by_external_ids("web", {"W-2"}) == {"W-2": w2}
            assert uow.find_leads_by_external_ids("web", ("W-2", "W-2")) == {"W-2": w2}
            assert uow.find_leads_by_external_ids("referral", ["W-1"]) == {}
            assert uow.find_leads_by_external_ids("web", []) == {}
            # what find_lead gives for each id
            for external_id in ("W-1", "W-2", "W-3", "none"):
                assert uow.find_leads_by_external_ids("web", [external_id]).get(
                    external_id
                ) == uow.find_lead("web", external_id)

    def test_find_leads_by_external_ids_reads_the_units_own_writes(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            stored = uow.add_lead(make_lead(external_id="W-1"), next_change_at=None)
            assert uow.find_leads_by_external_ids("web", ["W-1"]) == {"W-1": stored}

    def test_add_leads_stores_each_at_version_one_in_order(self, store: Store) -> None:
        contact = make_contact(owner=7)
        leads = [
            make_lead(contact_id=contact.contact_id, external_id="W-1", assignee=7),
            make_lead(contact_id=contact.contact_id, at=T0 + HOUR),
            make_lead(external_id="W-2"),
        ]
        moments = [T0 + 2 * HOUR, None, (T0 + HOUR).astimezone(_CHICAGO)]
        stored = [attrs.evolve(lead, version=1) for lead in leads]
        with store.unit_of_work() as uow:
            uow.add_leads([])
            uow.add_leads(list(zip(leads, moments, strict=True)))
            assert [uow.get_lead(lead.lead_id) for lead in leads] == stored
        with store.unit_of_work() as uow:
            assert [uow.get_lead(lead.lead_id) for lead in leads] == stored
            assert uow.count_leads() == 3
            assert uow.due_leads(T0 + 3 * HOUR) == [stored[2], stored[0]]
            assert uow.find_leads_by_external_ids("web", ["W-1", "W-2"]) == {
                "W-1": stored[0],
                "W-2": stored[2],
            }
            assert uow.leads_of_contact(contact.contact_id) == stored[:2]
            assert uow.leads_of_assignee(7) == [stored[0]]
            assert uow.routed_counts([7], since=T0) == {}
            assert uow.open_counts([7]) == {7: 1}
        # and each one is an ordinary stored lead
        changed = attrs.evolve(stored[1], stage="attempted")
        assert run(store, lambda uow: uow.update_lead(changed, next_change_at=None)).version == 2

    def test_add_leads_stores_none_when_one_is_refused(self, store: Store) -> None:
        taken = run(
            store, lambda uow: uow.add_lead(make_lead(external_id="W-1"), next_change_at=T0)
        )
        fresh = [make_lead(external_id="W-2"), make_lead(external_id="W-3")]
        twin = make_lead()
        naive = datetime(2026, 3, 2, 9, 0)
        batches: list[tuple[list[tuple[Lead, datetime | None]], type[Exception], str]] = [
            # an external id, or a lead id, stored already
            (
                [(fresh[0], T0), (fresh[1], None), (make_lead(external_id="W-1"), None)],
                Conflict,
                "W-1",
            ),
            (
                [(fresh[0], T0), (attrs.evolve(taken, version=0), None)],
                Conflict,
                str(taken.lead_id),
            ),
            # a lead id, or an external id, twice in the batch
            ([(fresh[0], T0), (fresh[1], None), (fresh[0], None)], Conflict, str(fresh[0].lead_id)),
            ([(fresh[0], T0), (make_lead(external_id="W-2"), None)], Conflict, "W-2"),
            # a lead that is not new, a naive moment
            ([(fresh[0], T0), (attrs.evolve(twin, version=1), None)], ValidationError, "version"),
            ([(fresh[0], T0), (twin, naive)], ValidationError, "next_change_at"),
        ]
        for batch, error, named in batches:
            contact = make_contact()
            with store.unit_of_work() as uow:
                with pytest.raises(error, match=re.escape(named)):
                    uow.add_leads(batch)
                # the refused batch left nothing behind, and the unit of work goes on
                assert uow.count_leads() == 1
                assert uow.due_leads(T0) == [taken]
                assert uow.find_leads_by_external_ids("web", ["W-1", "W-2", "W-3"]) == {
                    "W-1": taken
                }
                uow.add_contact(contact)
            with store.unit_of_work() as uow:
                assert uow.get_contact(contact.contact_id) == contact
                assert uow.count_leads() == 1
                for lead, _ in batch:
                    if lead.lead_id != taken.lead_id:
                        with pytest.raises(NotFound):
                            uow.get_lead(lead.lead_id)

    def test_batches_roll_back_with_their_unit_of_work(self, store: Store) -> None:
        contact = make_contact(email="ada@example.com")
        lead = make_lead(contact_id=contact.contact_id, external_id="W-1")
        message = make_message(lead_id=lead.lead_id)
        with rolled_back(store) as uow:
            uow.add_contacts([contact])
            uow.add_leads([(lead, T0)])
            uow.add_messages([message])
            assert uow.find_contacts(emails=["ada@example.com"]) == [contact]
            assert uow.messages() == [message]
        with store.unit_of_work() as uow:
            assert uow.count_leads() == 0
            assert uow.due_leads(T0) == []
            assert uow.find_leads_by_external_ids("web", ["W-1"]) == {}
            assert uow.find_contacts(emails=["ada@example.com"]) == []
            assert uow.messages() == []
            with pytest.raises(NotFound):
                uow.get_contact(contact.contact_id)

    def test_add_contacts_stores_each(self, store: Store) -> None:
        contacts = [
            make_contact(email="ada@example.com", owner=7),
            make_contact(phone="+15552014567", owner=8, at=(T0 + HOUR).astimezone(_CHICAGO)),
            make_contact(email="bo@example.com", phone="+15552019999"),
        ]
        with store.unit_of_work() as uow:
            uow.add_contacts([])
            uow.add_contacts(contacts)
        with store.unit_of_work() as uow:
            assert [uow.get_contact(c.contact_id) for c in contacts] == contacts
            emails = ["ada@example.com", "bo@example.com"]
            found = uow.find_contacts(emails=emails, phones=["+15552014567"], owners=[7, 8])
            assert _contacts_by_id(found) == _contacts_by_id(contacts[:2])

    def test_add_contacts_stores_none_when_one_is_refused(self, store: Store) -> None:
        stored = make_contact(email="ada@example.com")
        run(store, lambda uow: uow.add_contact(stored))
        fresh = make_contact(email="bo@example.com")
        for batch in ([fresh, stored], [fresh, make_contact(), fresh]):
            named = batch[-1].contact_id
            with store.unit_of_work() as uow:
                with pytest.raises(Conflict, match=_names(named)):
                    uow.add_contacts(batch)
                assert uow.find_contacts(emails=["bo@example.com"]) == []
                uow.add_contacts([])  # the unit of work goes on
            with store.unit_of_work() as uow:
                for contact in batch[:-1]:
                    with pytest.raises(NotFound):
                        uow.get_contact(contact.contact_id)
                assert uow.get_contact(stored.contact_id) == stored

    def test_add_messages_queues_each_in_order(self, store: Store) -> None:
        early = make_message(at=T0 - HOUR)
        batch = [make_message(recipient=f"u{n}@example.com") for n in range(4)]
        single = make_message()
        with store.unit_of_work() as uow:
            uow.add_messages([])
            uow.add_messages(batch[:2])
            uow.add_message(single)
            uow.add_messages([batch[2], early, batch[3]])
        expected = [early, batch[0], batch[1], single, batch[2], batch[3]]
        with store.unit_of_work() as uow:
            assert uow.messages() == expected
            assert uow.messages(status=OutboxStatus.PENDING) == expected
            sent = attrs.evolve(batch[1], status=OutboxStatus.SENT, attempts=1)
            uow.update_message(sent)
            assert uow.messages(status=OutboxStatus.SENT) == [sent]

    def test_add_messages_queues_none_when_one_is_refused(self, store: Store) -> None:
        queued = make_message()
        run(store, lambda uow: uow.add_message(queued))
        fresh = make_message(recipient="new@example.com")
        for batch in ([fresh, queued], [fresh, make_message(), fresh]):
            named = batch[-1].message_id
            with store.unit_of_work() as uow:
                with pytest.raises(Conflict, match=_names(named)):
                    uow.add_messages(batch)
                assert uow.messages() == [queued]
        assert run(store, lambda uow: uow.messages()) == [queued]

    # ------------------------------------------------------------------ routing cursors

    def test_cursors_start_empty_and_save_cursor_replaces(self, store: Store) -> None:
        assert run(store, lambda uow: uow.cursors()) == {}
        run(store, lambda uow: uow.save_cursor("web_rr", PolicyCursor(last_user_id=7)))
        run(store, lambda uow: uow.save_cursor("web_rr", PolicyCursor(8, ((7, -1), (8, 1)))))
        run(store, lambda uow: uow.save_cursor("phone_rr", PolicyCursor()))
        assert run(store, lambda uow: uow.cursors()) == {
            "web_rr": PolicyCursor(8, ((7, -1), (8, 1))),
            "phone_rr": PolicyCursor(),
        }

    def _assign(self, uow: UnitOfWork, lead: Lead, user_id: int) -> Lead:
        assigned = attrs.evolve(
            lead,
            assignee_id=user_id,
            assigned_at=T0 + HOUR,
            assignment_method=str(AssignmentMethod.ROUTING),
        )
        stored = uow.update_lead(assigned, next_change_at=None)
        uow.save_cursor("web_rr", PolicyCursor(last_user_id=user_id))
        uow.append_events(
            [
                LeadAssigned(
                    at=T0 + HOUR,
                    actor=None,
                    lead_id=lead.lead_id,
                    assignee_id=user_id,
                    method=AssignmentMethod.ROUTING,
                    policy="web_rr",
                )
            ]
        )
        return stored

    def test_a_cursor_commits_with_the_assignment_it_made(self, store: Store) -> None:
        lead = run(store, lambda uow: uow.add_lead(make_lead(), next_change_at=T0))
        assigned = run(store, lambda uow: self._assign(uow, lead, 7))
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == assigned
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=7)}
            assert uow.routed_counts([7], since=T0) == {7: 1}
            assert len(uow.history(lead.lead_id)) == 1

    def test_a_cursor_rolls_back_with_the_assignment_it_made(self, store: Store) -> None:
        lead = run(store, lambda uow: uow.add_lead(make_lead(), next_change_at=T0))
        run(store, lambda uow: uow.save_cursor("web_rr", PolicyCursor(last_user_id=6)))
        with rolled_back(store) as uow:
            self._assign(uow, lead, 7)
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == lead
            assert uow.cursors() == {"web_rr": PolicyCursor(last_user_id=6)}
            assert uow.routed_counts([7], since=T0) == {}
            assert uow.history(lead.lead_id) == []
            assert uow.pool_leads() == [lead]
