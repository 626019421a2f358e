"""Embedding leadflow in a CRM: the host's own store, a web form, a journey, the emails.

Run it with ``python examples/embed_in_your_crm.py``. It needs nothing but
leadflow: the organisation is configured from TOML text, the store is the
host's own class (here an in-memory store that also feeds the CRM's audit
trail), and the assignment emails go to an in-memory notifier instead of an
SMTP server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow.automation import AssignTo, CreateLead, Subscription, Trigger
from leadflow.desk import LeadDesk
from leadflow.io.orgconfig import org_config_from_toml
from leadflow.model import Origin
from leadflow.notify import MemoryNotifier, deliver_outbox
from leadflow.predicates import Condition, Criteria, Op
from leadflow.storage import MemoryStore, Store, UnitOfWork

ORG = """
[organization]
name = "Harbor Home Loans"
timezone = "America/New_York"
playbook = "lead_management"
lead_link = "https://crm.harbor.example/leads/{lead_id}"

[[teams]]
key = "coast"
name = "Coast"

[[users]]
id = 1
name = "Dana Admin"
email = "dana@harbor.example"
role = "admin"

[[users]]
id = 7
name = "Luis Ortiz"
email = "luis@harbor.example"
permissions = ["receive_leads"]
licenses = ["FL"]
teams = ["coast"]

[[users]]
id = 8
name = "Grace Byrne"
email = "grace@harbor.example"
permissions = ["receive_leads"]
licenses = ["FL"]
teams = ["coast"]

[[policies]]
key = "coast_rr"
name = "Coast round robin"
teams = ["coast"]

[[sources]]
key = "website"
name = "Website form"
primary_policy = "coast_rr"

[[sources]]
key = "referral"
name = "Realtor referral"
"""


class AuditedStore:
    """The host's store: leadflow's in-memory store, plus a line in the CRM's audit trail
    for every unit of work that commits. Any object with the ``Store`` methods will do;
    ``docs/storage.md`` shows how to run leadflow's contract tests against your own."""

    def __init__(self) -> None:
        self._inner = MemoryStore()
        self.audit: list[str] = []

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        with self._inner.unit_of_work() as uow:
            yield uow
        self.audit.append("committed")

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def main() -> None:
    clock = [datetime(2026, 3, 9, 14, 0, tzinfo=UTC)]
    org = org_config_from_toml(ORG, name="harbor org")
    store = AuditedStore()
    host_store: Store = store  # type-checks: the host's class follows the protocol
    LeadDesk.configure(host_store, org.config, at=clock[0])  # as the system actor

    # The seed's journey: a purchase application creates a referral lead for the
    # loan officer who owns the contact.
    refer = Subscription(
        key="realtor_referral",
        trigger=Trigger.LEAD_STAGE_CHANGED,
        to_stage="application_submitted",
        criteria=Criteria(include=(Condition("loan_purpose", Op.EQUALS, "Purchase"),)),
        action=CreateLead(source="referral", assign_to=AssignTo.CONTACT_OWNER),
    )
    desk = LeadDesk(
        host_store, playbook=org.playbook, clock=lambda: clock[0], subscriptions=[refer]
    )

    # A lead arrives from the website form.
    form = {
        "First Name": "Maya",
        "Last Name": "Park",
        "Email": "maya.park@example.com",
        "Phone Cell": "(305) 555-0182",
        "Loan Purpose": "Purchase",
        "Loan Amount": "$420,000",
        "Property State": "FL",
    }
    created = desk.create_lead(form, source="website", origin=Origin.API)  # the system actor
    assert created.lead is not None
    lead = created.lead
    officer = desk.user(lead.assignee_id or 0)
    print(f"New lead {lead.lead_id} routed to {officer.first_name} {officer.last_name}")

    # The loan officer works it.
    clock[0] += timedelta(minutes=20)
    desk.log_outcome(lead.lead_id, "spoke", actor=officer.user_id, note="Pre-qual call done")
    clock[0] += timedelta(days=2)
    desk.set_stage(lead.lead_id, "application_submitted", actor=officer.user_id)

    # The journey made a referral lead for the same contact, owned by the same officer.
    with host_store.unit_of_work() as uow:
        leads = uow.leads_of_contact(lead.contact_id)
    for each in sorted(leads, key=lambda item: item.created_at):
        print(f"  {each.attributes.source:<8} {each.stage:<22} assignee {each.assignee_id}")

    # The assignment emails, delivered after the commits.
    notifier = MemoryNotifier()
    report = deliver_outbox(host_store, notifier, clock[0])
    print(f"{report.sent} assignment email(s) sent:")
    for message in notifier.sent:
        print(f"  to {message.recipient}: {message.subject}")
    print(f"{len(store.audit)} units of work committed in the CRM's audit trail")
    for event in desk.history(lead.lead_id):
        print(f"  {event.at:%a %H:%M} {event.describe()}")


if __name__ == "__main__":
    main()
