"""The four seed products as playbooks (DESIGN D3).

* :func:`lead_management` -- the eight standard lead stages, New to Closed;
  Closed needs an outcome (funded, withdrawn, declined, lost).
* :func:`leads_queue` -- New, Contact Attempted, Engaged, Nurture, Converted;
  call dispositions snooze the lead (1 hour, or 48 hours once engaged); a
  follow-up date replaces the snooze.
* :func:`investor` -- colour-coded statuses: purple Not Contacted for every
  unanswered dial, green statuses keep the lead and signal the host, yellow
  statuses release it to the pool (Offer Rejected after 7 days), red statuses
  kill it, behind three guards; general follow-ups are halved.
* :func:`call_log` -- the schedule statuses (Not Scheduled, Scheduled,
  Missed, Past Due, Abandoned, Available) and Lost/Archive, which only a user
  with ``reactivate`` may reopen. The time rules that move leads between
  them are aging rules (see :mod:`leadflow.queue`).

``PRESETS`` maps each name to its builder; :func:`preset` builds one by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from fractions import Fraction

from leadflow.errors import ConfigError
from leadflow.model import Permission
from leadflow.stages.aging import (
    FollowUpPassed,
    ScheduleCleared,
    StageTimeout,
    TouchRevives,
    Untouched,
)
from leadflow.stages.guards import ApprovalWhileNew, Guard, MinReports, RequiresNote
from leadflow.stages.playbook import (
    Category,
    Channel,
    Direction,
    Disposition,
    Effect,
    FollowUpRule,
    Outcome,
    Ownership,
    Playbook,
    Stage,
)

__all__ = ["PRESETS", "call_log", "investor", "lead_management", "leads_queue", "preset"]

_CALL, _SMS, _EMAIL = Channel.CALL, Channel.SMS, Channel.EMAIL
_IN = Direction.INBOUND
HOUR = timedelta(hours=1)


def lead_management() -> Playbook:
    """The standard lead stages of the lead-management product."""
    return Playbook(
        key="lead_management",
        name="Lead Management",
        description="Eight standard stages from New to Closed, with standard reporting.",
        stages=(
            Stage(
                key="new",
                label="New",
                order=1,
                colour="grey",
                initial=True,
                description="Added; no outreach yet. The default stage of new leads.",
            ),
            Stage(
                key="contact_attempted",
                label="Contact Attempted",
                order=2,
                colour="blue",
                description="Reached out by call, email or text; no response yet.",
                allow_backward=True,
            ),
            Stage(
                key="engaged",
                label="Engaged",
                order=3,
                colour="teal",
                description="Two-way communication: the lead responded.",
                allow_backward=True,
            ),
            Stage(
                key="application_started",
                label="Application Started",
                order=4,
                colour="indigo",
                description="Began the loan application; not submitted.",
                allow_backward=True,
            ),
            Stage(
                key="application_submitted",
                label="Application Submitted",
                order=5,
                colour="purple",
                description="Completed and submitted the loan application.",
                allow_backward=True,
            ),
            Stage(
                key="pre_approved",
                label="Pre-Approved",
                order=6,
                colour="amber",
                description="The application was pre-approved.",
                allow_backward=True,
            ),
            Stage(
                key="in_process",
                label="In Process",
                order=7,
                colour="orange",
                description="Being processed or underwritten.",
                allow_backward=True,
            ),
            Stage(
                key="closed",
                label="Closed",
                order=8,
                colour="green",
                category=Category.WON,
                terminal=True,
                reopen_permission=Permission.REACTIVATE,
                outcomes=(
                    Outcome(key="funded", label="Funded", category=Category.WON),
                    Outcome(key="withdrawn", label="Withdrawn", category=Category.LOST),
                    Outcome(key="declined", label="Declined", category=Category.LOST),
                    Outcome(key="lost", label="Lost", category=Category.LOST),
                ),
                description="A final outcome: funded, withdrawn, declined or lost.",
            ),
        ),
        dispositions=(
            Disposition(
                key="no_answer",
                label="No answer",
                channel=_CALL,
                to_stage="contact_attempted",
                contact_attempt=True,
            ),
            Disposition(
                key="left_vm",
                label="Left vm",
                channel=_CALL,
                to_stage="contact_attempted",
                contact_attempt=True,
            ),
            Disposition(
                key="sent_email",
                label="Sent email",
                channel=_EMAIL,
                to_stage="contact_attempted",
                contact_attempt=True,
            ),
            Disposition(
                key="sent_text",
                label="Sent text",
                channel=_SMS,
                to_stage="contact_attempted",
                contact_attempt=True,
            ),
            Disposition(
                key="spoke",
                label="Spoke with borrower",
                channel=_CALL,
                to_stage="engaged",
                contact_attempt=True,
            ),
            Disposition(
                key="inbound_call", label="Inbound call", channel=_CALL, direction=_IN,
                to_stage="engaged",
            ),
            Disposition(
                key="inbound_text", label="Inbound text", channel=_SMS, direction=_IN,
                to_stage="engaged",
            ),
            Disposition(
                key="inbound_email", label="Inbound email", channel=_EMAIL, direction=_IN,
                to_stage="engaged",
            ),
        ),
    )  # fmt: skip


def leads_queue() -> Playbook:
    """The leads-queue product: call dispositions that snooze, follow-ups that override."""
    return Playbook(
        key="leads_queue",
        name="Leads Queue",
        description="Five statuses; a call's disposition decides when the lead is back.",
        stages=(
            Stage(key="new", label="New", order=1, colour="blue", initial=True,
                  description="No call or text attempted yet."),
            Stage(key="contact_attempted", label="Contact Attempted", order=2, colour="yellow",
                  description="Called or texted; no contact yet.", allow_backward=True),
            Stage(key="engaged", label="Engaged", order=3, colour="green",
                  description="Contact established.", allow_backward=True),
            Stage(key="nurture", label="Nurture", order=4, colour="purple",
                  description="Being cultivated towards conversion.", allow_backward=True),
            Stage(key="converted", label="Converted", order=5, colour="gold",
                  category=Category.WON, terminal=True,
                  description="Became a customer."),
        ),
        dispositions=(
            Disposition(key="no_answer", label="No Answer", channel=_CALL,
                        to_stage="contact_attempted", snooze=HOUR, contact_attempt=True),
            Disposition(key="left_vm", label="Left VM", channel=_CALL,
                        to_stage="contact_attempted", snooze=HOUR, contact_attempt=True),
            Disposition(key="vm_full", label="VM Full", channel=_CALL,
                        to_stage="contact_attempted", snooze=HOUR, contact_attempt=True),
            Disposition(key="engaged", label="Engaged", channel=_CALL, to_stage="engaged",
                        snooze=48 * HOUR, contact_attempt=True),
            Disposition(key="sms_sent", label="SMS sent", channel=_SMS,
                        to_stage="contact_attempted", contact_attempt=True),
            Disposition(key="inbound_call", label="Inbound call", channel=_CALL, direction=_IN,
                        to_stage="engaged"),
            Disposition(key="inbound_sms", label="Inbound SMS", channel=_SMS, direction=_IN,
                        to_stage="engaged"),
        ),
    )  # fmt: skip


def investor() -> Playbook:
    """The investor product's colour-coded statuses, effects and guards."""

    def green(key: str, label: str, order: int, *signals: str, description: str) -> Stage:
        return Stage(
            key=key,
            label=label,
            order=order,
            colour="green",
            allow_backward=True,
            effect=Effect(ownership=Ownership.KEEP, signals=signals),
            description=description,
        )

    def yellow(key: str, label: str, effect: Effect, description: str) -> Stage:
        return Stage(
            key=key,
            label=label,
            order=7,
            colour="yellow",
            category=Category.LOST,
            allow_backward=True,
            effect=effect,
            description=description,
        )

    def red(key: str, label: str, guard: Guard, description: str) -> Stage:
        return Stage(
            key=key,
            label=label,
            order=8,
            colour="red",
            category=Category.DEAD,
            terminal=True,
            effect=Effect(kill=True),
            guards=(guard,),
            description=description,
        )

    release_now = Effect(ownership=Ownership.RELEASE_NOW)
    return Playbook(
        key="investor",
        name="Investor",
        description="Colour-coded statuses: purple dials, green keeps, yellow releases, red kills.",
        stages=(
            Stage(
                key="not_contacted",
                label="Not Contacted",
                order=1,
                colour="purple",
                initial=True,
                allow_backward=True,
                description="The lead did not answer; logged on every unanswered dial.",
            ),
            green("needs_offer", "Needs Offer", 2, "notify_underwriter",
                  description="Texts the underwriter to run the numbers."),
            green("appointment_booked", "Appointment Booked", 3,
                  description="An appointment for an offer is booked."),
            green("offer_made", "Offer Made", 4, "kpi_offer_made",
                  description="The number was given; credits the offer KPI."),
            green("send_contract", "Send Contract", 5, "send_contract_form", "draft_contract",
                  description="Texts a form link and drafts the contract."),
            green("under_contract", "Under Contract", 6, "transaction_form",
                  description="Sends the deal-information form to the transactions team."),
            yellow("offer_rejected", "Offer Rejected",
                   Effect(ownership=Ownership.RELEASE_AFTER, release_after=timedelta(days=7)),
                   "Kept by its owner for 7 days, then released to the pool unless it moved on."),
            yellow("not_interested", "Not Interested", release_now,
                   "Released to the pool at once."),
            yellow("listed_with_agent", "Listed With Agent", release_now,
                   "Released to the pool at once."),
            red("already_sold", "Already Sold",
                RequiresNote("confirm the sale on the assessor's or PropStream's records and "
                             "check whether the owner has another property"),
                "Sold, as confirmed on public records."),
            red("wrong_number", "Wrong Number", MinReports("wrong_number", 3),
                "The number is wrong, as told at least 3 times."),
            red("dead_deal", "Dead Deal", ApprovalWhileNew(30),
                "Would never be a deal for any reason."),
        ),
        dispositions=(
            Disposition(key="not_contacted", label="Not Contacted", channel=_CALL,
                        to_stage="not_contacted", contact_attempt=True),
            Disposition(key="connected", label="Connected", channel=_CALL,
                        contact_attempt=True),
            Disposition(key="told_wrong_number", label="Told: wrong number", channel=_CALL,
                        contact_attempt=True, report="wrong_number"),
            Disposition(key="sms_sent", label="SMS sent", channel=_SMS, contact_attempt=True),
            Disposition(key="sms_reply", label="SMS reply", channel=_SMS, direction=_IN),
        ),
        follow_up=FollowUpRule(scale=Fraction(1, 2)),
    )  # fmt: skip


