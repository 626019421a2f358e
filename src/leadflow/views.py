"""Pipeline views: contacts with their leads, filtered and sorted (DESIGN D11).

A :class:`View` filters leads by any attribute (include and exclude
conditions, :mod:`leadflow.predicates`), can keep only unassigned leads and
only contacts that have leads, sorts by any attributes, and groups the
result by contact: one :class:`ContactRow` per contact with at most 100 of
its leads, and how many of its leads the filter hid ("2 lead(s) filtered").

Views are data: an administrator can save one in TOML or JSON and push it to
teams (see :mod:`leadflow.io.views`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cmp_to_key
from typing import Any
from uuid import UUID

import attrs

from leadflow.errors import FieldError, ValidationError
from leadflow.model import Contact, Lead
from leadflow.predicates import FIELDS, Criteria, lead_value

__all__ = ["MAX_LEADS_PER_CONTACT", "ContactRow", "SortKey", "View", "apply_view"]

#: The most leads a pipeline view shows for one contact (the seed's limit).
MAX_LEADS_PER_CONTACT = 100


@attrs.frozen
class SortKey:
    """Sort by ``field``; blanks always last."""

    field: str
    descending: bool = False

    def __attrs_post_init__(self) -> None:
        if self.field not in FIELDS:
            raise ValidationError(
                [FieldError("sort", self.field, "is not a lead field a view can sort by")]
            )


@attrs.frozen(kw_only=True)
class View:
    """A saved pipeline view."""

    name: str
    criteria: Criteria = attrs.field(factory=Criteria)
    sort: tuple[SortKey, ...] = (SortKey("updated_at", descending=True),)
    only_contacts_with_leads: bool = False
    only_unassigned: bool = False
    max_leads_per_contact: int = MAX_LEADS_PER_CONTACT

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.max_leads_per_contact <= MAX_LEADS_PER_CONTACT:
            raise ValidationError(
                [
                    FieldError(
                        "max_leads_per_contact",
                        self.max_leads_per_contact,
                        f"must be between 1 and {MAX_LEADS_PER_CONTACT}",
                    )
                ]
            )

    @property
    def filters_leads(self) -> bool:
        return bool(self.criteria.include or self.criteria.exclude or self.only_unassigned)

    def matches(self, lead: Lead) -> bool:
        if self.only_unassigned and lead.assignee_id is not None:
            return False
        return self.criteria.matches(lead)


@attrs.frozen
class ContactRow:
    """One contact in a view, with the leads shown and how many were hidden."""

    contact: Contact
    leads: tuple[Lead, ...]
    filtered: int = 0
    beyond_limit: int = 0

    @property
    def message(self) -> str:
        """The note shown beside the contact: ``"2 lead(s) filtered"`` (empty when none)."""
        parts = []
        if self.filtered:
            parts.append(f"{self.filtered} lead(s) filtered")
        if self.beyond_limit:
            parts.append(f"{self.beyond_limit} more lead(s) not displayed")
        return "; ".join(parts)


def _compare(keys: tuple[SortKey, ...]) -> Any:
    def compare(a: Lead, b: Lead) -> int:
        for key in keys:
            x, y = lead_value(a, key.field), lead_value(b, key.field)
            if x == y:
                continue
            if x is None or x == "":
                return 1
            if y is None or y == "":
                return -1
            order = -1 if x < y else 1
            return -order if key.descending else order
        return -1 if a.lead_id < b.lead_id else (1 if a.lead_id > b.lead_id else 0)

    return cmp_to_key(compare)


def apply_view(view: View, contacts: Iterable[Contact], leads: Iterable[Lead]) -> list[ContactRow]:
    """The view's rows: one per contact shown, ordered by each contact's first lead.

    A contact is shown when it has a lead the view matches; or, when the view
    filters nothing, when it has any lead (``only_contacts_with_leads``) or
    always. Its leads are the matching ones, sorted, at most
    ``max_leads_per_contact``; ``filtered`` counts the ones the view hid.
    """
    by_contact: dict[UUID, list[Lead]] = defaultdict(list)
    for lead in leads:
        by_contact[lead.contact_id].append(lead)
    key = _compare(view.sort)
    rows: list[tuple[Lead | None, ContactRow]] = []
    for contact in contacts:
        own = by_contact.get(contact.contact_id, [])
        shown = sorted((lead for lead in own if view.matches(lead)), key=key)
        if not shown and (view.filters_leads or (view.only_contacts_with_leads and not own)):
            continue
        if not own and view.only_contacts_with_leads:
            continue
        limit = view.max_leads_per_contact
        row = ContactRow(
            contact=contact,
            leads=tuple(shown[:limit]),
            filtered=len(own) - len(shown),
            beyond_limit=max(0, len(shown) - limit),
        )
        rows.append((shown[0] if shown else None, row))

    def row_order(a: tuple[Lead | None, ContactRow], b: tuple[Lead | None, ContactRow]) -> int:
        if a[0] is None or b[0] is None:
            if a[0] is None and b[0] is None:
                na, nb = a[1].contact.details.name, b[1].contact.details.name
                return (na > nb) - (na < nb)
            return 1 if a[0] is None else -1
        ka, kb = key(a[0]), key(b[0])
        return -1 if ka < kb else (1 if kb < ka else 0)

    rows.sort(key=cmp_to_key(row_order))
    return [row for _, row in rows]
