"""Guards: conditions a user must meet before a disposition or stage is accepted.

A guard that fails raises a specific error that says which guard failed and
what would satisfy it, and the lead is left unchanged:

* :class:`MinReports` -- enough prior reports of a kind (investor Wrong
  Number: the borrower said "wrong number" at least 3 times) ->
  :class:`~leadflow.errors.ValidationError`;
* :class:`ApprovalWhileNew` -- an approver is needed while the acting user is
  in their first N days (investor Dead Deal, 30 days) ->
  :class:`~leadflow.errors.PermissionDenied`;
* :class:`RequiresPermission` -- the acting user holds a permission ->
  :class:`~leadflow.errors.PermissionDenied`;
* :class:`RequiresNote` -- a confirmation note is given (investor Already
  Sold: confirmed on the assessor's records) ->
  :class:`~leadflow.errors.ValidationError`.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from leadflow.errors import FieldError, PermissionDenied, ValidationError
from leadflow.model import Lead, Permission, User

__all__ = [
    "ApprovalWhileNew",
    "Guard",
    "GuardContext",
    "MinReports",
    "RequiresNote",
    "RequiresPermission",
]


@attrs.frozen(kw_only=True)
class GuardContext:
    """What a guard may look at. ``subject`` names the move (``disposition 'wrong_number'``)."""

    subject: str
    lead: Lead
    actor: User
    now: datetime
    approval: User | None = None
    note: str | None = None


@attrs.frozen
class MinReports:
    """At least ``count`` reports of ``kind`` must already be on the lead."""

    kind: str
    count: int

    def check(self, ctx: GuardContext) -> None:
        have = ctx.lead.report_count(self.kind)
        if have < self.count:
            raise ValidationError(
                [
                    FieldError(
                        "disposition",
                        ctx.subject,
                        f"needs {self.count} prior '{self.kind}' reports and this lead has "
                        f"{have}: log the report each time it happens, then try again",
                    )
                ]
            )

    def problems(self) -> list[str]:
        return [] if self.count >= 1 else [f"MinReports count must be at least 1, not {self.count}"]

    def describe(self) -> str:
        return f"needs {self.count} prior '{self.kind}' reports"


@attrs.frozen
class ApprovalWhileNew:
    """While the acting user is in their first ``days`` days, an approver must approve.

    The approver must be another active user who is an admin or holds the
    ``approve`` permission. A user whose start date is unknown is not
    considered new.
    """

    days: int

    def check(self, ctx: GuardContext) -> None:
        tenure = ctx.actor.tenure_days(ctx.now.date())
        if tenure is None or tenure >= self.days:
            return
        approver = ctx.approval
        if approver is None:
            raise PermissionDenied(
                f"{ctx.subject} needs approval: user {ctx.actor.user_id} is on day {tenure + 1} "
                f"of their first {self.days}; pass an approver (an admin or a user with "
                f"the '{Permission.APPROVE}' permission)"
            )
        if approver.user_id == ctx.actor.user_id:
            raise PermissionDenied(f"{ctx.subject}: a user cannot approve their own action")
        if not approver.active or not (
            approver.is_admin or approver.has_permission(Permission.APPROVE)
        ):
            raise PermissionDenied(
                f"{ctx.subject}: user {approver.user_id} cannot approve it; the approver must "
                f"be an active admin or hold the '{Permission.APPROVE}' permission"
            )

    def problems(self) -> list[str]:
        return (
            [] if self.days >= 1 else [f"ApprovalWhileNew days must be at least 1, not {self.days}"]
        )

    def describe(self) -> str:
        return f"needs an approver during the user's first {self.days} days"


@attrs.frozen
class RequiresPermission:
    """The acting user must hold ``permission``."""

    permission: str

    def check(self, ctx: GuardContext) -> None:
        if not ctx.actor.has_permission(self.permission):
            raise PermissionDenied(
                f"{ctx.subject} needs the '{self.permission}' permission, "
                f"which user {ctx.actor.user_id} does not have"
            )

    def problems(self) -> list[str]:
        return [] if self.permission.strip() else ["RequiresPermission needs a permission name"]

    def describe(self) -> str:
        return f"needs the '{self.permission}' permission"


@attrs.frozen
class RequiresNote:
    """A note must be given; ``prompt`` says what it must confirm."""

    prompt: str

    def check(self, ctx: GuardContext) -> None:
        if ctx.note is None or not ctx.note.strip():
            raise ValidationError(
                [FieldError("note", ctx.note, f"is required for {ctx.subject}: {self.prompt}")]
            )

    def problems(self) -> list[str]:
        return [] if self.prompt.strip() else ["RequiresNote needs a prompt"]

    def describe(self) -> str:
        return f"needs a note ({self.prompt})"


Guard = MinReports | ApprovalWhileNew | RequiresPermission | RequiresNote
