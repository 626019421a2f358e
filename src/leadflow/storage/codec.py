"""JSON documents for leadflow values: an exact, stable round trip.

Stores keep leadflow values as JSON text. Every function here turns a value
into text and back so that ``from_json(to_json(x)) == x``:

* datetimes are ISO 8601 text keeping their own UTC offset
  (``"2026-03-10T10:00:00-06:00"``), dates ISO (``"2026-03-10"``);
* UUIDs are their canonical text, decimals their exact text (``"250000.00"``
  keeps its two places), fractions ``"n/d"``;
* a timedelta is an integer number of microseconds;
* enums are their value, tuples lists, frozensets sorted lists;
* attrs classes are objects keyed by field name. In lead and contact
  documents a field that is ``None`` or an empty tuple is left out; every
  other field is written, even at its default, so a document never depends
  on a default that may change.

Events are written without their ``kind``; the store keeps the kind beside
the document and passes it back to :func:`event_from_json`.

Leads and contacts, written and read many thousand times a second by an
import, have hand-written codecs (follow-ups and stage changes too, also
inside events); everything else goes through a private :mod:`cattrs`
converter. The two read each other's documents: cattrs' own would only spell
out the ``null`` fields.

A text that is not a valid document for the type asked raises
:class:`ValueError` naming the type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from json.encoder import encode_basestring_ascii
from typing import Any, TypeVar, get_args, get_origin
from uuid import UUID, SafeUUID

import cattrs
from cattrs.fns import identity

from leadflow.errors import LeadflowError
from leadflow.events import (
    EVENT_TYPES,
    Decision,
    DecisionStep,
    Event,
    LeadAssigned,
    LeadCreated,
)
from leadflow.model import (
    Contact,
    ContactDetails,
    CreditRating,
    DesiredTimeframe,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    FollowUpSubject,
    Lead,
    LeadAttributes,
    LoanPurpose,
    Occupancy,
    Origin,
    Priority,
    PropertyType,
    StageChange,
    YesNoUnknown,
)
from leadflow.org import OrgConfig
from leadflow.routing.engine import PolicyCursor
from leadflow.routing.exceptions import ExceptionRecord
from leadflow.storage.protocol import OutboxMessage

__all__ = [
    "config_from_json",
    "config_to_json",
    "contact_from_json",
    "contact_to_json",
    "cursor_from_json",
    "cursor_to_json",
    "dumps",
    "event_from_json",
    "event_to_json",
    "exception_from_json",
    "exception_to_json",
    "lead_from_json",
    "lead_to_json",
    "loads",
    "message_from_json",
    "message_to_json",
    "uuid_text",
]

T = TypeVar("T")

_MICROSECOND = timedelta(microseconds=1)
_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_decode = json.JSONDecoder().decode
#: A string as JSON text (quoted, escaped as the encoder escapes it).
_quote: Callable[[str], str] = encode_basestring_ascii
_from_iso = datetime.fromisoformat
#: What a malformed document may raise while it is read.
_DECODE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, LeadflowError)


def _invalid(what: str, text: object, exc: BaseException) -> ValueError:
    shown = text if not isinstance(text, str) or len(text) <= 80 else text[:77] + "..."
    return ValueError(f"not a valid {what} document ({type(exc).__name__}: {exc}): {shown!r}")


# --------------------------------------------------------------------------- scalars


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


_new = object.__new__
_set = object.__setattr__
_UNKNOWN_SAFETY = SafeUUID.unknown


def _uuid(text: str) -> UUID:
    """``UUID(text)`` for the canonical form, at half the cost (no format sniffing)."""
    digits = text.replace("-", "")
    if len(digits) != 32:
        raise ValueError(f"badly formed UUID {text!r}")
    value = _new(UUID)
    _set(value, "int", int(digits, 16))
    _set(value, "is_safe", _UNKNOWN_SAFETY)
    return value


#: Texts of the UUIDs written lately, by ``id()`` of the UUID object, with the object:
#: an import writes each id several times (in the document, in a column, in events).
#: Holding the object keeps its ``id()`` from being reused while it is cached.
_uuid_texts: dict[int, tuple[UUID, str]] = {}
_UUID_TEXTS_KEPT = 8192


def uuid_text(value: UUID) -> str:
    """``str(value)``: the canonical text of a UUID, remembered for the ids written lately."""
    hit = _uuid_texts.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    h = f"{value.int:032x}"
    text = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if len(_uuid_texts) >= _UUID_TEXTS_KEPT:
        _uuid_texts.clear()
    _uuid_texts[id(value)] = (value, text)
    return text


_uuid_text = uuid_text


#: The last moment written and its text: the moments of one command are mostly one
#: object (``now``), written several times. One tuple, so threads read a matching pair.
_last_iso: tuple[datetime | None, str] = (None, "")


def _iso(moment: datetime) -> str:
    """``moment.isoformat()``, remembered for the last moment written."""
    global _last_iso
    last = _last_iso
    if last[0] is moment:
        return last[1]
    text = moment.isoformat()
    _last_iso = (moment, text)
    return text


def _opt_dt(value: str | None) -> datetime | None:
    return None if value is None else _from_iso(value)


def _opt_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _members(enum_type: type[Enum]) -> Callable[[Any], Any]:
    """A fast value -> member lookup (``Enum(value)`` is slow); KeyError if unknown."""
    return {member.value: member for member in enum_type}.__getitem__


_ORIGIN = _members(Origin)
_LOAN_PURPOSE = _members(LoanPurpose)
_PROPERTY_TYPE = _members(PropertyType)
_OCCUPANCY = _members(Occupancy)
_CREDIT_RATING = _members(CreditRating)
_TIMEFRAME = _members(DesiredTimeframe)
_YES_NO = _members(YesNoUnknown)
_FU_KIND = _members(FollowUpKind)
_FU_SUBJECT = _members(FollowUpSubject)
_FU_STATUS = _members(FollowUpStatus)
_PRIORITY = _members(Priority)


# --------------------------------------------------------------------------- hand-written codecs
#
# Enum members are put into documents as they are: every leadflow enum is a
# StrEnum, which the JSON encoder writes as its value. A field that is None
# or an empty tuple is left out (its default is None or ()).


def _attributes_doc(a: LeadAttributes) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "source": a.source,
        "loan_purpose": a.loan_purpose,
        "already_found_home": a.already_found_home,
        "first_time_buyer": a.first_time_buyer,
        "veteran": a.veteran,
    }
    if a.referred_by is not None:
        doc["referred_by"] = a.referred_by
    if a.loan_amount is not None:
        doc["loan_amount"] = str(a.loan_amount)
    if a.property_type is not None:
        doc["property_type"] = a.property_type
    if a.occupancy is not None:
        doc["occupancy"] = a.occupancy
    if a.credit_rating is not None:
        doc["credit_rating"] = a.credit_rating
    if a.estimated_purchase_price is not None:
        doc["estimated_purchase_price"] = str(a.estimated_purchase_price)
    if a.down_payment is not None:
        doc["down_payment"] = str(a.down_payment)
    if a.desired_timeframe is not None:
        doc["desired_timeframe"] = a.desired_timeframe
    if a.property_address is not None:
        doc["property_address"] = a.property_address
    if a.property_state is not None:
        doc["property_state"] = a.property_state
    if a.property_zip is not None:
        doc["property_zip"] = a.property_zip
    if a.external_id is not None:
        doc["external_id"] = a.external_id
    return doc


def _attributes_from(doc: Mapping[str, Any]) -> LeadAttributes:
    get = doc.get
    property_type = get("property_type")
    occupancy = get("occupancy")
    credit_rating = get("credit_rating")
    timeframe = get("desired_timeframe")
    return LeadAttributes(
        source=doc["source"],
        loan_purpose=_LOAN_PURPOSE(doc["loan_purpose"]),
        referred_by=get("referred_by"),
        loan_amount=_opt_decimal(get("loan_amount")),
        property_type=None if property_type is None else _PROPERTY_TYPE(property_type),
        occupancy=None if occupancy is None else _OCCUPANCY(occupancy),
        credit_rating=None if credit_rating is None else _CREDIT_RATING(credit_rating),
        estimated_purchase_price=_opt_decimal(get("estimated_purchase_price")),
        down_payment=_opt_decimal(get("down_payment")),
        desired_timeframe=None if timeframe is None else _TIMEFRAME(timeframe),
        already_found_home=_YES_NO(doc["already_found_home"]),
        first_time_buyer=_YES_NO(doc["first_time_buyer"]),
        veteran=_YES_NO(doc["veteran"]),
        property_address=get("property_address"),
        property_state=get("property_state"),
        property_zip=get("property_zip"),
        external_id=get("external_id"),
    )


def _follow_up_doc(f: FollowUp) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "follow_up_id": _uuid_text(f.follow_up_id),
        "kind": f.kind,
        "subject": f.subject,
        "due": _iso(f.due),
        "priority": f.priority,
        "status": f.status,
    }
    if f.notes is not None:
        doc["notes"] = f.notes
    if f.duration is not None:
        doc["duration"] = f.duration // _MICROSECOND
    if f.assignee_id is not None:
        doc["assignee_id"] = f.assignee_id
    return doc


def _follow_up_from(doc: Mapping[str, Any]) -> FollowUp:
    duration = doc.get("duration")
    return FollowUp(
        follow_up_id=_uuid(doc["follow_up_id"]),
        kind=_FU_KIND(doc["kind"]),
        subject=_FU_SUBJECT(doc["subject"]),
        due=_from_iso(doc["due"]),
        notes=doc.get("notes"),
        duration=None if duration is None else timedelta(microseconds=duration),
        assignee_id=doc.get("assignee_id"),
        priority=_PRIORITY(doc["priority"]),
        status=_FU_STATUS(doc["status"]),
    )


def _stage_change_doc(c: StageChange) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "from_stage": c.from_stage,
        "to_stage": c.to_stage,
        "at": _iso(c.at),
        "backward": c.backward,
    }
    if c.actor is not None:
        doc["actor"] = c.actor
    if c.outcome is not None:
        doc["outcome"] = c.outcome
    return doc


def _stage_change_from(doc: Mapping[str, Any]) -> StageChange:
    return StageChange(
        from_stage=doc["from_stage"],
        to_stage=doc["to_stage"],
        at=_from_iso(doc["at"]),
        actor=doc.get("actor"),
        backward=doc["backward"],
        outcome=doc.get("outcome"),
    )


#: Optional datetime fields of a lead, written as ISO text when set.
_LEAD_TIMES = (
    "stage_entered_at",
    "first_attempt_at",
    "last_attempt_at",
    "last_touched_at",
    "snoozed_until",
    "killed_at",
    "release_at",
    "assigned_at",
)


def _lead_doc(lead: Lead) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "lead_id": _uuid_text(lead.lead_id),
        "contact_id": _uuid_text(lead.contact_id),
        "created_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
        "attributes": _attributes_doc(lead.attributes),
        "stage": lead.stage,
        "origin": lead.origin,
        "contact_attempts": lead.contact_attempts,
        "version": lead.version,
    }
    if lead.assignee_id is not None:
        doc["assignee_id"] = lead.assignee_id
    if lead.outcome is not None:
        doc["outcome"] = lead.outcome
    if lead.last_outcome is not None:
        doc["last_outcome"] = lead.last_outcome
    if lead.assignment_method is not None:
        doc["assignment_method"] = lead.assignment_method
    if lead.reports:
        doc["reports"] = lead.reports
    if lead.follow_ups:
        doc["follow_ups"] = [_follow_up_doc(f) for f in lead.follow_ups]
    if lead.stage_history:
        doc["stage_history"] = [_stage_change_doc(c) for c in lead.stage_history]
    for name in _LEAD_TIMES:
        moment = getattr(lead, name)
        if moment is not None:
            doc[name] = _iso(moment)
    return doc


def _lead_from(doc: Mapping[str, Any]) -> Lead:
    get = doc.get
    follow_ups = get("follow_ups")
    history = get("stage_history")
    reports = get("reports")
    return Lead(
        lead_id=_uuid(doc["lead_id"]),
        contact_id=_uuid(doc["contact_id"]),
        created_at=_from_iso(doc["created_at"]),
        updated_at=_from_iso(doc["updated_at"]),
        attributes=_attributes_from(doc["attributes"]),
        stage=doc["stage"],
        origin=_ORIGIN(doc["origin"]),
        assignee_id=get("assignee_id"),
        stage_entered_at=_opt_dt(get("stage_entered_at")),
        outcome=get("outcome"),
        contact_attempts=doc["contact_attempts"],
        first_attempt_at=_opt_dt(get("first_attempt_at")),
        last_attempt_at=_opt_dt(get("last_attempt_at")),
        last_touched_at=_opt_dt(get("last_touched_at")),
        last_outcome=get("last_outcome"),
        reports=() if reports is None else tuple(reports),
        snoozed_until=_opt_dt(get("snoozed_until")),
        follow_ups=() if follow_ups is None else tuple(map(_follow_up_from, follow_ups)),
        stage_history=() if history is None else tuple(map(_stage_change_from, history)),
        killed_at=_opt_dt(get("killed_at")),
        release_at=_opt_dt(get("release_at")),
        assigned_at=_opt_dt(get("assigned_at")),
        assignment_method=get("assignment_method"),
        version=doc["version"],
    )


def _contact_doc(contact: Contact) -> dict[str, Any]:
    d = contact.details
    details: dict[str, Any] = {"first_name": d.first_name, "last_name": d.last_name}
    if d.email is not None:
        details["email"] = d.email
    if d.cell_phone is not None:
        details["cell_phone"] = d.cell_phone
    doc: dict[str, Any] = {
        "contact_id": _uuid_text(contact.contact_id),
        "details": details,
        "created_at": _iso(contact.created_at),
    }
    if contact.owner_id is not None:
        doc["owner_id"] = contact.owner_id
    if contact.assignee_id is not None:
        doc["assignee_id"] = contact.assignee_id
    if contact.source is not None:
        doc["source"] = contact.source
    return doc


def _contact_from(doc: Mapping[str, Any]) -> Contact:
    details = doc["details"]
    return Contact(
        contact_id=_uuid(doc["contact_id"]),
        details=ContactDetails(
            first_name=details["first_name"],
            last_name=details["last_name"],
            email=details.get("email"),
            cell_phone=details.get("cell_phone"),
        ),
        created_at=_from_iso(doc["created_at"]),
        owner_id=doc.get("owner_id"),
        assignee_id=doc.get("assignee_id"),
        source=doc.get("source"),
    )


# --------------------------------------------------------------------------- documents as text
#
# The documents written most (leads, contacts, the events and the message of a
# new lead) are also put together as text directly: a third of the cost of
# building the dict and encoding it. The text is exactly what encoding the
# dict gives (the tests hold both to it); strings go through the JSON
# encoder's own escaping, moments, ids and amounts need none.


def _int_text(value: int | None) -> str:
    return "null" if value is None else int.__repr__(value)


def _str_text(value: str | None) -> str:
    return "null" if value is None else _quote(value)


def _attributes_json(a: LeadAttributes) -> str:
    text = (
        f'{{"source":{_quote(a.source)},"loan_purpose":{_quote(a.loan_purpose)},'
        f'"already_found_home":{_quote(a.already_found_home)},'
        f'"first_time_buyer":{_quote(a.first_time_buyer)},"veteran":{_quote(a.veteran)}'
    )
    if a.referred_by is not None:
        text += ',"referred_by":' + _quote(a.referred_by)
    if a.loan_amount is not None:
        text += ',"loan_amount":"' + str(a.loan_amount) + '"'
    if a.property_type is not None:
        text += ',"property_type":' + _quote(a.property_type)
    if a.occupancy is not None:
        text += ',"occupancy":' + _quote(a.occupancy)
    if a.credit_rating is not None:
        text += ',"credit_rating":' + _quote(a.credit_rating)
    if a.estimated_purchase_price is not None:
        text += ',"estimated_purchase_price":"' + str(a.estimated_purchase_price) + '"'
    if a.down_payment is not None:
        text += ',"down_payment":"' + str(a.down_payment) + '"'
    if a.desired_timeframe is not None:
        text += ',"desired_timeframe":' + _quote(a.desired_timeframe)
    if a.property_address is not None:
        text += ',"property_address":' + _quote(a.property_address)
    if a.property_state is not None:
        text += ',"property_state":' + _quote(a.property_state)
    if a.property_zip is not None:
        text += ',"property_zip":' + _quote(a.property_zip)
    if a.external_id is not None:
        text += ',"external_id":' + _quote(a.external_id)
    return text + "}"


def _lead_json(lead: Lead, version: int) -> str:
    """``_encode(_lead_doc(attrs.evolve(lead, version=version)))``, put together as text."""
    text = (
        f'{{"lead_id":"{_uuid_text(lead.lead_id)}","contact_id":"{_uuid_text(lead.contact_id)}",'
        f'"created_at":"{_iso(lead.created_at)}","updated_at":"{_iso(lead.updated_at)}",'
        f'"attributes":{_attributes_json(lead.attributes)},"stage":{_quote(lead.stage)},'
        f'"origin":{_quote(lead.origin)},"contact_attempts":{lead.contact_attempts:d},'
        f'"version":{version:d}'
    )
    if lead.assignee_id is not None:
        text += ',"assignee_id":' + int.__repr__(lead.assignee_id)
    if lead.outcome is not None:
        text += ',"outcome":' + _quote(lead.outcome)
    if lead.last_outcome is not None:
        text += ',"last_outcome":' + _quote(lead.last_outcome)
    if lead.assignment_method is not None:
        text += ',"assignment_method":' + _quote(lead.assignment_method)
    if lead.reports:
        text += ',"reports":' + _encode(lead.reports)
    if lead.follow_ups:
        text += ',"follow_ups":' + _encode([_follow_up_doc(f) for f in lead.follow_ups])
    if lead.stage_history:
        text += ',"stage_history":' + _encode([_stage_change_doc(c) for c in lead.stage_history])
    # the moments, in the order of _LEAD_TIMES
    if lead.stage_entered_at is not None:
        text += ',"stage_entered_at":"' + _iso(lead.stage_entered_at) + '"'
    if lead.first_attempt_at is not None:
        text += ',"first_attempt_at":"' + _iso(lead.first_attempt_at) + '"'
    if lead.last_attempt_at is not None:
        text += ',"last_attempt_at":"' + _iso(lead.last_attempt_at) + '"'
    if lead.last_touched_at is not None:
        text += ',"last_touched_at":"' + _iso(lead.last_touched_at) + '"'
    if lead.snoozed_until is not None:
        text += ',"snoozed_until":"' + _iso(lead.snoozed_until) + '"'
    if lead.killed_at is not None:
        text += ',"killed_at":"' + _iso(lead.killed_at) + '"'
    if lead.release_at is not None:
        text += ',"release_at":"' + _iso(lead.release_at) + '"'
    if lead.assigned_at is not None:
        text += ',"assigned_at":"' + _iso(lead.assigned_at) + '"'
    return text + "}"


def _contact_json(contact: Contact) -> str:
    """``_encode(_contact_doc(contact))``, put together as text."""
    d = contact.details
    text = (
        f'{{"contact_id":"{_uuid_text(contact.contact_id)}",'
        f'"details":{{"first_name":{_quote(d.first_name)},"last_name":{_quote(d.last_name)}'
    )
    if d.email is not None:
        text += ',"email":' + _quote(d.email)
    if d.cell_phone is not None:
        text += ',"cell_phone":' + _quote(d.cell_phone)
    text += f'}},"created_at":"{_iso(contact.created_at)}"'
    if contact.owner_id is not None:
        text += ',"owner_id":' + int.__repr__(contact.owner_id)
    if contact.assignee_id is not None:
        text += ',"assignee_id":' + int.__repr__(contact.assignee_id)
    if contact.source is not None:
        text += ',"source":' + _quote(contact.source)
    return text + "}"


def _lead_created_json(e: LeadCreated) -> str:
    return (
        f'{{"at":"{_iso(e.at)}","actor":{_int_text(e.actor)},"via":{_int_text(e.via)},'
        f'"interface":{_str_text(e.interface)},'
        f'"lead_id":"{_uuid_text(e.lead_id)}","contact_id":"{_uuid_text(e.contact_id)}",'
        f'"source":{_quote(e.source)},"origin":{_quote(e.origin)},"stage":{_quote(e.stage)},'
        f'"decision":{_decision_json(e.decision)}}}'
    )


def _lead_assigned_json(e: LeadAssigned) -> str:
    return (
        f'{{"at":"{_iso(e.at)}","actor":{_int_text(e.actor)},"via":{_int_text(e.via)},'
        f'"interface":{_str_text(e.interface)},'
        f'"lead_id":"{_uuid_text(e.lead_id)}","assignee_id":{int.__repr__(e.assignee_id)},'
        f'"method":{_quote(e.method)},"policy":{_str_text(e.policy)},'
        f'"decision":{_decision_json(e.decision)}}}'
    )


def _decision_json(decision: Decision | None) -> str:
    """``_encode(_unstructure(decision))``: the steps' texts are kept (a batch repeats few)."""
    if decision is None:
        return "null"
    steps = ",".join(map(_step_json, decision.steps))
    return (
        f'{{"outcome":{_quote(decision.outcome)},"method":{_str_text(decision.method)},'
        f'"assignee":{_int_text(decision.assignee)},"reason":{_str_text(decision.reason)},'
        f'"primary_reason":{_str_text(decision.primary_reason)},"steps":[{steps}]}}'
    )


