"""Why a lead went where it went: each routing decision recorded as data, rendered when asked.

Routing every lead records, per policy it tried, a :class:`Step`: the
policy's member index, the lead's filter masks (cached per lead profile),
who was over a volume cap, who was chosen or offered the lead, and why the
policy failed when it did. That costs one small object a policy tried; the
per-member :class:`TraceEntry` list (:func:`trace_of`) and the compact,
storable :class:`Decision` (:func:`decision_of`) are computed from it only
when asked, so there is one routing path whatever the caller wants to know.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import attrs

from leadflow.events import AssignmentMethod, Decision, DecisionStep
from leadflow.model import LeadAttributes
from leadflow.routing.config import Distribution, FailureReason
from leadflow.routing.directory import PolicyIndex, Profile

__all__ = [
    "Step",
    "TraceEntry",
    "Verdict",
    "decision_of",
    "describe",
    "trace_of",
]


class Verdict(enum.StrEnum):
    """What one team member's evaluation for one lead came to (the first rule that applied)."""

    INACTIVE = "inactive"
    NO_RECEIVE_LEADS = "no_receive_leads"
    BEYOND_CAP = "beyond_cap"
    PAUSED = "paused"
    FILTER_STATE = "filter_state"
    FILTER_ZIP = "filter_zip"
    FILTER_LOAN_PURPOSE = "filter_loan_purpose"
    FILTER_CREDIT_RATING = "filter_credit_rating"
    NO_STATE_LICENSE = "no_state_license"
    VOLUME_CAP = "volume_cap"
    ELIGIBLE = "eligible"
    CHOSEN = "chosen"
    OFFERED = "offered"


@attrs.frozen
class TraceEntry:
    """One member of one policy, and what the routing of this lead made of them."""

    policy: str
    user_id: int
    verdict: Verdict
    detail: str = ""


#: What the chosen member's trace entry says of the rule that chose it.
WHY_CHOSEN = {
    Distribution.ROUND_ROBIN: "least_recent",
    Distribution.DIRECT: "direct",
    Distribution.WEIGHTED: "weighted: highest running weight",
    Distribution.LEAST_LOADED: "least_loaded: fewest open leads, then least_recent",
}


class Step(NamedTuple):  # a tuple: made for every policy tried for every lead
    """One policy tried for one lead, as routing saw it (see the module documentation).

    ``chosen`` is the member given the lead (its user id), ``offered`` the
    members offered it in order; ``reason`` why nobody could be.
    """

    policy_index: PolicyIndex
    attributes: LeadAttributes
    profile: Profile
    over: int
    reason: FailureReason | None = None
    chosen: int | None = None
    offered: tuple[int, ...] = ()

    @property
    def policy(self) -> str:
        return self.policy_index.policy.key

    def verdicts(self) -> Iterator[tuple[int, Verdict, str]]:
        """Each member's user id, verdict and detail, in member order, then the excluded."""
        index, a, profile = self.policy_index, self.attributes, self.profile
        st, zp = a.property_state, a.property_zip
        checks = (
            (index.paused, Verdict.PAUSED, ""),
            (~profile.state_ok, Verdict.FILTER_STATE, f"property state {st or '(blank)'}"),
            (~profile.zip_ok, Verdict.FILTER_ZIP, f"property zip {zp or '(blank)'}"),
            (~profile.purpose_ok, Verdict.FILTER_LOAN_PURPOSE, f"loan purpose {a.loan_purpose}"),
            (
                ~profile.credit_ok,
                Verdict.FILTER_CREDIT_RATING,
                f"credit rating {a.credit_rating}",
            ),
            (
                profile.filtered & ~profile.licensed,
                Verdict.NO_STATE_LICENSE,
                f"no license for {st or '(blank)'}",
            ),
            (self.over, Verdict.VOLUME_CAP, "volume cap reached"),
        )
        rank = {user_id: n for n, user_id in enumerate(self.offered, start=1)}
        for excluded in index.excluded:
            yield excluded.user_id, Verdict(excluded.why), ""
        for i, user_id in enumerate(index.member_ids):
            bit = 1 << i
            for mask, verdict, detail in checks:
                if mask & bit:
                    yield user_id, verdict, detail
                    break
            else:
                if user_id == self.chosen:
                    yield user_id, Verdict.CHOSEN, WHY_CHOSEN[index.policy.distribution]
                elif user_id in rank:
                    yield user_id, Verdict.OFFERED, f"least_recent: {rank[user_id]}"
                else:
                    yield user_id, Verdict.ELIGIBLE, ""


