"""The dry run's throwaway store: the intake pipeline's decisions with nothing stored.

A dry run is the intake pipeline itself over a :class:`DryStore`. It reads
what a real run would read -- the routing cursors and load counts, leads
stored for an external id, the contacts a new lead may join -- from the
real store when there is one (``base``, never written), and from what the
dry run itself "stored" before. Of that it keeps only what later chunks
ask, compactly: each contact's keys (email, phone) as 64-bit hashes with
the contact's number, its owner, each external id's hash, the cursors, and
per user the leads routed and held open. So its decisions are, by
construction, the ones the real run would make, and its memory grows by
tens of bytes a row, never by a lead.
"""

from __future__ import annotations

import itertools
from array import array
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from uuid import UUID, SafeUUID

import attrs

from leadflow.errors import NotFound
from leadflow.events import AssignmentMethod
from leadflow.intake.records import IntakeUnit, Records
from leadflow.model import Contact, ContactDetails, Lead
from leadflow.routing.engine import PolicyCursor
from leadflow.storage.protocol import Owners, Store, UnitOfWork

__all__ = ["DryStore", "HashIndex", "HashSet"]

_ROUTED = (AssignmentMethod.ROUTING, AssignmentMethod.FALLBACK)


class HashIndex:
    """Texts kept as 64-bit hashes in one flat table, each with a number: 24 to 48 bytes a text.

    A dry run over a million rows remembers the contact keys and external
    ids it saw; a :class:`dict` of them would hold every text (over 100
    bytes a short email). The table holds at most one hash in two slots,
    and doubles when it would hold more.

    A hit is not checked against the text: two different texts with one
    hash would make the second look seen before. The hashes are the
    interpreter's own (:func:`hash`: SipHash with a key drawn at random for
    each process, stable within it, so an index is not for keeping), so no
    file can be written to collide on purpose (unless ``PYTHONHASHSEED``
    fixes the key), and by chance ``n`` texts share a hash with probability
    about ``n**2 / 2**65``: for a 1,000,000-row file about one run in eight
    million. Such a run would count one new row of its dry-run preview as a
    repeat (or its contact as known); a stored route checks every key
    against the store itself.
    """

    __slots__ = ("_mask", "_numbers", "_size", "_table")

    #: The type code of the numbers kept (``i``: 32 bits); ``""``: none (a set).
    _NUMBERS = "i"

    def __init__(self, capacity: int = 1 << 16) -> None:
        slots = 1 << max(capacity - 1, 1).bit_length()
        self._table = array("q", bytes(8 * slots))
        self._numbers = self._number_table(slots)
        self._mask = slots - 1
        self._size = 0

    def _number_table(self, slots: int) -> array[int]:
        code = self._NUMBERS or "b"
        return array(code, bytes(array(code).itemsize * (slots if self._NUMBERS else 1)))

    def __len__(self) -> int:
        return self._size

    def get(self, text: object) -> int:
        """The number kept with ``text``; -1 when it is not in the index (nor ``None``)."""
        return self.get_many((text,))[0]

    def put(self, text: object, number: int) -> bool:
        """Keep ``number`` with ``text`` (replacing the one kept); whether ``text`` was new."""
        return self.put_many(((text, number),)) == 1

    def get_many(self, texts: Iterable[object]) -> list[int]:
        """:meth:`get` of each of ``texts``, in one call (a chunk asks for many)."""
        table, mask, numbers = self._table, self._mask, self._numbers
        numbered = bool(self._NUMBERS)
        found: list[int] = []
        append = found.append
        for text in texts:
            if text is None:
                append(-1)
                continue
            h = hash(text) or 1  # 0 marks an empty slot
            i = h & mask
            slot = table[i]
            while slot != h:
                if not slot:
                    append(-1)
                    break
                i = (i + 1) & mask
                slot = table[i]
            else:
                append(numbers[i] if numbered else 0)
        return found

    def put_many(self, pairs: Iterable[tuple[object, int]]) -> int:
        """:meth:`put` of each ``(text, number)`` (``None`` texts are skipped); how many of
        the texts were new."""
        new = 0
        numbered = bool(self._NUMBERS)
        table, mask, numbers = self._table, self._mask, self._numbers
        for text, number in pairs:
            if text is None:
                continue
            h = hash(text) or 1
            i = h & mask
            slot = table[i]
            while slot and slot != h:
                i = (i + 1) & mask
                slot = table[i]
            if numbered:
                numbers[i] = number
            if not slot:  # a new text
                table[i] = h
                new += 1
                self._size += 1
                if self._size * 2 > mask:
                    self._grow()
                    table, mask, numbers = self._table, self._mask, self._numbers
        return new

    def _grow(self) -> None:
        old, old_numbers = self._table, self._numbers
        slots = 2 * len(old)
        table = self._table = array("q", bytes(8 * slots))
        numbers = self._numbers = self._number_table(slots)
        mask = self._mask = slots - 1
        numbered = bool(self._NUMBERS)
        for at, h in enumerate(old):
            if h:
                i = h & mask
                while table[i]:
                    i = (i + 1) & mask
                table[i] = h
                if numbered:
                    numbers[i] = old_numbers[at]