#: Texts of the decision steps written lately, by ``id()`` of the step, with the step
#: (holding it keeps its ``id()`` from being reused while it is kept).
_step_texts: dict[int, tuple[DecisionStep, str]] = {}


def _step_json(step: DecisionStep) -> str:
    kept = _step_texts.get(id(step))
    if kept is not None and kept[0] is step:
        return kept[1]
    text = _encode(_CONVERTER.unstructure(step, DecisionStep))
    if len(_step_texts) >= _UUID_TEXTS_KEPT:
        _step_texts.clear()
    _step_texts[id(step)] = (step, text)
    return text


#: Events written as text directly; the others go through the converter.
_EVENT_JSON: dict[type[Any], Callable[[Any], str]] = {
    LeadCreated: _lead_created_json,
    LeadAssigned: _lead_assigned_json,
}


def _message_json(m: OutboxMessage) -> str:
    """``_encode(_unstructure(m, OutboxMessage))``, put together as text."""
    lead_id = "null" if m.lead_id is None else f'"{_uuid_text(m.lead_id)}"'
    retry = "null" if m.next_attempt_at is None else f'"{_iso(m.next_attempt_at)}"'
    return (
        f'{{"message_id":"{_uuid_text(m.message_id)}","created_at":"{_iso(m.created_at)}",'
        f'"kind":{_quote(m.kind)},"recipient":{_quote(m.recipient)},'
        f'"subject":{_quote(m.subject)},"body_text":{_quote(m.body_text)},'
        f'"body_html":{_quote(m.body_html)},"lead_id":{lead_id},"status":{_quote(m.status)},'
        f'"attempts":{int.__repr__(m.attempts)},"next_attempt_at":{retry},'
        f'"last_error":{_quote(m.last_error)}}}'
    )