def trace_of(steps: Sequence[Step]) -> tuple[TraceEntry, ...]:
    """Every member of every policy tried, with the first rule that excluded them (or what
    they got), by policy in the order tried, then by user id."""
    trace: list[TraceEntry] = []
    for step in steps:
        entries = [TraceEntry(step.policy, uid, v, detail) for uid, v, detail in step.verdicts()]
        trace += sorted(entries, key=lambda e: e.user_id)
    return tuple(trace)


#: How many decision steps a policy index keeps made.
_STEPS_KEPT = 4096


def _step(step: Step) -> DecisionStep:
    """``step`` as a :class:`DecisionStep`; the same steps are made once (a batch has few)."""
    kept = step.policy_index.steps
    key = (step.profile, step.over, step.reason, step.chosen, step.offered)
    made = kept.get(key)
    if not isinstance(made, DecisionStep):
        groups: dict[Verdict, list[int]] = {}
        for user_id, verdict, _ in step.verdicts():
            if verdict not in (Verdict.CHOSEN, Verdict.OFFERED):
                groups.setdefault(verdict, []).append(user_id)
        made = DecisionStep(
            policy=step.policy,
            distribution=str(step.policy_index.policy.distribution),
            winner=step.chosen,
            offered=step.offered,
            reason=None if step.reason is None else str(step.reason),
            passed=tuple((str(v), tuple(sorted(groups[v]))) for v in Verdict if v in groups),
        )
        if len(kept) >= _STEPS_KEPT:
            kept.clear()
        kept[key] = made
    return made


def decision_of(
    outcome: str,
    steps: Sequence[Step],
    *,
    method: AssignmentMethod | None,
    assignee: int | None,
    reason: FailureReason | None,
    primary_reason: FailureReason | None,
) -> Decision:
    """The storable record of one routing decision; the same decisions are made once (a
    batch has few: it is kept with the first policy tried)."""
    made = tuple(map(_step, steps))
    kept = steps[0].policy_index.decisions if steps else {}
    key = (outcome, method, assignee, reason, primary_reason, made)
    decision = kept.get(key)
    if not isinstance(decision, Decision):
        decision = Decision(
            outcome=outcome,
            method=method,
            assignee=assignee,
            reason=None if reason is None else str(reason),
            primary_reason=None if primary_reason is None else str(primary_reason),
            steps=made,
        )
        if len(kept) >= _STEPS_KEPT:
            kept.clear()
        kept[key] = decision
    return decision


_METHOD_TEXT = {
    AssignmentMethod.SELF: "created by user {assignee}, who gets the leads they create",
    AssignmentMethod.OVERRIDE: "assigned to user {assignee} by name, routing skipped",
}


def _why(reason: str) -> str:
    return f"{reason} ({FailureReason(reason).description})"


def describe(decision: Decision) -> list[str]:
    """The decision in a few lines, for a person."""
    lines: list[str] = []
    if decision.method in _METHOD_TEXT:
        lines.append(_METHOD_TEXT[decision.method].format(assignee=decision.assignee))
    elif not decision.steps:
        reason = decision.reason
        lines.append(f"not assigned: {_why(reason)}" if reason else "not routed")
    for step in decision.steps:
        head = f"policy {step.policy} ({step.distribution}): "
        if step.winner is not None:
            head += f"chose user {step.winner} ({WHY_CHOSEN[Distribution(step.distribution)]})"
        elif step.offered:
            head += f"offered to users {', '.join(map(str, step.offered))}, in that order"
        elif step.reason is not None:
            head += f"nobody could take it: {_why(step.reason)}"
        lines.append(head)
        for verdict, user_ids in step.passed:
            lines.append(f"  passed over, {verdict}: users {', '.join(map(str, user_ids))}")
    if decision.steps and decision.assignee is None and decision.reason is not None:
        lines.append(f"not assigned: {_why(decision.reason)}")
    return lines
