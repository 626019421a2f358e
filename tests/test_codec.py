"""The JSON codec: every leadflow value a store keeps comes back equal, with its offsets,
decimal places and microseconds; the hand-written lead and contact codecs agree with
cattrs' generated ones."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from uuid import UUID

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.events import (
    EVENT_TYPES,
    AssignmentMethod,
    Decision,
    DecisionStep,
    Event,
    LeadCreated,
    apply_events,
)
from leadflow.model import (
    Contact,
    ContactDetails,
    CreditRating,
    DesiredTimeframe,
    FollowUp,
    FollowUpKind,
    FollowUpSubject,
    Lead,
    LeadAttributes,
    License,
    LoanPurpose,
    Occupancy,
    Priority,
    PropertyType,
    User,
    YesNoUnknown,
)
from leadflow.org import OrgConfig, OrgSettings
from leadflow.routing.config import (
    Distribution,
    LeadSource,
    MemberFilters,
    Period,
    PolicyMember,
    RoutingPolicy,
    Unroutable,
    VolumeCap,
)
from leadflow.routing.engine import PolicyCursor
from leadflow.stages import (
    general_follow_up,
    investor,
    lead_management,
    log_outcome,
    schedule_follow_up,
    set_stage,
)
from leadflow.storage import codec
from leadflow.storage.protocol import OutboxMessage, OutboxStatus
from leadflow.testing import strategies as lfst
from leadflow.testing.contract import lifecycle, make_config, make_lead, make_record
from stage_helpers import T0, call_event, new_lead, user

HOUR = timedelta(hours=1)
CHICAGO = timezone(timedelta(hours=-6))
ODD = timezone(timedelta(hours=5, minutes=45, seconds=30))

#: cattrs' own codecs, for checking the ones generated from the fields against.
PLAIN = codec._make_converter(generated=False)


def full_lead() -> tuple[Lead, list[Event]]:
    """An investor lead with reports, follow-ups, a stage history and a kill."""
    book = investor()
    lead = new_lead(book)
    lead = attrs.evolve(
        lead,
        attributes=LeadAttributes(
            source="referral",
            loan_purpose=LoanPurpose.REFINANCE_CASH_OUT,
            referred_by="Zoë Ångström",
            loan_amount=Decimal("250000.00"),
            property_type=PropertyType.PUD,
            occupancy=Occupancy.INVESTMENT,
            credit_rating=CreditRating.FAIR,
            estimated_purchase_price=Decimal("1E+6"),
            down_payment=Decimal("0.10"),
            already_found_home=YesNoUnknown.UNKNOWN,
            first_time_buyer=YesNoUnknown.NO,
            veteran=YesNoUnknown.YES,
            property_address="12 Main St, Apt 4",
            property_state="TX",
            property_zip="07001",
            external_id="A-1",
        ),
    )
    events: list[Event] = []
    for n in range(3):
        step = log_outcome(book, lead, "told_wrong_number", user(), T0 + n * HOUR)
        lead, events = step.lead, [*events, *step.events]
    due = (T0 + 30 * HOUR).astimezone(CHICAGO)
    step = schedule_follow_up(book, lead, call_event(due), user(), T0 + 3 * HOUR)
    lead, events = step.lead, [*events, *step.events]
    step = general_follow_up(
        book,
        lead,
        user(),
        T0 + 3 * HOUR,
        timedelta(days=2),
        follow_up_id=UUID(int=777),
        subject=FollowUpSubject.QUOTE,
        priority=Priority.HIGH,
    )
    lead, events = step.lead, [*events, *step.events]
    step = set_stage(book, lead, "wrong_number", user(), T0 + 4 * HOUR)
    lead, events = step.lead, [*events, *step.events]
    return attrs.evolve(lead, version=3, assigned_at=T0, assignment_method="routing"), events


def rich_config() -> OrgConfig:
    """A configuration using every kind of value: filters, caps, licenses, timedeltas."""
    base = make_config()
    member = PolicyMember(
        user_id=7,
        paused=True,
        weight=3,
        filters=MemberFilters(
            states=frozenset({"TX", "OK", "CA"}),
            zips=frozenset({"750", "75001"}),
            loan_purposes=frozenset({LoanPurpose.PURCHASE, LoanPurpose.HELOC}),
            credit_ratings=frozenset({CreditRating.GOOD, CreditRating.EXCELLENT}),
            require_license=True,
            max_leads=(VolumeCap(Period.DAY, 5), VolumeCap(Period.MONTH, 80)),
        ),
    )
    ring = RoutingPolicy(
        key="ring",
        name="Ring all",
        distribution=Distribution.RING_ALL,
        teams=("loan_officers",),
        members=(member, PolicyMember(user_id=8)),
        ring_size=3,
        offer_expires_after=timedelta(minutes=2, microseconds=5),
    )
    direct = RoutingPolicy(key="direct", name="Direct", distribution=Distribution.DIRECT, user=7)
    second = User(
        user_id=8,
        first_name="Ana",
        last_name="Núñez",
        email="ana@example.com",
        active=False,
        permissions=frozenset({"receive_leads", "approve", "host:custom"}),
        licenses=(License("CA"), License("TX", date(2026, 12, 31))),
        teams=frozenset({"loan_officers", "managers"}),
    )
    return attrs.evolve(
        base,
        settings=OrgSettings(
            name="Acme",
            timezone="America/Chicago",
            unroutable=Unroutable.REJECT,
            notify_on_assignment=False,
            routing_cap=10,
        ),
        users=(*base.users, second),
        policies=(*base.policies, ring, direct),
        sources=(
            *base.sources,
            LeadSource(
                key="zillow",
                name="Zillow",
                description="Paid",
                channel="zillow",
                primary_policy="ring",
                fallback_policy="direct",
            ),
        ),
    )


# --------------------------------------------------------------------------- scalars


def test_scalars_keep_their_exact_form() -> None:
    moment = datetime(2026, 3, 10, 4, 0, 0, 120, tzinfo=CHICAGO)
    assert json.loads(codec.dumps(moment)) == "2026-03-10T04:00:00.000120-06:00"
    assert codec.loads(codec.dumps(moment), datetime).utcoffset() == timedelta(hours=-6)
    assert json.loads(codec.dumps(Decimal("250000.00"))) == "250000.00"
    assert str(codec.loads(codec.dumps(Decimal("250000.00")), Decimal)) == "250000.00"
    assert str(codec.loads(codec.dumps(Decimal("1E+6")), Decimal)) == "1E+6"
    assert json.loads(codec.dumps(timedelta(days=1, microseconds=3))) == 86_400_000_003
    assert json.loads(codec.dumps(Fraction(3, 4))) == "3/4"
    assert codec.loads('"3/4"', Fraction) == Fraction(3, 4)
    assert json.loads(codec.dumps(date(2026, 3, 10))) == "2026-03-10"
    assert json.loads(codec.dumps(UUID(int=1))) == "00000000-0000-0000-0000-000000000001"
    assert json.loads(codec.dumps(LoanPurpose.REFINANCE_CASH_OUT)) == "Refinance - Cash Out"
    assert json.loads(codec.dumps(PolicyCursor(weights=((7, -1), (8, 1)), recent=(8, 7)))) == {
        "recent": [8, 7],
        "weights": [[7, -1], [8, 1]],
    }


def test_frozensets_are_sorted_lists() -> None:
    filters = MemberFilters(
        states=frozenset({"TX", "AL", "OK"}),
        loan_purposes=frozenset({LoanPurpose.PURCHASE, LoanPurpose.HELOC}),
    )
    doc = json.loads(codec.dumps(filters))
    assert doc["states"] == ["AL", "OK", "TX"]
    assert doc["loan_purposes"] == ["HELOC", "Purchase"]
    assert codec.loads(codec.dumps(filters), MemberFilters) == filters


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        timezones=st.sampled_from([UTC, CHICAGO, ODD, timezone(timedelta(hours=14))]),
    )
)
def test_any_aware_datetime_round_trips_with_its_offset(moment: datetime) -> None:
    back = codec.loads(codec.dumps(moment), datetime)
    assert back == moment
    assert back.utcoffset() == moment.utcoffset()


@given(st.decimals(allow_nan=False, allow_infinity=False), st.timedeltas())
def test_any_decimal_and_timedelta_round_trip_exactly(amount: Decimal, span: timedelta) -> None:
    assert str(codec.loads(codec.dumps(amount), Decimal)) == str(amount)
    assert codec.loads(codec.dumps(span), timedelta) == span


# --------------------------------------------------------------------------- leads and contacts


@given(lfst.leads(stages=("new", "engaged")))
def test_any_lead_round_trips(lead: Lead) -> None:
    text = codec.lead_to_json(lead)
    assert codec.lead_from_json(text) == lead
    assert codec.loads(text, Lead) == lead
    assert codec.dumps(lead) == text


@given(lfst.contacts())
def test_any_contact_round_trips(contact: Contact) -> None:
    text = codec.contact_to_json(contact)
    assert codec.contact_from_json(text) == contact
    assert codec.loads(text, Contact) == contact


@given(lfst.users(team_keys=("a", "b_2", "Zed")))
def test_any_user_round_trips(user: User) -> None:
    assert codec.loads(codec.dumps(user), User) == user


def test_a_lead_with_its_whole_lifecycle_round_trips() -> None:
    lead, events = full_lead()
    assert len(lead.follow_ups) == 2
    assert lead.reports == ("wrong_number",) * 3
    assert lead.stage_history
    assert lead.killed
    back = codec.lead_from_json(codec.lead_to_json(lead))
    assert back == lead
    assert back.follow_ups[0].due.utcoffset() == timedelta(hours=-6)
    assert str(back.attributes.loan_amount) == "250000.00"
    assert str(back.attributes.estimated_purchase_price) == "1E+6"
    for event in events:
        assert codec.event_from_json(event.kind, codec.event_to_json(event)) == event


def test_a_lead_closed_with_an_outcome_round_trips() -> None:
    book = lead_management()
    lead = log_outcome(book, new_lead(book), "spoke", user(), T0).lead
    lead = set_stage(book, lead, "closed", user(), T0 + HOUR, outcome="funded").lead
    assert lead.outcome == "funded"
    assert codec.lead_from_json(codec.lead_to_json(lead)) == lead


def test_contract_lifecycle_applied_to_a_lead_round_trips() -> None:
    draft = make_lead(external_id="W-1")
    lead = apply_events(draft, lifecycle(draft))
    assert codec.lead_from_json(codec.lead_to_json(lead)) == lead


def test_lead_documents_leave_out_only_empty_fields() -> None:
    lead = new_lead(investor())
    doc = json.loads(codec.lead_to_json(lead))
    assert "follow_ups" not in doc
    assert "snoozed_until" not in doc
    assert doc["contact_attempts"] == 0
    assert doc["version"] == 0
    assert doc["attributes"]["loan_purpose"] == "TBD"
    assert doc["attributes"]["veteran"] == ""


@given(lfst.leads(stages=("new",)), lfst.contacts())
def test_cattrs_and_leadflows_generated_codecs_read_each_others_documents(
    lead: Lead, contact: Contact
) -> None:
    for value, type_ in ((lead, Lead), (contact, Contact)):
        generated = json.dumps(PLAIN.unstructure(value, type_))
        hand = codec.dumps(value)
        assert codec.loads(generated, type_) == value
        assert PLAIN.structure(json.loads(hand), type_) == value
        # the same document, but for the null fields cattrs spells out
        full = json.loads(generated)
        assert json.loads(hand) == _without_empty(full)


def test_cattrs_and_leadflows_generated_codecs_agree_on_a_full_lead() -> None:
    lead, _ = full_lead()
    generated = json.dumps(PLAIN.unstructure(lead, Lead))
    assert codec.lead_from_json(generated) == lead
    assert PLAIN.structure(json.loads(codec.lead_to_json(lead)), Lead) == lead
    assert json.loads(codec.lead_to_json(lead)) == _without_empty(json.loads(generated))


def _without_empty(doc: object) -> object:
    if isinstance(doc, dict):
        return {k: _without_empty(v) for k, v in doc.items() if v is not None and v != []}
    if isinstance(doc, list):
        return [_without_empty(v) for v in doc]
    return doc


# --------------------------------------------------------------------------- everything else


def test_every_event_kind_round_trips() -> None:
    events = lifecycle(make_lead())
    assert {event.kind for event in events} == set(EVENT_TYPES)
    for event in events:
        text = codec.event_to_json(event)
        assert "kind" not in json.loads(text)
        back = codec.event_from_json(event.kind, text)
        assert back == event
        assert type(back) is type(event)


def test_a_follow_up_inside_an_event_is_written_as_in_a_lead() -> None:
    lead, events = full_lead()
    (scheduled, *_) = (e for e in events if e.kind == "follow_up_scheduled")
    doc = json.loads(codec.event_to_json(scheduled))
    assert doc["follow_up"] == json.loads(codec.lead_to_json(lead))["follow_ups"][0]


def test_an_org_config_with_filters_caps_and_licenses_round_trips() -> None:
    config = rich_config()
    text = codec.config_to_json(config)
    assert codec.config_from_json(text) == config
    doc = json.loads(text)
    ring = doc["policies"][1]
    assert ring["offer_expires_after"] == 120_000_005
    assert ring["members"][0]["filters"]["max_leads"] == [
        {"per": "day", "count": 5},
        {"per": "month", "count": 80},
    ]
    assert doc["users"][1]["licenses"] == [
        {"state": "CA", "expires_on": None},
        {"state": "TX", "expires_on": "2026-12-31"},
    ]
    assert doc["users"][1]["permissions"] == ["approve", "host:custom", "receive_leads"]
    assert codec.config_from_json(codec.config_to_json(OrgConfig())) == OrgConfig()


def test_exception_records_cursors_and_messages_round_trip() -> None:
    lead = make_lead()
    for record in (
        make_record(lead),
        make_record(lead, ignored=True, assigned_to=7, closed_at=(T0 + HOUR).astimezone(ODD)),
        attrs.evolve(make_record(lead), loan_amount=None, state=None),
    ):
        assert codec.exception_from_json(codec.exception_to_json(record)) == record
    for cursor in (
        PolicyCursor(),
        PolicyCursor(7, ((7, -1), (8, 1))),
        PolicyCursor(recent=(9, 3, 7), weights=((3, 2),)),
    ):
        assert codec.cursor_from_json(codec.cursor_to_json(cursor)) == cursor
    # the shape of cursors stored before the rotation was kept per member
    legacy = codec.cursor_from_json('{"last_user_id": 7, "weights": [[7, -1], [8, 1]]}')
    assert legacy == PolicyCursor(recent=(7,), weights=((7, -1), (8, 1)))
    assert codec.cursor_from_json('{"last_user_id": null, "weights": []}') == PolicyCursor()
    message = OutboxMessage(
        message_id=UUID(int=9),
        created_at=T0.astimezone(CHICAGO),
        kind="lead_assigned",
        recipient="ana@example.com",
        subject="New lead",
        body_text="Hello",
        body_html="<p>Hello</p>",
        lead_id=lead.lead_id,
        status=OutboxStatus.FAILED,
        attempts=5,
        next_attempt_at=T0 + HOUR,
        last_error="550",
    )
    assert codec.message_from_json(codec.message_to_json(message)) == message
    bare = OutboxMessage(
        message_id=UUID(int=10),
        created_at=T0,
        kind="k",
        recipient="r",
        subject="s",
        body_text="b",
    )
    assert codec.message_from_json(codec.message_to_json(bare)) == bare


def test_lists_of_values_round_trip() -> None:
    lead, _ = full_lead()
    contact = Contact(
        contact_id=UUID(int=3),
        details=ContactDetails(first_name="A", last_name="B", cell_phone="+15552014567"),
        created_at=T0,
    )
    assert codec.loads(codec.dumps([lead, lead]), list[Lead]) == [lead, lead]
    assert codec.loads(codec.dumps((contact,)), tuple[Contact, ...]) == (contact,)


def test_a_follow_up_keeps_its_duration_to_the_microsecond() -> None:
    task = FollowUp(
        follow_up_id=UUID(int=1),
        kind=FollowUpKind.TASK,
        subject=FollowUpSubject.EMAIL,
        due=T0.astimezone(ODD),
        assignee_id=9,
        priority=Priority.LOW,
    )
    event = call_event(T0)
    assert codec.loads(codec.dumps(task), FollowUp) == task
    assert codec.loads(codec.dumps(event), FollowUp) == event
    assert json.loads(codec.dumps(event))["duration"] == 30 * 60 * 1_000_000


# --------------------------------------------------------------------------- errors


def test_an_unknown_event_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown event kind 'lead_teleported'.*lead_created"):
        codec.event_from_json("lead_teleported", "{}")


@pytest.mark.parametrize(
    ("read", "text", "name"),
    [
        (codec.lead_from_json, "{", "Lead"),
        (codec.lead_from_json, '{"lead_id": "nope"}', "Lead"),
        (codec.contact_from_json, "[]", "Contact"),
        (codec.config_from_json, '{"settings": 3}', "OrgConfig"),
        (codec.cursor_from_json, '{"weights": 5}', "PolicyCursor"),
        (codec.cursor_from_json, '{"recent": [1, "x"]}', "PolicyCursor"),
        (codec.cursor_from_json, '{"last_user_id": "7"}', "PolicyCursor"),
        (codec.cursor_from_json, "[]", "PolicyCursor"),
        (lambda text: codec.event_from_json("signal", text), '{"at": "x"}', "signal event"),
    ],
)
def test_a_bad_document_is_a_value_error_naming_the_type(
    read: object, text: str, name: str
) -> None:
    assert callable(read)
    with pytest.raises(ValueError, match=f"not a valid {name} document"):
        read(text)


def test_a_lead_document_breaking_a_model_rule_is_refused() -> None:
    doc = json.loads(codec.lead_to_json(new_lead(investor())))
    doc["created_at"] = "2026-03-10T10:00:00"  # naive
    with pytest.raises(ValueError, match="must be a timezone-aware datetime"):
        codec.lead_from_json(json.dumps(doc))


# --------------------------------------------------------------------------- documents as text


def _encoded(value: object, type_: type) -> str:
    """The document of ``value`` as the converter builds it, encoded."""
    return codec._encode(codec._unstructure(value, type_))


@given(lfst.leads(stages=("new", "engaged")))
def test_a_lead_written_as_text_is_its_encoded_document(lead: Lead) -> None:
    assert codec.lead_to_json(lead) == _encoded(lead, Lead)
    assert codec.lead_to_json(lead) == _encoded(lead, Lead)


def test_every_field_of_a_lead_written_as_text_is_its_encoded_document() -> None:
    lead, _ = full_lead()
    rich = attrs.evolve(
        lead,
        outcome="funded",
        last_outcome="spoke",
        snoozed_until=T0.astimezone(ODD),
        release_at=T0 + HOUR,
        first_attempt_at=T0,
        last_attempt_at=T0 + HOUR,
        assignee_id=7,
        attributes=attrs.evolve(
            lead.attributes,
            referred_by='Quote " and \\ backslash\\n',
            desired_timeframe=DesiredTimeframe.SIX_MONTHS,
        ),
    )
    draft = make_lead()
    for value in (lead, rich, draft, apply_events(draft, lifecycle(draft))):
        assert codec.lead_to_json(value) == _encoded(value, Lead)
        assert codec.lead_from_json(codec.lead_to_json(value)) == value


@given(lfst.contacts())
def test_a_contact_written_as_text_is_its_encoded_document(contact: Contact) -> None:
    assert codec.contact_to_json(contact) == _encoded(contact, Contact)
    full = attrs.evolve(contact, assignee_id=9, source='we"b')
    assert codec.contact_to_json(full) == _encoded(full, Contact)


def test_events_written_as_text_are_their_encoded_documents() -> None:
    lead = make_lead()
    for event in lifecycle(lead):
        assert codec.event_to_json(event) == _encoded(event, type(event))
    created, assigned = lifecycle(lead)[:2]
    for event in (
        attrs.evolve(created, actor=7, via=8, source="x_1", stage='new"stage'),
        attrs.evolve(assigned, actor=3, via=4, policy=None),
        attrs.evolve(assigned, at=T0.astimezone(ODD), policy='p"1'),
        attrs.evolve(created, decision=DECISION),
        attrs.evolve(assigned, decision=attrs.evolve(DECISION, reason='no"policy', steps=())),
    ):
        assert codec.event_to_json(event) == _encoded(event, type(event))
        assert codec.event_from_json(event.kind, codec.event_to_json(event)) == event
    # a step's text is kept: written again, the same step gives the same text
    again = codec.event_to_json(attrs.evolve(created, decision=DECISION))
    assert again == _encoded(attrs.evolve(created, decision=DECISION), LeadCreated)


DECISION = Decision(
    outcome="assigned",
    method=AssignmentMethod.ROUTING,
    assignee=3,
    primary_reason="volume_cap",
    steps=(
        DecisionStep(policy="west", distribution="round_robin", reason="volume_cap"),
        DecisionStep(
            policy='p"x',
            distribution="round_robin",
            winner=3,
            offered=(4, 5),
            passed=(("paused", (2, 8)), ("eligible", (4,))),
        ),
    ),
)


def test_a_message_written_as_text_is_its_encoded_document() -> None:
    message = OutboxMessage(
        message_id=UUID(int=9),
        created_at=T0.astimezone(CHICAGO),
        kind="lead_assigned",
        recipient="ana@example.com",
        subject='New lead: Zoë "Z" Ångström',
        body_text="Hello\n\tthere \\ \u2028",
        body_html='<p><a href="x?a=1&amp;b=2">Hello</a></p>',
        lead_id=UUID(int=1),
        status=OutboxStatus.FAILED,
        attempts=5,
        next_attempt_at=T0 + HOUR,
        last_error="550",
    )
    bare = OutboxMessage(
        message_id=UUID(int=10), created_at=T0, kind="k", recipient="r", subject="s", body_text="b"
    )
    for value in (message, bare):
        assert codec.message_to_json(value) == _encoded(value, OutboxMessage)
        assert codec.message_from_json(codec.message_to_json(value)) == value


def test_uuid_text_is_the_canonical_text_even_for_equal_ids() -> None:
    first, twin = UUID(int=12345), UUID(int=12345)
    assert codec.uuid_text(first) == str(first)
    assert codec.uuid_text(twin) == str(twin)
    for n in range(20_000):  # more than it remembers
        value = UUID(int=n << 64 | n)
        assert codec.uuid_text(value) == str(value)
        assert codec.uuid_text(value) == str(value)
