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

Leads, contacts, the events and the message of a new lead -- written and
read many thousand times a second by an import -- have codecs generated
from their attrs fields at import (:class:`_Codegen`: the text, the dict and
the reader of each class, by one rule per field type, the ``None``/``()``
rule above for documents); everything else goes through a private
:mod:`cattrs` converter, which uses the generated dicts for the values it
holds. The two read each other's documents: cattrs' own would only spell
out the ``null`` fields.

A text that is not a valid document for the type asked raises
:class:`ValueError` naming the type.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from json.encoder import encode_basestring_ascii
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints
from uuid import UUID, SafeUUID

import attrs
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
    FollowUp,
    Lead,
    LeadAttributes,
    StageChange,
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


#: How many values a kept text function remembers the texts of (see :func:`_kept`).
_TEXTS_KEPT = 8192


def _kept(text: Callable[[Any], str]) -> Callable[[Any], str]:
    """``text``, remembering the texts of the values written lately (by ``id()``, holding
    the value so that its ``id()`` is not reused while kept)."""
    kept: dict[int, tuple[Any, str]] = {}

    def written(value: Any) -> str:
        hit = kept.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        made = text(value)
        if len(kept) >= _TEXTS_KEPT:
            kept.clear()
        kept[id(value)] = (value, made)
        return made

    return written


def _canonical(value: UUID) -> str:
    h = f"{value.int:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


#: ``str(value)``: the canonical text of a UUID, remembered for the ids written lately
#: (an import writes each id several times: in the document, in a column, in events).
uuid_text: Callable[[UUID], str] = _kept(_canonical)
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


# --------------------------------------------------------------------------- generated codecs
#
# Every document's three forms -- its JSON text, its dict (for the converter,
# when the value sits inside another), and the value read back from a dict --
# are generated from the class's attrs fields and their types, once, at
# import: one rule per type, written once below, not one codec per class.
#
# In a *document* (:data:`_DOCUMENTS`: leads, contacts and routing decisions, and what they
# hold) a field at a default of ``None`` or ``()`` is left out; every other
# field is written, even at its default, so a document never depends on a
# default that may change. Enum members are written as their values (every
# leadflow enum is a StrEnum), decimals as their exact text, moments as ISO
# text with their offset, ids as canonical text, durations as microseconds.

#: Classes whose documents leave out fields at a ``None`` or ``()`` default.
_DOCUMENTS = frozenset(
    {Lead, LeadAttributes, FollowUp, StageChange, Contact, ContactDetails, Decision, DecisionStep}
)
#: Classes with generated codecs (and the classes inside them).
_GENERATED = (Lead, Contact, LeadCreated, LeadAssigned, OutboxMessage)
_NONE = type(None)
_UNSET: Any = object()


