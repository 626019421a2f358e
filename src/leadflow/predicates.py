"""One small condition language over lead attributes, shared by views and automations.

A :class:`Condition` compares one field of a lead with a value::

    Condition("loan_purpose", Op.EQUALS, "Purchase")
    Condition("loan_amount", Op.BETWEEN, ("200000", "500000"))
    Condition("property_state", Op.IN, ("TX", "OK"))
    Condition("referred_by", Op.IS_BLANK)

A :class:`Criteria` combines them: a lead matches when it matches **every**
include condition and **none** of the exclude conditions. Fields are the
lead's attributes (``loan_purpose``, ``loan_amount``, ``property_state``...),
its system fields (``stage``, ``assignee_id``, ``origin``, ``created_at``...)
and ``lead_source`` (the same as ``source``). Values are compared as the
field's type: enums by their label, amounts as decimals, dates and times as
datetimes (ISO text), so a condition written in a TOML file means the same
as one built in Python. An unknown field, an unknown enum label or a value of
the wrong shape is a :class:`~leadflow.errors.ValidationError` when the
condition is built, never a surprise when it runs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from leadflow.errors import FieldError, ValidationError
from leadflow.model import (
    CreditRating,
    DesiredTimeframe,
    Lead,
    LeadAttributes,
    LoanPurpose,
    Occupancy,
    Origin,
    PropertyType,
    YesNoUnknown,
)

__all__ = ["FIELDS", "Condition", "Criteria", "Op", "lead_value"]


class Op(enum.StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    NOT_IN = "not_in"
    BETWEEN = "between"  # inclusive bounds; either may be None (open)
    IS_BLANK = "is_blank"
    IS_NOT_BLANK = "is_not_blank"


_ENUMS: dict[str, type[enum.Enum]] = {
    "loan_purpose": LoanPurpose,
    "property_type": PropertyType,
    "occupancy": Occupancy,
    "credit_rating": CreditRating,
    "desired_timeframe": DesiredTimeframe,
    "already_found_home": YesNoUnknown,
    "first_time_buyer": YesNoUnknown,
    "veteran": YesNoUnknown,
    "origin": Origin,
}
_MONEY = frozenset({"loan_amount", "estimated_purchase_price", "down_payment"})
_TIMES = frozenset(
    {"created_at", "updated_at", "assigned_at", "stage_entered_at", "last_touched_at"}
)
_INTS = frozenset({"assignee_id", "contact_attempts"})
_SYSTEM = frozenset(
    {"stage", "assignee_id", "origin", "outcome", "contact_attempts", "last_outcome"} | _TIMES
)

#: Every field a condition may name.
FIELDS: frozenset[str] = frozenset(
    {f.name for f in attrs.fields(LeadAttributes)} | _SYSTEM | {"lead_source"}
)


def lead_value(lead: Lead, field: str) -> Any:
    """The value of ``field`` on ``lead`` (``lead_source`` is the source key)."""
    if field in ("lead_source", "source"):
        return lead.attributes.source
    if field in _SYSTEM:
        return getattr(lead, field)
    return getattr(lead.attributes, field)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value is YesNoUnknown.BLANK


def _coerce(field: str, raw: Any) -> Any:
    """``raw`` (a TOML/JSON scalar or a Python value) as the type of ``field``."""
    if raw is None:
        return None
    try:
        if field in _ENUMS:
            kind = _ENUMS[field]
            if isinstance(raw, kind):
                return raw
            text = str(raw).strip().lower()
            for member in kind:
                if text in (str(member.value).lower(), member.name.lower()):
                    return member
            raise ValueError(", ".join(str(m.value) for m in kind if str(m.value)))
        if field in _MONEY:
            return raw if isinstance(raw, Decimal) else Decimal(str(raw).replace(",", ""))
        if field in _TIMES:
            value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
            if value.tzinfo is None:
                raise ValueError("a timezone-aware time (e.g. 2026-03-10T09:00:00+00:00)")
            return value
        if field in _INTS:
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                raise ValueError("a whole number")
            return int(raw)
    except (ValueError, InvalidOperation) as exc:
        hint = str(exc) if str(exc) and not isinstance(exc, InvalidOperation) else "a number"
        raise ValidationError(
            [FieldError(field, raw, f"is not a valid value for {field} (expected {hint})")]
        ) from None
    return str(raw) if not isinstance(raw, str) else raw


@attrs.frozen
class Condition:
    """``field`` ``op`` ``value``. Built from any scalars; values are typed on creation."""

    field: str
    op: Op
    value: Any = None

    def __attrs_post_init__(self) -> None:
        if self.field not in FIELDS:
            raise ValidationError(
                [
                    FieldError(
                        "field",
                        self.field,
                        "is not a lead field a condition may use ("
                        + ", ".join(sorted(FIELDS))
                        + ")",
                    )
                ]
            )
        op = Op(self.op)
        object.__setattr__(self, "op", op)
        value: Any
        if op in (Op.IS_BLANK, Op.IS_NOT_BLANK):
            value = None
        elif op in (Op.IN, Op.NOT_IN):
            if isinstance(self.value, str) or not isinstance(self.value, Iterable):
                raise ValidationError(
                    [FieldError(self.field, self.value, f"'{op}' needs a list of values")]
                )
            value = frozenset(_coerce(self.field, v) for v in self.value)
        elif op is Op.BETWEEN:
            bounds = tuple(self.value) if isinstance(self.value, list | tuple) else ()
            if len(bounds) != 2 or bounds == (None, None):
                raise ValidationError(
                    [
                        FieldError(
                            self.field, self.value, "'between' needs [low, high]; one may be null"
                        )
                    ]
                )
            value = (_coerce(self.field, bounds[0]), _coerce(self.field, bounds[1]))
        else:
            value = _coerce(self.field, self.value)
        object.__setattr__(self, "value", value)

    def matches(self, lead: Lead) -> bool:
        actual = lead_value(lead, self.field)
        op = self.op
        if op is Op.IS_BLANK:
            return _blank(actual)
        if op is Op.IS_NOT_BLANK:
            return not _blank(actual)
        if op is Op.EQUALS:
            return bool(actual == self.value)
        if op is Op.NOT_EQUALS:
            return bool(actual != self.value)
        if op is Op.IN:
            return actual in self.value
        if op is Op.NOT_IN:
            return actual not in self.value
        if _blank(actual):
            return False
        low, high = self.value
        return (low is None or actual >= low) and (high is None or actual <= high)


@attrs.frozen
class Criteria:
    """Every ``include`` condition holds and no ``exclude`` condition does."""

    include: tuple[Condition, ...] = ()
    exclude: tuple[Condition, ...] = ()

    def matches(self, lead: Lead) -> bool:
        return all(c.matches(lead) for c in self.include) and not any(
            c.matches(lead) for c in self.exclude
        )