class HashSet(HashIndex):
    """A set of texts kept as hashes (:class:`HashIndex` without numbers: 16 to 32 bytes a text)."""

    __slots__ = ()
    _NUMBERS = ""

    def __contains__(self, text: object) -> bool:
        return self.get(text) >= 0

    def add(self, text: object) -> bool:
        """Add ``text``; whether it was new."""
        return self.put(text, 0)

    def has_any(self, *texts: object) -> bool:
        """Whether one of ``texts`` (``None`` is skipped: never in the set) is in it."""
        return max(self.get_many(texts)) >= 0 if texts else False

    def add_each(self, *texts: object) -> bool:
        """Add each of ``texts`` but ``None``; whether one of them was new."""
        return self.put_many((text, 0) for text in texts) > 0


#: Ids of the dry run's own contacts sort after every real id made before 10889 AD.
_DRY_IDS = 0xFFFF_FFFF_FFFF << 80
_NO_OWNER = 0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_new = object.__new__
_set = object.__setattr__
_UNKNOWN_SAFETY = SafeUUID.unknown


def _uuid(number: int) -> UUID:
    """``UUID(int=number)`` for a number known to fit, without the checks."""
    made = _new(UUID)
    _set(made, "int", number)
    _set(made, "is_safe", _UNKNOWN_SAFETY)
    return made