def call_log() -> Playbook:
    """The call log's schedule statuses and Lost/Archive."""

    def status(
        key: str, label: str, colour: str, description: str, *, initial: bool = False
    ) -> Stage:
        return Stage(
            key=key,
            label=label,
            order=1,
            colour=colour,
            description=description,
            initial=initial,
            system_only=not initial,
        )

    return Playbook(
        key="call_log",
        name="Call Log",
        description="Every lead scheduled; untouched leads age to the Lead Bank.",
        stages=(
            status("not_scheduled", "Not Scheduled", "grey",
                   "No reminder date: waits in To Be Scheduled.", initial=True),
            status("scheduled", "Scheduled", "blue",
                   "Has a reminder date: in the Schedule and the calendar."),
            status("missed", "Missed", "yellow",
                   "The reminder time passed: back to To Be Scheduled."),
            status("past_due", "Past Due", "red",
                   "Untouched for 2 days: in To Be Scheduled."),
            status("abandoned", "Abandoned", "orange",
                   "Untouched for 3 days: still owned, but anyone may take it from the "
                   "Lead Bank."),
            status("available", "Available", "green",
                   "Abandoned for more than 5 days: no owner, in the Lead Bank for "
                   "everyone."),
            Stage(key="lost_archive", label="Lost/Archive", order=2, colour="black",
                  category=Category.LOST, terminal=True,
                  reopen_permission=Permission.REACTIVATE,
                  description="No longer pursued; searchable; reopened only with reactivate."),
        ),
        dispositions=(
            Disposition(key="no_answer", label="No answer", channel=_CALL, contact_attempt=True),
            Disposition(key="left_message", label="Left message", channel=_CALL,
                        contact_attempt=True),
            Disposition(key="spoke", label="Spoke", channel=_CALL, contact_attempt=True),
            Disposition(key="text_sent", label="Text sent", channel=_SMS, contact_attempt=True),
            Disposition(key="email_sent", label="Email sent", channel=_EMAIL,
                        contact_attempt=True),
            Disposition(key="inbound_call", label="Inbound call", channel=_CALL, direction=_IN),
        ),
        follow_up=FollowUpRule(moves_to="scheduled"),
        aging=(
            ScheduleCleared(stages=("scheduled",), to_stage="not_scheduled"),
            FollowUpPassed(stages=("scheduled",), to_stage="missed"),
            TouchRevives(stages=("past_due", "abandoned", "available"),
                         to_stage="not_scheduled"),
            Untouched(stages=("not_scheduled", "missed"), after=timedelta(days=2),
                      to_stage="past_due"),
            Untouched(stages=("not_scheduled", "missed", "past_due"), after=timedelta(days=3),
                      to_stage="abandoned"),
            StageTimeout(stage="abandoned", after=timedelta(days=5), to_stage="available",
                         release=True),
        ),
        pool_stages=("abandoned",),
    )  # fmt: skip


#: Every preset by name.
PRESETS: Mapping[str, Callable[[], Playbook]] = {
    "lead_management": lead_management,
    "leads_queue": leads_queue,
    "investor": investor,
    "call_log": call_log,
}


def preset(name: str) -> Playbook:
    """Build the preset called ``name``; a :class:`ConfigError` names the presets otherwise."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ConfigError(
            f"playbook {name!r} is not a preset (presets: {', '.join(PRESETS)})"
        ) from None