# --------------------------------------------------------------------------- the converter


def _is_frozenset(type_: Any) -> bool:
    return type_ is frozenset or get_origin(type_) is frozenset


def _make_converter(*, hand_written: bool = True) -> cattrs.Converter:
    """The converter behind every function of this module.

    ``hand_written=False`` leaves leads and contacts to cattrs' generated
    code; the tests use it to check that both write and read the same
    documents.
    """
    converter = cattrs.Converter(detailed_validation=False)

    def scalar(type_: type[T], dump: Callable[[T], Any], load: Callable[[Any], T]) -> None:
        converter.register_unstructure_hook(type_, dump)
        converter.register_structure_hook(type_, lambda value, _: load(value))
        # Optional fields get their own hooks: cheaper than cattrs' union dispatch.
        converter.register_unstructure_hook(
            type_ | None, lambda value: None if value is None else dump(value)
        )
        converter.register_structure_hook(
            type_ | None, lambda value, _: None if value is None else load(value)
        )

    scalar(datetime, _iso, _from_iso)
    scalar(date, date.isoformat, date.fromisoformat)
    scalar(UUID, _uuid_text, _uuid)
    scalar(Decimal, str, Decimal)
    scalar(timedelta, lambda value: value // _MICROSECOND, lambda us: timedelta(microseconds=us))
    scalar(Fraction, _fraction_text, Fraction)

    # Plain values need no hook; saying so lets cattrs inline them.
    for plain in (int | None, str | None, bool | None):
        converter.register_unstructure_hook(plain, identity)

    def frozenset_dump(type_: Any) -> Callable[[frozenset[Any]], list[Any]]:
        args = get_args(type_)
        element = converter.get_unstructure_hook(args[0]) if args else converter.unstructure
        return lambda values: sorted(element(value) for value in values)

    converter.register_unstructure_hook_factory(_is_frozenset, frozenset_dump)

    def hand(
        type_: type[T],
        dump: Callable[[T], dict[str, Any]],
        load: Callable[[Mapping[str, Any]], T],
    ) -> None:
        converter.register_unstructure_hook(type_, dump)
        converter.register_structure_hook(type_, lambda doc, _: load(doc))

    if hand_written:
        hand(Lead, _lead_doc, _lead_from)
        hand(LeadAttributes, _attributes_doc, _attributes_from)
        hand(FollowUp, _follow_up_doc, _follow_up_from)
        hand(StageChange, _stage_change_doc, _stage_change_from)
        hand(Contact, _contact_doc, _contact_from)
    return converter


_CONVERTER = _make_converter()
_unstructure = _CONVERTER.unstructure
_structure = _CONVERTER.structure


# --------------------------------------------------------------------------- generic


def dumps(value: object) -> str:
    """``value`` (a leadflow value, or a list/tuple/dict of them) as compact JSON text."""
    return _encode(_unstructure(value))


def loads(text: str | bytes, type_: type[T]) -> T:
    """The value of type ``type_`` that :func:`dumps` wrote as ``text``."""
    try:
        return _structure(_decode(text if isinstance(text, str) else text.decode()), type_)
    except _DECODE_ERRORS as exc:
        raise _invalid(getattr(type_, "__name__", str(type_)), text, exc) from exc


# --------------------------------------------------------------------------- typed helpers


def lead_to_json(lead: Lead, *, version: int | None = None) -> str:
    """A lead (with its follow-ups, stage history and version) as JSON text.

    ``version`` is written instead of ``lead.version`` when given (a store
    writing a new lead at its first version needs no copy of it).
    """
    return _lead_json(lead, lead.version if version is None else version)


def lead_from_json(text: str) -> Lead:
    """The lead :func:`lead_to_json` wrote."""
    try:
        return _lead_from(_decode(text))
    except _DECODE_ERRORS as exc:
        raise _invalid("Lead", text, exc) from exc


def contact_to_json(contact: Contact) -> str:
    """A contact as JSON text."""
    return _contact_json(contact)


def contact_from_json(text: str) -> Contact:
    """The contact :func:`contact_to_json` wrote."""
    try:
        return _contact_from(_decode(text))
    except _DECODE_ERRORS as exc:
        raise _invalid("Contact", text, exc) from exc


def event_to_json(event: Event) -> str:
    """An event's fields as JSON text, without its ``kind`` (store that beside it)."""
    fast = _EVENT_JSON.get(type(event))
    if fast is not None:
        return fast(event)
    return _encode(_unstructure(event, type(event)))


def event_from_json(kind: str, text: str) -> Event:
    """The event of class ``EVENT_TYPES[kind]`` that :func:`event_to_json` wrote."""
    event_type = EVENT_TYPES.get(kind)
    if event_type is None:
        known = ", ".join(sorted(EVENT_TYPES))
        raise ValueError(f"unknown event kind {kind!r}; known kinds: {known}")
    try:
        return _structure(_decode(text), event_type)
    except _DECODE_ERRORS as exc:
        raise _invalid(f"{kind} event", text, exc) from exc


def exception_to_json(record: ExceptionRecord) -> str:
    """A lead exception record as JSON text."""
    return _encode(_unstructure(record, ExceptionRecord))


def exception_from_json(text: str) -> ExceptionRecord:
    """The exception record :func:`exception_to_json` wrote."""
    return loads(text, ExceptionRecord)


def config_to_json(config: OrgConfig) -> str:
    """An organisation configuration (settings, users, teams, policies, sources) as JSON."""
    return _encode(_unstructure(config, OrgConfig))


def config_from_json(text: str) -> OrgConfig:
    """The configuration :func:`config_to_json` wrote (validated again as it is built)."""
    return loads(text, OrgConfig)


def cursor_to_json(cursor: PolicyCursor) -> str:
    """A routing policy's cursor as JSON text."""
    return _encode(_unstructure(cursor, PolicyCursor))


def cursor_from_json(text: str) -> PolicyCursor:
    """The cursor :func:`cursor_to_json` wrote, or one stored in the earlier shape.

    Cursors used to be ``{"last_user_id": N, "weights": [...]}``: that reads as
    the rotation in which user N was assigned last and nobody else has a turn
    recorded (``PolicyCursor(N, weights)``).
    """
    try:
        doc = _decode(text)
        cursor = _structure(doc, PolicyCursor)
        last = doc.get("last_user_id")
        if last is not None:
            if type(last) is not int:
                raise TypeError(f"last_user_id must be a user id, not {last!r}")
            cursor = PolicyCursor(last, cursor.weights, recent=cursor.recent)
    except _DECODE_ERRORS as exc:
        raise _invalid("PolicyCursor", text, exc) from exc
    return cursor


def message_to_json(message: OutboxMessage) -> str:
    """An outbox message as JSON text."""
    if type(message) is OutboxMessage:
        return _message_json(message)
    return _encode(_unstructure(message, OutboxMessage))


def message_from_json(text: str) -> OutboxMessage:
    """The outbox message :func:`message_to_json` wrote."""
    return loads(text, OutboxMessage)
