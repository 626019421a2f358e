"""A validated row (:class:`LeadDraft`), and drafts built a table's column at a time."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import attrs

from leadflow.model import ContactDetails, LeadAttributes

# --------------------------------------------------------------------------- the result


@attrs.frozen(kw_only=True)
class LeadDraft:
    """A validated row: what a new lead will be made of.

    ``stage`` is the requested initial stage key (``None``: the playbook's
    initial stage) and ``assignee_id`` a requested assignee (``None``: routing
    decides). Whether the request is honoured is the application's decision
    (an admin override, DESIGN D7).
    """

    contact: ContactDetails
    attributes: LeadAttributes
    stage: str | None = None
    assignee_id: int | None = None


_new = object.__new__


def _settable(cls: type[Any], required: Collection[str], checked: Collection[str] = ()) -> bool:
    """Whether setting its fields one by one makes the same ``cls`` value as ``__init__``.

    True when ``__init__`` only sets fields: no post-init hook, no converter,
    no validator but on the ``checked`` fields (whose check the caller made
    already), and a plain default (no factory) for every field but ``required``.
    """
    if hasattr(cls, "__attrs_post_init__"):
        return False
    for f in attrs.fields(cls):
        if f.converter is not None or (f.validator is not None and f.name not in checked):
            return False
        if f.name not in required and (
            f.default is attrs.NOTHING or isinstance(f.default, attrs.Factory)  # type: ignore[arg-type]
        ):
            return False
    return True


def _field_names(cls: type[Any]) -> set[str]:
    return {f.name for f in attrs.fields(cls)}


#: Whether :func:`_draft` may build drafts field by field (it sets every field of
#: ContactDetails and LeadDraft by name, and every field of LeadAttributes).
_FAST_DRAFTS = (
    _settable(LeadAttributes, {"source"}, checked={"source"})
    and _settable(ContactDetails, {"first_name", "last_name"})
    and _field_names(ContactDetails) == {"first_name", "last_name", "email", "cell_phone"}
    and _settable(LeadDraft, {"contact", "attributes"})
    and _field_names(LeadDraft) == {"contact", "attributes", "stage", "assignee_id"}
)


def _setter(cls: type[Any], name: str) -> Callable[[Any, Any], None]:
    """The slot descriptor's ``__set__`` of field ``name``: sets it, frozen or not."""
    setter: Callable[[Any, Any], None] = getattr(cls, name).__set__
    return setter


if _FAST_DRAFTS:
    _SET_SOURCE = _setter(LeadAttributes, "source")
    _SET_FIRST_NAME = _setter(ContactDetails, "first_name")
    _SET_LAST_NAME = _setter(ContactDetails, "last_name")
    _SET_EMAIL = _setter(ContactDetails, "email")
    _SET_CELL_PHONE = _setter(ContactDetails, "cell_phone")
    _SET_CONTACT = _setter(LeadDraft, "contact")
    _SET_ATTRIBUTES = _setter(LeadDraft, "attributes")
    _SET_STAGE = _setter(LeadDraft, "stage")
    _SET_ASSIGNEE = _setter(LeadDraft, "assignee_id")


#: The draft's own fields and the contact's, in :func:`_build_draft`'s order after the source.
_DRAFT_FIELDS = ("first_name", "last_name", "email", "cell_phone", "lead_stage", "assignee_id")
#: The lead attributes besides the source, with their defaults, in :func:`_build_draft`'s order.
_DEFAULTS: tuple[tuple[str, Any], ...] = tuple(
    (f.name, f.default) for f in attrs.fields(LeadAttributes) if f.name != "source"
)


def _draft_builder() -> Callable[..., LeadDraft]:
    """``build(source, first_name, ..., assignee_id, *attributes)``: :func:`_draft` with arguments.

    Generated once, with one parameter per field, so that ``map`` can build
    a table's drafts from its columns.
    """
    if not _FAST_DRAFTS:  # the classes check more than their fields: build them normally

        def built(
            source: str,
            first: str,
            last: str,
            email: str | None,
            phone: str | None,
            stage: str | None,
            assignee: int | None,
            *values: Any,
        ) -> LeadDraft:
            return LeadDraft(
                contact=ContactDetails(
                    first_name=first, last_name=last, email=email, cell_phone=phone
                ),
                attributes=LeadAttributes(
                    source=source, **dict(zip((n for n, _ in _DEFAULTS), values, strict=True))
                ),
                stage=stage,
                assignee_id=assignee,
            )

        return built
    names = [f"v{i}" for i in range(len(_DEFAULTS))]
    lines = [
        f"def build(source, first, last, email, phone, stage, assignee, {', '.join(names)}):",
        "    attributes = new(LeadAttributes)",
        "    set_source(attributes, source)",
        *(f"    set_{name}(attributes, {name})" for name in names),
        "    contact = new(ContactDetails)",
        "    set_first(contact, first)",
        "    set_last(contact, last)",
        "    set_email(contact, email)",
        "    set_phone(contact, phone)",
        "    draft = new(LeadDraft)",
        "    set_contact(draft, contact)",
        "    set_attributes(draft, attributes)",
        "    set_stage(draft, stage)",
        "    set_assignee(draft, assignee)",
        "    return draft",
    ]
    namespace: dict[str, Any] = {
        "new": _new,
        "LeadAttributes": LeadAttributes,
        "ContactDetails": ContactDetails,
        "LeadDraft": LeadDraft,
        "set_source": _SET_SOURCE,
        **{
            f"set_{name}": _setter(LeadAttributes, field)
            for name, (field, _) in zip(names, _DEFAULTS, strict=True)
        },
        "set_first": _SET_FIRST_NAME,
        "set_last": _SET_LAST_NAME,
        "set_email": _SET_EMAIL,
        "set_phone": _SET_CELL_PHONE,
        "set_contact": _SET_CONTACT,
        "set_attributes": _SET_ATTRIBUTES,
        "set_stage": _SET_STAGE,
        "set_assignee": _SET_ASSIGNEE,
    }
    exec("\n".join(lines), namespace)
    build: Callable[..., LeadDraft] = namespace["build"]
    return build


_build_draft = _draft_builder()
