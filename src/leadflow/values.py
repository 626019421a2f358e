"""Parsers for single raw values: names, emails, phones, money, states, zips, choices.

Each parser takes the raw text of one cell (already stripped and not blank)
and returns the normalised value, or raises :class:`BadValue` whose message
says what is wrong and what would be accepted. :mod:`leadflow.validate`
turns those into :class:`~leadflow.errors.FieldError` s, one per field.

The parsers are pure and cheap: they run once per cell of files with
millions of rows.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Generic, TypeVar

__all__ = [
    "MAX_MONEY",
    "USPS_STATES",
    "BadValue",
    "Choices",
    "parse_email",
    "parse_money",
    "parse_phone",
    "parse_state",
    "parse_text",
    "parse_zip",
]

E = TypeVar("E", bound=enum.Enum)


class BadValue(Exception):
    """A raw value was refused; ``str(exc)`` is the reason, for a person to read."""


# --------------------------------------------------------------------------- text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Line breaks: line feed, carriage return, and the Unicode line and paragraph
#: separators (U+0085, U+2028, U+2029), which split lines wherever text is shown.
_LINE_BREAK = re.compile("[\n\r\x85\u2028\u2029]")
_LINE_BREAK_MESSAGE = "contains a line break (only free-text fields may span lines)"


def _refuse_line_break(raw: str) -> None:
    """Raise :class:`BadValue` if ``raw`` holds a line break (a value that must be one line)."""
    if not raw.isprintable() and _LINE_BREAK.search(raw):
        raise BadValue(_LINE_BREAK_MESSAGE)


def parse_text(raw: str, *, max_length: int = 200, multiline: bool = False) -> str:
    """Text: refuse control characters and overly long values.

    A one-line value (``multiline=False``: names, ids) refuses a line break.
    Free text (``multiline=True``: a referral, an address, a note) keeps its
    line breaks, with ``\r\n`` and a lone ``\r`` written as ``\n``, so the
    same text from a Windows file, a Mac file or a web form is the same
    value; nothing else is changed. ``max_length`` counts the value returned.
    """
    if not raw.isprintable():  # at C speed: the usual value has none of these
        if _CONTROL.search(raw):
            raise BadValue("contains control characters")
        if multiline:
            if "\r" in raw:
                raw = raw.replace("\r\n", "\n").replace("\r", "\n")
        elif _LINE_BREAK.search(raw):
            raise BadValue(_LINE_BREAK_MESSAGE)
    if len(raw) > max_length:
        raise BadValue(f"is {len(raw)} characters long; at most {max_length} are allowed")
    return raw


# --------------------------------------------------------------------------- email

_EMAIL_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_EMAIL_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


#: Addresses that certainly pass every check below (a common subset, checked in one go).
_PLAIN_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"[a-z]{2,63}"
)


def parse_email(raw: str) -> str:
    """A well-formed email address, lower-cased (``Bob@Example.COM`` -> ``bob@example.com``)."""
    value = raw.lower()
    if len(value) <= 254 and _PLAIN_EMAIL.fullmatch(value):
        return value
    _refuse_line_break(value)
    if " " in value or "\t" in value:
        raise BadValue("is not a well-formed email address: it contains a space")
    if value.count("@") != 1:
        what = "has no @" if "@" not in value else "has more than one @"
        raise BadValue(f"is not a well-formed email address: it {what}")
    local, domain = value.split("@")
    if not local:
        raise BadValue("is not a well-formed email address: nothing before the @")
    if not domain:
        raise BadValue("is not a well-formed email address: no domain after the @")
    if len(value) > 254 or len(local) > 64:
        raise BadValue("is not a well-formed email address: it is too long")
    if (
        not _EMAIL_LOCAL.fullmatch(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise BadValue("is not a well-formed email address: the part before the @ is invalid")
    labels = domain.split(".")
    if len(labels) < 2:
        raise BadValue(
            f"is not a well-formed email address: the domain {domain!r} has no dot "
            "(expected something like example.com)"
        )
    if not all(_EMAIL_LABEL.fullmatch(label) for label in labels[:-1]) or not _TLD.fullmatch(
        labels[-1]
    ):
        raise BadValue(f"is not a well-formed email address: the domain {domain!r} is invalid")
    return value


# --------------------------------------------------------------------------- phone

_PHONE_FORMATTING = str.maketrans("", "", " .-()/\t\u00a0")


def parse_phone(raw: str) -> str:
    """A phone number in E.164 form.

    US numbers are accepted in any common format -- ``(555) 201-4567``,
    ``555.201.4567``, ``555-201-4567``, ``1 555 201 4567``, ``+1 555 201 4567``
    -- and become ``+15552014567``; the area code and exchange must not start
    with 0 or 1 (NANP). Other countries are accepted in ``+CC`` form with 8 to
    15 digits in all. Letters (including extensions) are refused.
    """
    international = raw.startswith("+")
    digits = (raw[1:] if international else raw).translate(_PHONE_FORMATTING)
    if not (digits.isascii() and digits.isdigit()):
        _refuse_line_break(raw)
        if any(ch.isalpha() for ch in digits):
            raise BadValue(
                "is not a phone number: it contains letters (write digits only, no extension)"
            )
        raise BadValue(
            "is not a phone number: use digits with spaces, dots, dashes or parentheses only"
        )
    if international and not digits.startswith("1"):
        if digits.startswith("0"):
            raise BadValue("is not a phone number: a country code never starts with 0")
        if not 8 <= len(digits) <= 15:
            raise BadValue(
                f"is not a phone number: it has {len(digits)} digits; "
                "an international number has 8 to 15 with its country code"
            )
        return "+" + digits
    if len(digits) == 11 and digits.startswith("1"):
        national = digits[1:]
    elif len(digits) == 10 and not international:
        national = digits
    else:
        count = len(digits) - 1 if international else len(digits)
        few = "too few" if count < 10 else "too many"
        raise BadValue(
            f"is not a phone number: {few} digits ({len(digits)}); a US number has 10 "
            "digits, other countries start with + and the country code"
        )
    if national[0] in "01":
        raise BadValue("is not a valid US phone number: the area code cannot start with 0 or 1")
    if national[3] in "01":
        raise BadValue("is not a valid US phone number: the exchange cannot start with 0 or 1")
    return "+1" + national


def _other_digits(raw: str) -> bool:
    """Whether ``raw`` has digits other than 0-9 (Arabic-Indic, full-width, ...).

    Numbers are read in ASCII digits only, as phone numbers and dates are: a
    ZIP code is kept as text and compared with ZIP filters, so ``７５００１``
    must not pass for ``75001``.
    """
    return not raw.isascii() and any(ch.isdigit() for ch in raw)


# --------------------------------------------------------------------------- money

#: The largest amount accepted (just under a trillion).
MAX_MONEY = Decimal("999999999999.99")
_MONEY = re.compile(r"\$?\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]*))?")
_CENT = Decimal("0.01")


def parse_money(raw: str) -> Decimal:
    """A non-negative amount of dollars with at most 2 decimal places.

    ``$``, a space after it and thousands separators are accepted
    (``$250,000.00``); the result has exactly two places.
    """
    if raw.isascii() and raw.isdigit() and len(raw) <= 12:  # whole dollars: the usual case
        return Decimal(raw).quantize(_CENT)
    _refuse_line_break(raw)  # the space after a $ may be any whitespace, but not a line end
    if raw.startswith(("-", "$-", "$ -", "(")):
        raise BadValue("must not be negative")
    match = _MONEY.fullmatch(raw)
    if match is None:
        if _other_digits(raw):
            raise BadValue("is not an amount: write its digits as 0-9")
        if "," in raw:
            raise BadValue("is not an amount: misplaced thousands separator")
        raise BadValue(
            "is not an amount: write digits, optionally with $, thousands separators "
            "and cents (e.g. $250,000.00)"
        )
    whole, cents = match.group(1).replace(",", ""), match.group(2) or ""
    if len(cents) > 2:
        raise BadValue("has more than 2 decimal places")
    amount = Decimal(f"{whole}.{cents or '0'}")  # exact: no context rounds it
    if amount > MAX_MONEY:  # checked before quantize, which fails past 28 digits
        raise BadValue(f"is too large (at most {MAX_MONEY:,})")
    return amount.quantize(_CENT)


# --------------------------------------------------------------------------- places

#: USPS codes of the states, DC, territories and military post offices, with names.
USPS_STATES: Mapping[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas",
    "CA": "California", "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware",
    "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii",
    "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah",
    "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "AS": "American Samoa", "GU": "Guam",
    "MP": "Northern Mariana Islands", "PR": "Puerto Rico", "VI": "U.S. Virgin Islands",
    "AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific",
}  # fmt: skip
_STATE_BY_NAME = {name.lower(): code for code, name in USPS_STATES.items()}
_STATE_BY_NAME["virgin islands"] = "VI"


def parse_state(raw: str) -> str:
    """A USPS state code, upper-cased; full names (``Texas``) are accepted too."""
    code = raw.upper()
    if code in USPS_STATES:
        return code
    _refuse_line_break(raw)  # a name's words are matched whatever the spaces, but on one line
    by_name = _STATE_BY_NAME.get(" ".join(raw.lower().split()))
    if by_name is not None:
        return by_name
    raise BadValue("is not a US state: use its two-letter USPS code (e.g. TX)")


_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")


def parse_zip(raw: str) -> str:
    """A 5-digit ZIP code, kept as text; ZIP+4 (``12345-6789``) is cut to 5 digits."""
    match = _ZIP.fullmatch(raw)
    if match is not None:
        return match.group(1)
    _refuse_line_break(raw)
    if raw.isascii() and raw.isdigit() and len(raw) < 5:
        raise BadValue(
            f"is not a ZIP code: it has {len(raw)} digits, a ZIP has 5 "
            "(a spreadsheet may have dropped leading zeros)"
        )
    if _other_digits(raw):
        raise BadValue("is not a ZIP code: write its digits as 0-9")
    raise BadValue("is not a ZIP code: use 5 digits (ZIP+4 like 12345-6789 is accepted)")


# --------------------------------------------------------------------------- choices


#: Raw values a :class:`Choices` remembers (per instance).
_PARSED_KEPT = 1024


def _fold(text: str) -> str:
    """Case- and whitespace-insensitive form of a choice."""
    return "".join(text.lower().split())


class Choices(Generic[E]):
    """Matches raw text to a member of enum ``E``.

    A value matches when, ignoring case and whitespace, it equals a member's
    label, its Python name (``REFINANCE_CASH_OUT``) or one of ``aliases``: the
    common spellings of that member. Nothing else is guessed: a value that
    could mean two members is refused, and the message suggests the closest
    labels.
    """

    def __init__(
        self,
        enum_type: type[E],
        aliases: Mapping[E, Iterable[str]] | None = None,
        *,
        label: str | None = None,
    ) -> None:
        self.enum_type = enum_type
        self.label = label or enum_type.__name__
        self._table: dict[str, E] = {}
        for member in enum_type:
            self._add(_fold(str(member.value)), member)
            self._add(member.name.lower(), member)
        for member, spellings in (aliases or {}).items():
            for spelling in spellings:
                self._add(_fold(spelling), member)
        self._labels = [str(m.value) for m in enum_type if str(m.value)]
        self._folded_labels = {_fold(label): label for label in self._labels}
        #: Raw values parsed lately: a column of a file repeats a few spellings.
        self._parsed: dict[str, E] = {}

    def _add(self, key: str, member: E) -> None:
        existing = self._table.get(key)
        if existing is not None and existing is not member:
            raise ValueError(f"{key!r} would mean both {existing} and {member}")
        self._table[key] = member

    @property
    def labels(self) -> list[str]:
        """The allowed values, in the seed's order."""
        return list(self._labels)

    def parse(self, raw: str) -> E:
        member = self._parsed.get(raw)
        if member is not None:
            return member
        _refuse_line_break(raw)  # folding ignores whitespace, but a choice is one line
        member = self._table.get(_fold(raw))
        if member is not None:
            if len(self._parsed) >= _PARSED_KEPT:
                self._parsed.clear()
            self._parsed[raw] = member
            return member
        close = difflib.get_close_matches(_fold(raw), list(self._folded_labels), n=2, cutoff=0.6)
        hint = ""
        if close:
            hint = " Did you mean " + " or ".join(repr(self._folded_labels[c]) for c in close) + "?"
        allowed = ", ".join(self._labels)
        if len(self._labels) < len(self.enum_type):
            allowed += " (or leave it blank)"
        raise BadValue(f"is not a {self.label}.{hint} Allowed: {allowed}")
