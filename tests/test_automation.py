"""Which automations an event fires (the seed's journeys)."""

from __future__ import annotations

from uuid import UUID

import attrs
import pytest

from leadflow.automation import MAX_DEPTH, AssignTo, CreateLead, Subscription, Trigger, fired
from leadflow.errors import ConfigError
from leadflow.events import LeadCreated, LeadStageChanged, LeadUpdated
from leadflow.model import LeadAttributes, LoanPurpose, Origin
from leadflow.predicates import Condition, Criteria, Op
from leadflow.stages import lead_management
from stage_helpers import T0, new_lead

BOOK = lead_management()
PURCHASE = attrs.evolve(
    new_lead(BOOK), attributes=LeadAttributes(source="referral", loan_purpose=LoanPurpose.PURCHASE)
)
REFI = attrs.evolve(
    PURCHASE,
    attributes=LeadAttributes(source="referral", loan_purpose=LoanPurpose.REFINANCE_CASH_OUT),
)
SUBMITTED = Subscription(
    key="refer_on_submit",
    trigger=Trigger.LEAD_STAGE_CHANGED,
    to_stage="application_submitted",
    criteria=Criteria(include=(Condition("loan_purpose", Op.EQUALS, "Purchase"),)),
    action=CreateLead(source="referral", assign_to=AssignTo.CONTACT_OWNER),
)


def changed(to: str) -> LeadStageChanged:
    return LeadStageChanged(
        at=T0, actor=7, lead_id=PURCHASE.lead_id, from_stage="engaged", to_stage=to
    )


def test_stage_changed_to_a_stage_with_a_condition() -> None:
    assert fired([SUBMITTED], changed("application_submitted"), PURCHASE, depth=0) == [SUBMITTED]
    assert fired([SUBMITTED], changed("pre_approved"), PURCHASE, depth=0) == []
    assert fired([SUBMITTED], changed("application_submitted"), REFI, depth=0) == []


def test_triggers_match_their_events() -> None:
    created = LeadCreated(
        at=T0,
        actor=None,
        lead_id=PURCHASE.lead_id,
        contact_id=UUID(int=1),
        source="referral",
        origin=Origin.API,
        stage="new",
    )
    updated = LeadUpdated(at=T0, actor=7, lead_id=PURCHASE.lead_id, changes=())
    on_create = attrs.evolve(SUBMITTED, trigger=Trigger.LEAD_CREATED, to_stage=None)
    on_update = attrs.evolve(SUBMITTED, trigger=Trigger.LEAD_UPDATED, to_stage=None)
    assert fired([on_create, on_update], created, PURCHASE, depth=0) == [on_create]
    assert fired([on_create, on_update], updated, PURCHASE, depth=0) == [on_update]
    assert fired([attrs.evolve(on_create, enabled=False)], created, PURCHASE, depth=0) == []


def test_killed_leads_fire_nothing_and_depth_is_bounded() -> None:
    killed = attrs.evolve(PURCHASE, killed_at=T0)
    assert fired([SUBMITTED], changed("application_submitted"), killed, depth=0) == []
    event = changed("application_submitted")
    assert fired([SUBMITTED], event, PURCHASE, depth=MAX_DEPTH - 1) == [SUBMITTED]
    assert fired([SUBMITTED], event, PURCHASE, depth=MAX_DEPTH) == []


def test_bad_subscriptions_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="to_stage needs the stage-changed trigger"):
        attrs.evolve(SUBMITTED, trigger=Trigger.LEAD_CREATED)
    action = CreateLead(source="referral", assign_to=AssignTo.JOURNEY_USER)
    with pytest.raises(ConfigError, match="journey_user"):
        Subscription(key="j", trigger=Trigger.LEAD_CREATED, action=action)