def _optional(type_: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None``; ``(type_, False)`` otherwise."""
    args = get_args(type_)
    if get_origin(type_) in (Union, UnionType) and _NONE in args and len(args) == 2:
        return next(a for a in args if a is not _NONE), True
    return type_, False


#: The generated functions of each mode of :meth:`_Codegen._expr`.
_MODES = ("text", "doc", "read")
#: Each scalar type's expressions, by mode (JSON text, document, read back); ``bool`` before
#: ``int``, and ``int`` and ``str`` take in the enums.
_SCALARS: dict[type[Any], tuple[str, str, str]] = {
    bool: ("('true' if {v} else 'false')", "{v}", "{v}"),
    str: ("q({v})", "{v}", "{v}"),
    int: ("ir({v})", "{v}", "{v}"),
    Decimal: ("'\"' + str({v}) + '\"'", "str({v})", "Decimal({v})"),
    datetime: ("'\"' + iso({v}) + '\"'", "iso({v})", "fi({v})"),
    UUID: ("'\"' + ut({v}) + '\"'", "ut({v})", "uu({v})"),
    timedelta: ("ir({v} // MICRO)", "{v} // MICRO", "timedelta(microseconds={v})"),
}
#: ``tuple[X, ...]``, by mode.
_SEQUENCE = (
    "'[' + ','.join([{item} for {i} in {v}]) + ']'",
    "[{item} for {i} in {v}]",
    "tuple([{item} for {i} in {v}])",
)
#: ``tuple[X, Y]``, by mode, from the items' expressions.
_FIXED: tuple[Callable[[list[str]], str], ...] = (
    lambda parts: "'[' + " + " + ',' + ".join(parts) + " + ']'",
    lambda parts: "[" + ", ".join(parts) + "]",
    lambda parts: "(" + "".join(p + ", " for p in parts) + ")",
)
#: Any other type goes through cattrs, by mode.
_OTHER = ("enc(un({v}, {c}))", "un({v}, {c})", "st({v}, {c})")


class _Codegen:
    """Generates, per class, ``text(value)``, ``doc(value)`` and ``read(doc)`` from its fields."""

    def __init__(self, converter: cattrs.Converter) -> None:
        self.converter = converter
        self._loops = 0
        self.names: dict[type[Any], str] = {}
        self.ns: dict[str, Any] = {
            "q": _quote,
            "ir": int.__repr__,
            "iso": _iso,
            "ut": _uuid_text,
            "uu": _uuid,
            "fi": _from_iso,
            "Decimal": Decimal,
            "date": date,
            "timedelta": timedelta,
            "MICRO": _MICROSECOND,
            "enc": _encode,
            "un": converter.unstructure,
            "st": converter.structure,
            "UNSET": _UNSET,
        }

    def _loop(self) -> str:
        self._loops += 1
        return f"_i{self._loops}"

    def _const(self, value: Any) -> str:
        name = f"c{len(self.ns)}"
        self.ns[name] = value
        return name

    def name(self, cls: type[Any]) -> str:
        """The generated functions' suffix for ``cls``, generating them on first use."""
        found = self.names.get(cls)
        if found is None:
            found = self.names[cls] = f"{cls.__name__}_{len(self.names)}"
            exec(self._source(cls, found), self.ns)
        return found

    # ------------------------------------------------------------------ per type

    def _text(self, type_: Any, v: str) -> str:
        return self._expr(0, type_, v)

    def _doc(self, type_: Any, v: str) -> str:
        return self._expr(1, type_, v)

    def _read(self, type_: Any, v: str) -> str:
        return self._expr(2, type_, v)

    def _expr(self, mode: int, type_: Any, v: str) -> str:
        """The expression that writes ``v``, of type ``type_``, as JSON text (mode 0) or as a
        document (1), or reads it back from a document (2)."""
        if isinstance(type_, type):
            if attrs.has(type_):
                return f"{_MODES[mode]}_{self.name(type_)}({v})"
            if mode == 2 and issubclass(type_, enum.Enum):
                members = {member.value: member for member in type_}
                return f"{self._const(members)}[{v}]"
            scalar = next((t for t in _SCALARS if issubclass(type_, t)), None)
            if scalar is not None:
                return _SCALARS[scalar][mode].format(v=v)
        if get_origin(type_) is tuple:
            args = get_args(type_)
            if len(args) == 2 and args[1] is Ellipsis:
                i = self._loop()
                item = self._expr(mode, args[0], i)
                if mode == 2 and item == i:
                    return f"tuple({v})"
                return _SEQUENCE[mode].format(item=item, i=i, v=v)
            parts = [self._expr(mode, a, f"{v}[{n}]") for n, a in enumerate(args)]
            return _FIXED[mode](parts)
        return _OTHER[mode].format(v=v, c=self._const(type_))

    # ------------------------------------------------------------------ per class

    def _source(self, cls: type[Any], name: str) -> str:
        hints = get_type_hints(cls)
        document = cls in _DOCUMENTS
        text = [f"def text_{name}(v, version=UNSET):"]
        doc = [f"def doc_{name}(v):", "    d = {}"]
        read = [f"def read_{name}(d):", "    g = d.get", f"    return {self._const(cls)}("]
        run: list[str] = []  # the pieces of the fields written in a row, always
        for n, field in enumerate(attrs.fields(cls)):
            key, type_ = field.name, hints[field.name]
            inner, optional = _optional(type_)
            omitted = document and field.default in (None, ())
            if n == 0 and (omitted or optional):
                raise TypeError(f"{cls.__name__}: a document's first field is always written")
            value = f"v.{key}"
            if key == "version":
                value = "(v.version if version is UNSET else version)"
            label = repr(("," if n else "{") + f'"{key}":')
            if omitted:  # left out at its None or () default
                local = f"f{n}"
                test = f"{local} is not None" if field.default is None else local
                text += self._flush(run)
                text += [
                    f"    {local} = {value}",
                    f"    if {test}: t += {label} + {self._text(inner, local)}",
                ]
                doc += [
                    f"    {local} = {value}",
                    f"    if {test}: d[{key!r}] = {self._doc(inner, local)}",
                ]
            elif optional:
                local = f"f{n}"
                text += self._flush(run)
                either = f"('null' if {local} is None else {self._text(inner, local)})"
                text += [f"    {local} = {value}", f"    t += {label} + {either}"]
                either = f"None if {local} is None else {self._doc(inner, local)}"
                doc += [f"    {local} = v.{key}", f"    d[{key!r}] = {either}"]
            else:
                run += [label, self._text(inner, value)]
                doc.append(f"    d[{key!r}] = {self._doc(inner, f'v.{key}')}")
            read.append(f"        {key}={self._read_field(field, inner, optional, document)},")
        text += self._flush(run)
        text.append("    return t + '}'")
        doc.append("    return d")
        read.append("    )")
        # the first statement makes t: its first piece is the first field's, always written
        text[1] = text[1].replace("    t += ", "    t = ", 1)
        return "\n".join([*text, "", *doc, "", *read]) + "\n"

    def _read_field(self, field: Any, inner: Any, optional: bool, document: bool) -> str:
        """The expression reading ``field`` (its type ``inner``) from the document ``d``.

        A document has every field but those left out at a ``None`` or ``()``
        default; another value's document may lack a field added since it
        was written (read as its default).
        """
        key, default = field.name, field.default
        got = self._read(inner, "_x")
        always = document and default not in (None, ())
        if (default is attrs.NOTHING or always) and not optional:
            return self._read(inner, f"d[{key!r}]")
        plain = isinstance(inner, type) and issubclass(inner, int | str)
        if plain and not issubclass(inner, enum.Enum) and default is None:
            return f"g({key!r})"
        if default == ():
            return f"() if (_x := g({key!r})) is None else {got}"
        if optional:
            raw = f"d[{key!r}]" if default is attrs.NOTHING else f"g({key!r})"
            return f"None if (_x := {raw}) is None else {got}"
        return f"{self._const(default)} if (_x := g({key!r}, UNSET)) is UNSET else {got}"

    @staticmethod
    def _flush(run: list[str]) -> list[str]:
        """The statement adding the pieces of ``run`` to the text (and empties it)."""
        if not run:
            return []
        line = f"    t += ''.join(({', '.join(run)},))"  # one copy of the pieces
        run.clear()
        return [line]

    def register(self) -> None:
        """Generate the codecs of :data:`_GENERATED` (and what they hold), and hand their
        dicts to the converter, for values inside other values."""
        for cls in _GENERATED:
            self.name(cls)
        for cls, name in self.names.items():
            doc, read = self.ns[f"doc_{name}"], self.ns[f"read_{name}"]
            self.converter.register_unstructure_hook(cls, doc)
            self.converter.register_structure_hook(cls, _reader(read))
        # a batch writes the same few routing decisions and steps again and again: kept
        for kept in (DecisionStep, Decision):
            self.ns[f"text_{self.name(kept)}"] = _kept(self.ns[f"text_{self.name(kept)}"])

    def text(self, cls: type[Any]) -> Callable[..., str]:
        """``text(value)``: the JSON text of a ``cls`` (``version=`` writes another version)."""
        fn: Callable[..., str] = self.ns[f"text_{self.name(cls)}"]
        return fn

    def read(self, cls: type[T]) -> Callable[[Any], T]:
        """``read(doc)``: the ``cls`` value of a decoded document."""
        fn: Callable[[Any], T] = self.ns[f"read_{self.name(cls)}"]
        return fn


def _reader(read: Callable[[Any], T]) -> Callable[[Any, Any], T]:
    return lambda doc, _: read(doc)


# --------------------------------------------------------------------------- the converter


def _is_frozenset(type_: Any) -> bool:
    return type_ is frozenset or get_origin(type_) is frozenset


def _make_converter(*, generated: bool = True) -> cattrs.Converter:
    """A converter for leadflow values (see :func:`_base_converter`), with the generated
    codecs (``generated=False``: cattrs' own code alone)."""
    converter = _base_converter()
    if generated:
        _Codegen(converter).register()
    return converter


def _base_converter() -> cattrs.Converter:
    """The converter behind every function of this module.

    Scalars have hooks of their own; every class is left to cattrs' own
    code (which spells out ``null`` fields), until :class:`_Codegen`
    registers the generated codecs. The tests use a converter without them
    to check that both read each other's documents.
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

    return converter


_CONVERTER = _base_converter()
_CODEGEN = _Codegen(_CONVERTER)
_CODEGEN.register()
_unstructure = _CONVERTER.unstructure
_structure = _CONVERTER.structure


_lead_text = _CODEGEN.text(Lead)
_contact_text = _CODEGEN.text(Contact)
_message_text = _CODEGEN.text(OutboxMessage)
#: Events written as text by their generated codecs; the others go through the converter.
_EVENT_TEXT: dict[type[Any], Callable[..., str]] = {
    LeadCreated: _CODEGEN.text(LeadCreated),
    LeadAssigned: _CODEGEN.text(LeadAssigned),
}


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
    return _lead_text(lead) if version is None else _lead_text(lead, version)


def lead_from_json(text: str) -> Lead:
    """The lead :func:`lead_to_json` wrote."""
    return loads(text, Lead)


def contact_to_json(contact: Contact) -> str:
    """A contact as JSON text."""
    return _contact_text(contact)


def contact_from_json(text: str) -> Contact:
    """The contact :func:`contact_to_json` wrote."""
    return loads(text, Contact)


def event_to_json(event: Event) -> str:
    """An event's fields as JSON text, without its ``kind`` (store that beside it)."""
    fast = _EVENT_TEXT.get(type(event))
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
        return _message_text(message)
    return _encode(_unstructure(message, OutboxMessage))


def message_from_json(text: str) -> OutboxMessage:
    """The outbox message :func:`message_to_json` wrote."""
    return loads(text, OutboxMessage)