class DryStore:
    """A store for dry runs: reads through to ``base`` (a real store, never written, or
    ``None``) and remembers what the run made in a few bytes a row.

    ``size`` is the input's size in bytes, when known: the hash tables start
    at a slot per 64 bytes (contact keys) and per 128 bytes (external ids),
    rounded up to a power of two, so they seldom grow.
    """

    def __init__(self, base: Store | None = None, *, size: int = 0) -> None:
        self.base = base
        self._keys = HashIndex(max(size // 64, 1 << 12))
        self._externals = HashSet(max(size // 128, 1 << 12))
        #: Owner of each of the run's contacts by number (0: none).
        self._owners = array("q")
        #: When the run made its first contact: the time of every contact it made. Matching
        #: orders contacts by time, then id, and the run's ids are in the order it made them.
        self._made_at: datetime | None = None
        self._base_owners: dict[UUID, int] = {}
        self._cursors: dict[str, PolicyCursor] = {}
        #: Leads the run assigned by routing, and those it left open, per user.
        self._routed: Counter[int] = Counter()
        self._open: Counter[int] = Counter()

    @contextmanager
    def _unit(self) -> Iterator[IntakeUnit]:
        if self.base is None:
            yield _DryUnit(self, None)
            return
        with self.base.unit_of_work() as base:
            yield _DryUnit(self, base)

    def unit_of_work(self) -> AbstractContextManager[IntakeUnit]:
        """A unit of work for one chunk of the dry run."""
        return self._unit()

    # ------------------------------------------------------------------ what the run made

    def _contact(self, number: int, details: ContactDetails) -> Contact:
        owner = self._owners[number]
        return Contact(
            contact_id=_uuid(_DRY_IDS + number),
            details=details,
            created_at=self._made_at or _EPOCH,
            owner_id=owner if owner != _NO_OWNER else None,
        )

    def remember(self, records: Records) -> None:
        """Keep what later chunks will ask about ``records``."""
        keys, owners = self._keys, self._owners
        if self._made_at is None and (records.new_contacts or records.pending):
            self._made_at = records.now
        made: list[tuple[str | None, int]] = []
        for contact in records.new_contacts.values():
            number = len(owners)
            owners.append(contact.owner_id or _NO_OWNER)
            made += ((contact.details.email, number), (contact.details.cell_phone, number))
        keys.put_many(made)
        # the new contacts nobody built: a contact a lead, numbered in order
        pending = [records.rows[position] for position in records.pending]
        numbers = range(len(owners), len(owners) + len(pending))
        owners.extend([result.assignee_id or _NO_OWNER for _, _, result in pending])
        details = [draft.contact for draft, _, _ in pending]
        keys.put_many(zip([d.email for d in details], numbers, strict=True))
        keys.put_many(zip([d.cell_phone for d in details], numbers, strict=True))
        for contact in records.changed_contacts.values():
            number = contact.contact_id.int - _DRY_IDS
            if number >= 0:  # one of the run's own
                owners[number] = contact.owner_id or _NO_OWNER
            else:
                self._base_owners[contact.contact_id] = contact.owner_id or _NO_OWNER
        externals = [draft.attributes.external_id for draft, _, _ in records.rows]
        self._externals.put_many(zip(externals, itertools.repeat(0)))
        if records.loads:  # routing reads load counts: keep the run's
            terminal = records.ctx.terminal
            initial = records.ctx.playbook.initial_stage.key
            for draft, _, result in records.rows:
                assignee = result.assignee_id
                if assignee is None:
                    continue
                if result.method in _ROUTED:
                    self._routed[assignee] += 1
                if (draft.stage or initial) not in terminal:
                    self._open[assignee] += 1


class _DryUnit:
    """One chunk's unit of work in a :class:`DryStore`."""

    def __init__(self, store: DryStore, base: UnitOfWork | None) -> None:
        self.store = store
        self.base = base

    def find_leads_by_external_ids(
        self, source: str, external_ids: Collection[str]
    ) -> dict[str, Lead | None]:
        """The leads stored for these external ids; ``None`` for those the run itself made."""
        found: dict[str, Lead | None] = {}
        if self.base is not None:
            found.update(self.base.find_leads_by_external_ids(source, external_ids))
        asked = [ext for ext in external_ids if ext not in found]
        seen = self.store._externals.get_many(asked)
        found.update((ext, None) for ext, number in zip(asked, seen, strict=True) if number >= 0)
        return found

    def find_contacts(
        self, *, emails: Collection[str] = (), phones: Collection[str] = (), owners: Owners = None
    ) -> list[Contact]:
        store = self.store
        found: list[Contact] = []
        if self.base is not None:
            changed = store._base_owners
            for contact in self.base.find_contacts(emails=emails, phones=phones, owners=None):
                owner = changed.get(contact.contact_id)
                if owner is not None:
                    contact = attrs.evolve(contact, owner_id=owner or None)
                if owners is None or contact.owner_id in owners:
                    found.append(contact)
        # the run's own contacts, each with the keys asked that it has
        keys = store._keys
        matched: dict[int, list[str | None]] = {}
        for side, asked in ((0, list(emails)), (1, list(phones))):
            for key, number in zip(asked, keys.get_many(asked), strict=True):
                if number >= 0:
                    matched.setdefault(number, [None, None])[side] = key
        for number, (email, phone) in matched.items():
            contact = store._contact(
                number, ContactDetails(first_name="", last_name="", email=email, cell_phone=phone)
            )
            if owners is None or contact.owner_id in owners:
                found.append(contact)
        return found

    def get_contact(self, contact_id: UUID) -> Contact:
        if self.base is None:
            raise NotFound(f"contact {contact_id} not found")
        return self.base.get_contact(contact_id)

    def cursors(self) -> dict[str, PolicyCursor]:
        stored = self.base.cursors() if self.base else {}
        return stored | self.store._cursors

    def routed_counts(self, user_ids: Collection[int], *, since: datetime) -> dict[int, int]:
        counts = self.base.routed_counts(user_ids, since=since) if self.base else {}
        return _plus(counts, self.store._routed, user_ids)

    def open_counts(
        self, user_ids: Collection[int], *, exclude_stages: Collection[str] = ()
    ) -> dict[int, int]:
        counts = self.base.open_counts(user_ids, exclude_stages=exclude_stages) if self.base else {}
        return _plus(counts, self.store._open, user_ids)

    def save_cursor(self, policy: str, cursor: PolicyCursor) -> None:
        self.store._cursors[policy] = cursor

    def take(self, records: Records) -> None:
        self.store.remember(records)

    def new_ids(self, now: datetime, count: int) -> Iterator[UUID]:
        """Ids that sort after every real one and every contact the run made before: a
        dry run's ids are never shown, only compared."""
        return map(_uuid, itertools.count(_DRY_IDS + (1 << 64)))


def _plus(counts: dict[int, int], more: Counter[int], user_ids: Collection[int]) -> dict[int, int]:
    total = dict(counts)
    for user_id in user_ids:
        if more[user_id]:
            total[user_id] = total.get(user_id, 0) + more[user_id]
    return total
