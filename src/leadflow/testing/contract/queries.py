"""The storage contract, part two: every query, and values that read back equal."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import NotFound
from leadflow.events import (
    EVENT_TYPES,
    AssignmentMethod,
    NoteAdded,
    Signal,
    apply_events,
)
from leadflow.model import (
    Contact,
    ContactDetails,
    CreditRating,
    Lead,
    LoanPurpose,
)
from leadflow.storage.protocol import OutboxStatus, Store, UnitOfWork
from leadflow.testing import strategies as lfst
from leadflow.testing.contract.builders import (
    _CHICAGO,
    _LEAD_STAGES,
    _PROPERTY,
    HOUR,
    T0,
    _by_id,
    _contacts_by_id,
    _names,
    _records_by_id,
    _serial,
    lifecycle,
    make_config,
    make_contact,
    make_lead,
    make_message,
    make_record,
    new_id,
    rolled_back,
    run,
)


class QueriesContract:
    """Every query as the protocol says, and values that read back equal to what was written."""

    # ------------------------------------------------------------------ lead queries

    def test_get_lead_of_an_unknown_id_is_not_found(self, store: Store) -> None:
        lead_id = new_id()
        with store.unit_of_work() as uow, pytest.raises(NotFound, match=_names(lead_id)):
            uow.get_lead(lead_id)

    def test_find_lead_looks_up_source_and_external_id(self, store: Store) -> None:
        lead = make_lead(source="web", external_id="W-1")
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        with store.unit_of_work() as uow:
            assert uow.find_lead("web", "W-1") == stored
            assert uow.find_lead("web", "W-2") is None
            assert uow.find_lead("phone", "W-1") is None
            assert uow.find_lead("web", "w-1") is None

    def test_leads_of_assignee_skip_killed_leads_and_excluded_stages(self, store: Store) -> None:
        mine = [
            make_lead(assignee=7),
            make_lead(assignee=7, stage="contacted"),
            make_lead(assignee=7, stage="closed"),
        ]
        others = [
            make_lead(assignee=7, killed=True),
            make_lead(assignee=8),
            make_lead(),
        ]
        with store.unit_of_work() as uow:
            stored = [uow.add_lead(lead, next_change_at=None) for lead in mine + others]
        with store.unit_of_work() as uow:
            assert _by_id(uow.leads_of_assignee(7)) == _by_id(stored[:3])
            assert _by_id(uow.leads_of_assignee(7, exclude_stages={"closed"})) == _by_id(stored[:2])
            assert uow.leads_of_assignee(7, exclude_stages=["closed", "new", "contacted"]) == []
            assert uow.leads_of_assignee(8) == [stored[4]]
            assert uow.leads_of_assignee(9) == []

    def test_pool_leads_are_unheld_leads_and_held_leads_in_pool_stages(self, store: Store) -> None:
        pooled = [make_lead(), make_lead(stage="closed"), make_lead(assignee=7, stage="nurture")]
        never = [
            make_lead(killed=True),
            make_lead(assignee=7),
            make_lead(assignee=8, stage="nurture", killed=True),
        ]
        with store.unit_of_work() as uow:
            stored = [uow.add_lead(lead, next_change_at=None) for lead in pooled + never]
        unheld, unheld_closed, held_nurture = stored[:3]
        with store.unit_of_work() as uow:
            assert _by_id(uow.pool_leads()) == _by_id([unheld, unheld_closed])
            assert _by_id(uow.pool_leads(pool_stages={"nurture"})) == _by_id(stored[:3])
            assert _by_id(
                uow.pool_leads(pool_stages=["nurture"], exclude_stages=["closed"])
            ) == _by_id([unheld, held_nurture])
            assert uow.pool_leads(
                pool_stages={"nurture"}, exclude_stages={"nurture", "closed"}
            ) == [unheld]
            assert uow.pool_leads(exclude_stages={"new", "closed"}) == []

    def test_pool_leads_are_empty_when_every_lead_is_held(self, store: Store) -> None:
        assert run(store, lambda uow: uow.pool_leads()) == []
        run(store, lambda uow: uow.add_lead(make_lead(assignee=7), next_change_at=None))
        assert run(store, lambda uow: uow.pool_leads(pool_stages={"nurture"})) == []

    def test_due_leads_are_due_at_or_before_now_earliest_first(self, store: Store) -> None:
        moments = [
            T0 + 2 * HOUR,
            T0,
            (T0 + HOUR).astimezone(_CHICAGO),
            None,
            T0 + 5 * HOUR,
        ]
        leads = [make_lead() for _ in moments]
        with store.unit_of_work() as uow:
            a, b, c, _, e = (
                uow.add_lead(lead, next_change_at=moment)
                for lead, moment in zip(leads, moments, strict=True)
            )
        with store.unit_of_work() as uow:
            assert uow.due_leads(T0 - timedelta(seconds=1)) == []
            assert uow.due_leads(T0) == [b]
            assert uow.due_leads(T0 + 2 * HOUR) == [b, c, a]
            assert uow.due_leads((T0 + 2 * HOUR).astimezone(_CHICAGO)) == [b, c, a]
            assert uow.due_leads(T0 + 100 * HOUR) == [b, c, a, e]
            assert uow.due_leads(T0 + 100 * HOUR, limit=2) == [b, c]
            assert uow.due_leads(T0 + 100 * HOUR, limit=10) == [b, c, a, e]
            assert uow.due_leads(T0 + 100 * HOUR, limit=0) == []

    def test_a_new_next_change_at_moves_a_lead_in_and_out_of_due(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            a = uow.add_lead(make_lead(), next_change_at=T0 + 2 * HOUR)
            b = uow.add_lead(make_lead(), next_change_at=T0)
            c = uow.add_lead(make_lead(), next_change_at=T0 + HOUR)
            d = uow.add_lead(make_lead(), next_change_at=None)
        now = T0 + 2 * HOUR
        with store.unit_of_work() as uow:
            a = uow.update_lead(a, next_change_at=None)
            d = uow.update_lead(d, next_change_at=T0 - HOUR)
            b = uow.update_lead(b, next_change_at=T0 + 10 * HOUR)
            assert uow.due_leads(now) == [d, c]
        with store.unit_of_work() as uow:
            assert uow.due_leads(now) == [d, c]
            c = uow.update_lead(c, next_change_at=T0 + HOUR)  # same moment, new version
            assert uow.due_leads(now) == [d, c]
            assert uow.due_leads(T0 + 10 * HOUR) == [d, c, b]
            assert a not in uow.due_leads(T0 + 1000 * HOUR)

    def test_leads_of_contact_oldest_first(self, store: Store) -> None:
        contact_id, other_id = new_id(), new_id()
        leads = [
            make_lead(contact_id=contact_id, at=T0 + 2 * HOUR),
            make_lead(contact_id=contact_id, at=T0),
            make_lead(contact_id=other_id, at=T0 + HOUR),
            make_lead(contact_id=contact_id, at=T0 + HOUR),
        ]
        with store.unit_of_work() as uow:
            late, early, other, middle = (uow.add_lead(x, next_change_at=None) for x in leads)
        with store.unit_of_work() as uow:
            assert uow.leads_of_contact(contact_id) == [early, middle, late]
            assert uow.leads_of_contact(other_id) == [other]
            assert uow.leads_of_contact(new_id()) == []

    def test_count_leads_counts_every_lead(self, store: Store) -> None:
        assert run(store, lambda uow: uow.count_leads()) == 0
        leads = [make_lead(), make_lead(assignee=7, killed=True), make_lead(stage="closed")]
        with store.unit_of_work() as uow:
            for lead in leads:
                uow.add_lead(lead, next_change_at=None)
        assert run(store, lambda uow: uow.count_leads()) == 3

    # ------------------------------------------------------------------ lead ids by prefix

    def _add_ids(self, uow: UnitOfWork, *texts: str) -> list[UUID]:
        """Store a lead under each of these ids; their UUIDs, in the order given."""
        ids = [UUID(text) for text in texts]
        uow.add_leads([(attrs.evolve(make_lead(), lead_id=lead_id), None) for lead_id in ids])
        return ids

    def test_a_prefix_no_lead_has_gives_no_ids(self, store: Store) -> None:
        assert run(store, lambda uow: uow.lead_ids_with_prefix("0190abcd", limit=10)) == []
        run(store, lambda uow: self._add_ids(uow, "0190abce-0000-7000-8000-000000000000"))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190abcd", limit=10) == []
            assert uow.lead_ids_with_prefix("0190abce-1", limit=10) == []

    def test_a_prefix_of_one_lead_gives_its_id(self, store: Store) -> None:
        only, _ = run(
            store,
            lambda uow: self._add_ids(
                uow, "0190abcd-0000-7000-8000-000000000001", "0190abce-0000-7000-8000-000000000001"
            ),
        )
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190abcd", limit=10) == [only]
            assert uow.lead_ids_with_prefix("0190abcd-", limit=10) == [only]
            assert uow.lead_ids_with_prefix("0190abcd-0000-7", limit=10) == [only]

    def test_a_prefix_of_several_leads_gives_their_ids_ascending(self, store: Store) -> None:
        texts = (
            "0190abcd-ffff-ffff-ffff-ffffffffffff",  # the last id the prefix fits
            "0190abcc-ffff-ffff-ffff-ffffffffffff",  # just before the prefix
            "0190abcd-0000-0000-0000-000000000000",  # the first id the prefix fits
            "0190abce-0000-0000-0000-000000000000",  # just after it
            "0190abcd-7a00-7000-8000-000000000000",
        )
        last, _, first, _, middle = run(store, lambda uow: self._add_ids(uow, *texts))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190abcd", limit=10) == [first, middle, last]
            assert uow.lead_ids_with_prefix("0190abc", limit=10) == sorted(UUID(t) for t in texts)
            assert uow.lead_ids_with_prefix("", limit=10) == sorted(UUID(t) for t in texts)

    def test_lead_ids_with_prefix_stop_at_the_limit(self, store: Store) -> None:
        texts = [f"0190abcd-0000-7000-8000-00000000000{digit}" for digit in "53142"]
        ids = sorted(run(store, lambda uow: self._add_ids(uow, *texts)))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190abcd", limit=2) == ids[:2]
            assert uow.lead_ids_with_prefix("0190abcd", limit=5) == ids
            assert uow.lead_ids_with_prefix("0190abcd", limit=6) == ids
            assert uow.lead_ids_with_prefix("0190abcd", limit=1) == ids[:1]
            assert uow.lead_ids_with_prefix("0190abcd", limit=0) == []
            assert uow.lead_ids_with_prefix("0190abcd", limit=-1) == []

    def test_a_whole_id_is_a_prefix_of_itself_only(self, store: Store) -> None:
        text = "0190abcd-1234-7def-8abc-0123456789ab"
        lead_id, _ = run(store, lambda uow: self._add_ids(uow, text, text[:-1] + "c"))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix(text, limit=10) == [lead_id]
            assert uow.lead_ids_with_prefix(text[:-1] + "0", limit=10) == []
            assert uow.lead_ids_with_prefix(text + "0", limit=10) == []

    def test_pattern_characters_in_a_prefix_are_literal(self, store: Store) -> None:
        run(
            store,
            lambda uow: self._add_ids(
                uow, "0190abcd-0000-7000-8000-000000000000", "0190abce-0000-7000-8000-000000000000"
            ),
        )
        with store.unit_of_work() as uow:
            for prefix in (
                "%",
                "_",
                "0190abc%",
                "0190abc_",
                "0190abcd%",
                "0190_bcd",
                "0190%",
                "0190abcd_0000",
                "*",
                "0190abc?",
                "0190abc\\",
                "'",
                "0190abcd' OR '1'='1",
            ):
                assert uow.lead_ids_with_prefix(prefix, limit=10) == [], prefix

    def test_a_prefix_is_compared_as_given(self, store: Store) -> None:
        run(store, lambda uow: self._add_ids(uow, "0190abcd-0000-7000-8000-000000000000"))
        with store.unit_of_work() as uow:
            assert uow.lead_ids_with_prefix("0190ABCD", limit=10) == []  # the caller lower-cases
            assert uow.lead_ids_with_prefix("0190abcd0000", limit=10) == []  # dashes as stored
            assert uow.lead_ids_with_prefix(" 0190abcd", limit=10) == []
            assert uow.lead_ids_with_prefix("0190abcd\x00", limit=10) == []
            assert uow.lead_ids_with_prefix("0190abcd-\udc80", limit=10) == []

    def test_lead_ids_with_prefix_read_the_units_own_writes(self, store: Store) -> None:
        with rolled_back(store) as uow:
            (lead_id,) = self._add_ids(uow, "0190abcd-0000-7000-8000-000000000000")
            assert uow.lead_ids_with_prefix("0190abcd", limit=10) == [lead_id]
        assert run(store, lambda uow: uow.lead_ids_with_prefix("0190abcd", limit=10)) == []

    @_PROPERTY
    @given(data=st.data())
    def test_lead_ids_with_prefix_are_the_ids_whose_text_starts_with_it(
        self, store: Store, data: st.DataObject
    ) -> None:
        # Few hex digits, so that ids share long prefixes.
        hex_ids = st.text("0f1", min_size=32, max_size=32).map(UUID)
        ids = data.draw(st.lists(hex_ids, unique=True, max_size=12), label="ids")
        texts = [str(lead_id) for lead_id in ids]
        some_start = st.builds(lambda text, n: text[:n], st.sampled_from(texts), st.integers(0, 36))
        prefix = data.draw(
            (some_start if texts else st.nothing()) | st.text("0f1-%_A", max_size=14),
            label="prefix",
        )
        limit = data.draw(st.integers(-1, 14), label="limit")
        expected = sorted(i for i, t in zip(ids, texts, strict=True) if t.startswith(prefix))
        with rolled_back(store) as uow:  # the store lives across examples
            self._add_ids(uow, *texts)
            assert uow.lead_ids_with_prefix(prefix, limit=limit) == expected[: max(limit, 0)]

    def test_routed_counts_count_routed_leads_still_held(self, store: Store) -> None:
        routing, fallback = AssignmentMethod.ROUTING, AssignmentMethod.FALLBACK
        leads = [
            make_lead(assignee=7, method=routing, assigned_at=T0),  # counted: since inclusive
            make_lead(assignee=7, method=fallback, assigned_at=T0 + HOUR),  # counted
            make_lead(assignee=7, method=AssignmentMethod.MANUAL, assigned_at=T0 + HOUR),
            make_lead(assignee=7, method=AssignmentMethod.POOL, assigned_at=T0 + HOUR),
            make_lead(assignee=7, method=routing, assigned_at=T0 - timedelta(seconds=1)),
            make_lead(assignee=8, method=routing, assigned_at=(T0 + HOUR).astimezone(_CHICAGO)),
            make_lead(assignee=8, method=routing, assigned_at=T0 + HOUR),  # reassigned below
            make_lead(assignee=10, method=routing, assigned_at=T0 + HOUR),  # not asked for
            make_lead(method=None),
        ]
        with store.unit_of_work() as uow:
            stored = [uow.add_lead(lead, next_change_at=None) for lead in leads]
            taken = attrs.evolve(
                stored[6],
                assignee_id=9,
                assigned_at=T0 + 2 * HOUR,
                assignment_method=str(AssignmentMethod.MANUAL),
            )
            uow.update_lead(taken, next_change_at=None)
        with store.unit_of_work() as uow:
            assert uow.routed_counts([7, 8, 9], since=T0) == {7: 2, 8: 1}
            assert uow.routed_counts({7, 8, 9}, since=T0 + HOUR) == {7: 1, 8: 1}
            assert uow.routed_counts([7], since=T0 + 2 * HOUR) == {}
            assert uow.routed_counts([], since=T0) == {}
            assert uow.routed_counts([9, 11], since=T0 - HOUR) == {}

    def test_open_counts_count_open_leads_per_user(self, store: Store) -> None:
        leads = [
            make_lead(assignee=7),
            make_lead(assignee=7, stage="contacted"),
            make_lead(assignee=7, stage="closed"),
            make_lead(assignee=7, killed=True),
            make_lead(assignee=8),
            make_lead(assignee=10),
            make_lead(),
        ]
        with store.unit_of_work() as uow:
            for lead in leads:
                uow.add_lead(lead, next_change_at=None)
        with store.unit_of_work() as uow:
            counts = uow.open_counts([7, 8, 9])
            assert set(counts) <= {7, 8, 9}
            assert {user: n for user, n in counts.items() if n} == {7: 3, 8: 1}
            counts = uow.open_counts([7, 8, 9], exclude_stages={"closed", "contacted"})
            assert {user: n for user, n in counts.items() if n} == {7: 1, 8: 1}
            counts = uow.open_counts([8], exclude_stages=["new"])
            assert {user: n for user, n in counts.items() if n} == {}

    # ------------------------------------------------------------------ contacts

    def test_a_missing_contact_is_not_found(self, store: Store) -> None:
        contact = make_contact()
        with store.unit_of_work() as uow:
            with pytest.raises(NotFound, match=_names(contact.contact_id)):
                uow.get_contact(contact.contact_id)
            with pytest.raises(NotFound, match=_names(contact.contact_id)):
                uow.update_contact(contact)
        with store.unit_of_work() as uow, pytest.raises(NotFound):
            uow.get_contact(contact.contact_id)

    def test_update_contact_replaces_it_and_its_keys(self, store: Store) -> None:
        contact = make_contact(email="ada@example.com", phone="+15552014567", owner=7)
        run(store, lambda uow: uow.add_contact(contact))
        details = ContactDetails(first_name="Ada", last_name="Lovelace", email="ada@example.org")
        changed = attrs.evolve(contact, details=details, owner_id=8, assignee_id=9, source="web")
        run(store, lambda uow: uow.update_contact(changed))
        with store.unit_of_work() as uow:
            assert uow.get_contact(contact.contact_id) == changed
            assert uow.find_contacts(emails=["ada@example.com"], phones=["+15552014567"]) == []
            assert uow.find_contacts(emails=["ada@example.org"]) == [changed]
            assert uow.find_contacts(emails=["ada@example.org"], owners=[7]) == []
            assert uow.find_contacts(emails=["ada@example.org"], owners=[8]) == [changed]

    def test_find_contacts_by_email_or_phone(self, store: Store) -> None:
        contacts = [
            make_contact(email="ada@example.com", owner=7),
            make_contact(phone="+15552014567", owner=8),
            make_contact(email="bo@example.com", phone="+15552019999"),
            make_contact(email="ada@example.com", owner=9, at=T0 + HOUR),
        ]
        ada7, phone8, bo, ada9 = contacts
        with store.unit_of_work() as uow:
            for contact in contacts:
                uow.add_contact(contact)
        with store.unit_of_work() as uow:
            assert _contacts_by_id(uow.find_contacts(emails=["ada@example.com"])) == (
                _contacts_by_id([ada7, ada9])
            )
            assert uow.find_contacts(phones=["+15552014567"]) == [phone8]
            assert _contacts_by_id(
                uow.find_contacts(emails={"bo@example.com"}, phones={"+15552014567"})
            ) == _contacts_by_id([bo, phone8])
            # matched on both email and phone: found once
            assert uow.find_contacts(emails=["bo@example.com"], phones=["+15552019999"]) == [bo]
            assert uow.find_contacts(emails=["nobody@example.com"], phones=["+15550000000"]) == []
            assert uow.find_contacts() == []

    def test_find_contacts_keeps_only_the_owners_asked_for(self, store: Store) -> None:
        contacts = [
            make_contact(email="ada@example.com", owner=7),
            make_contact(phone="+15552014567", owner=8),
            make_contact(email="bo@example.com", phone="+15552019999"),
            make_contact(email="ada@example.com", owner=9),
        ]
        ada7, phone8, bo, ada9 = contacts
        with store.unit_of_work() as uow:
            for contact in contacts:
                uow.add_contact(contact)
        emails = ["ada@example.com", "bo@example.com"]
        phones = ["+15552014567", "+15552019999"]
        with store.unit_of_work() as uow:

            def find(owners: Collection[int] | None) -> list[Contact]:
                found = uow.find_contacts(emails=emails, phones=phones, owners=owners)
                return _contacts_by_id(found)

            assert find(None) == _contacts_by_id(contacts)
            assert _contacts_by_id(uow.find_contacts(emails=emails, phones=phones)) == (
                _contacts_by_id(contacts)
            )
            assert find([7, 8]) == _contacts_by_id([ada7, phone8])
            assert find({9}) == [ada9]
            assert find([]) == []
            assert bo not in find([7, 8, 9])
            assert uow.find_contacts(emails=["ada@example.com"], owners={9}) == [ada9]

    # ------------------------------------------------------------------ configuration

    def test_configuration_history_keeps_every_saved_configuration(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            assert uow.load_config() is None
            assert uow.config_history() == []
        first, second = make_config("Acme Lending"), make_config("Acme Home Loans")
        run(store, lambda uow: uow.save_config(first, actor=1, at=T0))
        run(store, lambda uow: uow.save_config(second, actor=None, at=T0 + HOUR))
        with store.unit_of_work() as uow:
            assert uow.load_config() == second
            assert uow.config_history() == [(T0, 1, first), (T0 + HOUR, None, second)]

    # ------------------------------------------------------------------ activity

    def test_history_is_the_leads_events_in_the_order_appended(self, store: Store) -> None:
        lead, other = make_lead(), make_lead()
        mine = lifecycle(lead)
        theirs = lifecycle(other)
        contact_note = NoteAdded(at=T0, actor=7, contact_id=lead.contact_id, text="Called")
        run(store, lambda uow: uow.append_events([mine[0], theirs[0], contact_note, mine[1]]))
        run(store, lambda uow: uow.append_events(theirs[1:]))
        run(store, lambda uow: uow.append_events(mine[2:]))
        with store.unit_of_work() as uow:
            assert uow.history(lead.lead_id) == mine
            assert uow.history(other.lead_id) == theirs
            assert uow.history(new_id()) == []

    def test_every_kind_of_event_reads_back_equal(self, store: Store) -> None:
        events = lifecycle(make_lead())
        assert {type(event) for event in events} == set(EVENT_TYPES.values())
        run(store, lambda uow: uow.append_events(events))
        assert run(store, lambda uow: uow.activity(start=T0, end=T0 + HOUR)) == events

    def test_activity_is_every_event_from_start_until_end_in_the_order_appended(
        self, store: Store
    ) -> None:
        def signal(at: datetime, name: str) -> Signal:
            return Signal(at=at, actor=None, lead_id=lead_id, name=name, stage="new")

        lead_id = new_id()
        events = [
            signal(T0 + 2 * HOUR, "at_end"),
            signal(T0 + HOUR, "middle"),
            signal(T0, "at_start"),
            signal(T0 + 3 * HOUR, "after"),
            signal((T0 + HOUR).astimezone(_CHICAGO), "middle_again"),
            signal(T0 - timedelta(microseconds=1), "before"),
        ]
        at_end, middle, at_start, after, middle_again, before = events
        run(store, lambda uow: uow.append_events(events[:3]))
        run(store, lambda uow: uow.append_events(events[3:]))
        with store.unit_of_work() as uow:
            assert uow.activity(start=T0, end=T0 + 2 * HOUR) == [middle, at_start, middle_again]
            assert uow.activity(start=T0.astimezone(_CHICAGO), end=T0 + 2 * HOUR) == [
                middle,
                at_start,
                middle_again,
            ]
            assert uow.activity(start=T0 - HOUR, end=T0 + 4 * HOUR) == events
            assert uow.activity(start=T0 + HOUR, end=T0 + HOUR) == []
            assert uow.activity(start=T0 + 2 * HOUR, end=T0 + 3 * HOUR) == [at_end]
            assert uow.activity(start=T0 + 3 * HOUR, end=T0 + 4 * HOUR) == [after]
            assert uow.activity(start=T0 - HOUR, end=T0) == [before]

    # ------------------------------------------------------------------ exceptions

    def test_exception_records_are_stored_replaced_and_listed(self, store: Store) -> None:
        leads = [make_lead(at=T0 + n * HOUR) for n in range(3)]
        open_record = make_record(leads[0])
        ignored = make_record(leads[1], ignored=True)
        closed = make_record(leads[2], assigned_to=7, closed_at=T0 + 5 * HOUR)
        with store.unit_of_work() as uow:
            assert uow.exceptions() == []
            for record in (open_record, ignored, closed):
                uow.put_exception(record)
        with store.unit_of_work() as uow:
            assert uow.get_exception(leads[0].lead_id) == open_record
            assert uow.get_exception(leads[2].lead_id) == closed
            assert _records_by_id(uow.exceptions()) == _records_by_id([open_record, ignored])
            assert _records_by_id(uow.exceptions(include_closed=True)) == _records_by_id(
                [open_record, ignored, closed]
            )
        now_closed = make_record(leads[0], assigned_to=8, closed_at=T0 + 6 * HOUR)
        run(store, lambda uow: uow.put_exception(now_closed))
        with store.unit_of_work() as uow:
            assert uow.get_exception(leads[0].lead_id) == now_closed
            assert uow.exceptions() == [ignored]
            assert len(uow.exceptions(include_closed=True)) == 3

    def test_a_missing_exception_record_is_not_found(self, store: Store) -> None:
        lead = make_lead()
        run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        with store.unit_of_work() as uow, pytest.raises(NotFound, match=_names(lead.lead_id)):
            uow.get_exception(lead.lead_id)

    # ------------------------------------------------------------------ outbox

    def test_messages_by_status_oldest_first(self, store: Store) -> None:
        second = make_message(at=T0 + HOUR)
        first = make_message(at=T0, lead_id=new_id())
        third = make_message(at=T0 + 2 * HOUR, recipient="team@example.com")
        with store.unit_of_work() as uow:
            for message in (second, first, third):
                uow.add_message(message)
        assert run(store, lambda uow: uow.messages()) == [first, second, third]
        sent = attrs.evolve(first, status=OutboxStatus.SENT, attempts=1)
        failed = attrs.evolve(
            third,
            status=OutboxStatus.FAILED,
            attempts=5,
            next_attempt_at=None,
            last_error="550 mailbox unavailable",
        )
        retry = attrs.evolve(second, attempts=1, next_attempt_at=T0 + 3 * HOUR, last_error="421")
        with store.unit_of_work() as uow:
            for message in (sent, failed, retry):
                uow.update_message(message)
        with store.unit_of_work() as uow:
            assert uow.messages() == [sent, retry, failed]
            assert uow.messages(status=None) == [sent, retry, failed]
            assert uow.messages(status=OutboxStatus.PENDING) == [retry]
            assert uow.messages(status=OutboxStatus.SENT) == [sent]
            assert uow.messages(status=OutboxStatus.FAILED) == [failed]

    def test_updating_a_message_never_queued_is_not_found(self, store: Store) -> None:
        message = make_message()
        with (
            store.unit_of_work() as uow,
            pytest.raises(NotFound, match=_names(message.message_id)),
        ):
            uow.update_message(message)
        assert run(store, lambda uow: uow.messages()) == []

    # ------------------------------------------------------------------ values, not rows

    def test_a_lead_with_its_whole_lifecycle_reads_back_equal(self, store: Store) -> None:
        draft = make_lead(external_id="W-1")
        attributes = attrs.evolve(
            draft.attributes,
            loan_purpose=LoanPurpose.REFINANCE_CASH_OUT,
            loan_amount=Decimal("312500.50"),
            credit_rating=CreditRating.GOOD,
            property_state="TX",
            property_zip="07001",
        )
        lead = apply_events(attrs.evolve(draft, attributes=attributes), lifecycle(draft))
        assert lead.follow_ups
        assert lead.stage_history
        assert lead.killed
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=None))
        assert run(store, lambda uow: uow.get_lead(lead.lead_id)) == stored
        assert stored == attrs.evolve(lead, version=1)

    @_PROPERTY
    @given(
        lead=lfst.leads(stages=_LEAD_STAGES),
        next_change_at=st.none() | lfst.aware_datetimes(),
    )
    def test_any_lead_reads_back_equal(
        self, store: Store, lead: Lead, next_change_at: datetime | None
    ) -> None:
        # The store lives across examples: give each example its own keys.
        external_id = lead.attributes.external_id
        lead = attrs.evolve(
            lead,
            lead_id=new_id(lead.created_at),
            version=0,
            attributes=attrs.evolve(
                lead.attributes,
                external_id=None if external_id is None else f"{external_id}-{next(_serial)}",
            ),
        )
        stored = run(store, lambda uow: uow.add_lead(lead, next_change_at=next_change_at))
        assert stored == attrs.evolve(lead, version=1)
        with store.unit_of_work() as uow:
            assert uow.get_lead(lead.lead_id) == stored
            if lead.attributes.external_id is not None:
                assert uow.find_lead(lead.source, lead.attributes.external_id) == stored
            if next_change_at is not None:
                assert stored in uow.due_leads(next_change_at)

    @_PROPERTY
    @given(contact=lfst.contacts())
    def test_any_contact_reads_back_equal(self, store: Store, contact: Contact) -> None:
        contact = attrs.evolve(contact, contact_id=new_id(contact.created_at))
        run(store, lambda uow: uow.add_contact(contact))
        with store.unit_of_work() as uow:
            assert uow.get_contact(contact.contact_id) == contact
            email, phone = contact.details.email, contact.details.cell_phone
            found = uow.find_contacts(
                emails=[] if email is None else [email], phones=[] if phone is None else [phone]
            )
            assert contact in found
