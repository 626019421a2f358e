"""Batch work behind the command line: open a store, set it up from a config, route a CSV file.

The ``leadflow`` commands call these; a host can too (a nightly job routing
a partner's file, say)::

    org = load_org_config("org.toml")
    init_store("leadflow.db", org)
    desk = open_desk("leadflow.db")
    summary = route_file("leads.csv", source="purchased_leads", out_dir="out", desk=desk)
    print(summary.rows, summary.assigned, summary.unassigned, summary.rejected)

:func:`route_file` streams the file (:func:`leadflow.io.csvfiles.read_leads`):
nothing is kept per row but, in a dry run, a compact set of the contact keys
and external ids seen (to match repeat contacts and find repeated rows):
:class:`HashSet`, 8 bytes a slot. A stored route keeps nothing per row: the
store answers those questions.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import io
import os
import stat
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import attrs

from leadflow.desk import LeadDesk, RowOutcome, system_clock
from leadflow.errors import ConfigError, LeadflowError, NotFound, ValidationError
from leadflow.io.csvfiles import (
    BATCH,
    AssignedWriter,
    DuplicatesWriter,
    ExceptionsWriter,
    InputRow,
    LeadFile,
    RejectedWriter,
    RowBatch,
    read_leads,
)
from leadflow.io.orgconfig import OrgFile
from leadflow.model import SYSTEM, Actor
from leadflow.routing import LeadSource
from leadflow.routing.directory import Directory
from leadflow.routing.engine import Outcome, Router, RoutingResult, RoutingState
from leadflow.stages.presets import PRESETS
from leadflow.storage.sqlite import SQLiteStore, Synchronous
from leadflow.validate import LeadDraft, RowValidator

__all__ = [
    "HashSet",
    "RouteSummary",
    "StoreSetup",
    "fewer_collections",
    "init_store",
    "open_desk",
    "route_file",
]


@attrs.frozen(kw_only=True)
class RouteSummary:
    """What :func:`route_file` did: ``rows == assigned + unassigned + rejected + duplicates``.

    ``outputs`` are the files written (``assigned``, ``exceptions``, ``rejected``,
    ``duplicates``): every row is in exactly one of them.
    """

    rows: int = 0
    assigned: int = 0
    unassigned: int = 0
    rejected: int = 0
    duplicates: int = 0
    dry_run: bool = False
    outputs: Mapping[str, Path] = attrs.field(factory=dict)

    @property
    def accounted(self) -> bool:
        return self.rows == self.assigned + self.unassigned + self.rejected + self.duplicates


def open_desk(
    db: str | os.PathLike[str],
    *,
    now: datetime | None = None,
    synchronous: Synchronous | str | None = None,
    **options: object,
) -> LeadDesk:
    """A desk on the SQLite store ``db``, which must exist and hold a configuration.

    ``now`` fixes the desk's clock (the CLI's ``--now``); ``None``: the system clock.
    ``synchronous`` (``"normal"`` or ``"full"``) overrides, for this desk's
    connections only, the durability setting saved in the store; ``None``
    uses the saved one (see :class:`~leadflow.storage.sqlite.Synchronous`).
    """
    path = Path(db)
    if not path.exists():
        raise NotFound(f"no leadflow store at {path}: run `leadflow init --config org.toml` first")
    store = SQLiteStore(path, synchronous=synchronous)
    clock = (lambda: now) if now is not None else system_clock
    try:
        return LeadDesk(store, clock=clock, **options)  # type: ignore[arg-type]
    except BaseException:
        store.close()
        raise


@attrs.frozen
class StoreSetup:
    """What :func:`init_store` did: created the store, or changed its configuration."""

    created: bool
    #: One line a change (``user 7 (Ann Lee) added``); empty when nothing changed.
    changes: tuple[str, ...] = ()


def init_store(
    db: str | os.PathLike[str],
    org: OrgFile,
    *,
    actor: int | Actor | None = SYSTEM,
    at: datetime | None = None,
    synchronous: Synchronous | str | None = None,
) -> StoreSetup:
    """Create the store ``db`` from ``org``, or apply ``org`` to the store it configures.

    Re-running it with an edited configuration applies the changes (users
    added, deactivated or renamed, teams, policies, sources, settings) and
    keeps every lead, contact and exception, and the rotation of each
    policy's remaining members; a change that would orphan stored data is
    refused (:meth:`LeadDesk.configure`) and nothing changes. ``actor`` is
    the system actor (the default) or an active admin's user id; every
    change is kept in the store's configuration history. A playbook named
    by path is stored as an absolute path, so the store works from any
    directory.

    ``synchronous`` (``"normal"`` or ``"full"``), when given, is saved as the
    store's durability setting once the configuration is applied (a change
    is one line of ``changes``); ``None`` leaves the saved setting as it is
    (``normal`` for a new store). A bad value is a ConfigError, before
    anything is created.
    """
    path = Path(db)
    created = not path.exists()
    config = org.config
    playbook = config.settings.playbook
    if playbook not in PRESETS:
        base = org.path.parent if org.path is not None else Path.cwd()
        absolute = str((base / playbook).resolve())
        config = attrs.evolve(config, settings=attrs.evolve(config.settings, playbook=absolute))
    store = SQLiteStore(path, synchronous=synchronous)
    try:
        changes = LeadDesk.configure(
            store, config, actor=actor, at=at or system_clock(), playbook=org.playbook
        )
        if synchronous is not None:
            before = store.set_synchronous(synchronous)
            if before is not store.synchronous and not created:
                changes = [*changes, f"synchronous: {before} -> {store.synchronous}"]
    finally:
        store.close()
    return StoreSetup(created=created, changes=tuple(changes))


class _Outputs:
    """The four output files of a route run: every row lands in exactly one."""

    def __init__(self, out_dir: Path, header: list[str], source: BinaryIO) -> None:
        self.paths = {
            "assigned": out_dir / "assigned.csv",
            "exceptions": out_dir / "exceptions.csv",
            "rejected": out_dir / "rejected.csv",
            "duplicates": out_dir / "duplicates.csv",
        }
        _refuse_overwriting(source, self.paths.values())
        out_dir.mkdir(parents=True, exist_ok=True)
        self.assigned = AssignedWriter(self.paths["assigned"], header)
        self.exceptions = ExceptionsWriter(self.paths["exceptions"], header)
        self.rejected = RejectedWriter(self.paths["rejected"], header)
        self.duplicates = DuplicatesWriter(self.paths["duplicates"], header)

    def close(self) -> None:
        for writer in (self.assigned, self.exceptions, self.rejected, self.duplicates):
            writer.close()


def _refuse_overwriting(source: BinaryIO, paths: Iterable[Path]) -> None:
    """Refuse an output path that is the file being read (by any name): writing it would
    cut the input short while it is read."""
    try:
        read = os.fstat(source.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):  # not a file: nothing to cut
        return
    for path in paths:
        try:
            written = path.stat()
        except OSError:  # missing (or unreachable: opening it says so)
            continue
        if (written.st_dev, written.st_ino) == (read.st_dev, read.st_ino):
            raise ConfigError(
                f"{path} is the file being routed: writing the route's {path.name} there would "
                "overwrite it; give another --out directory"
            )


def route_file(
    path: str | os.PathLike[str],
    *,
    source: str,
    out_dir: str | os.PathLike[str],
    desk: LeadDesk | None = None,
    org: OrgFile | None = None,
    actor: int | Actor | None = SYSTEM,
    assign_to: int | None = None,
    encoding: str = "utf-8",
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> RouteSummary:
    """Validate, route (or assign to ``assign_to``) and store every row of a lead CSV file.

    With ``desk`` the leads are stored (:meth:`LeadDesk.import_rows`: chunked
    units of work, idempotent on external ids). Without it, ``org`` is
    required and the run is **dry**: rows are validated and routed with the
    organisation's policies from a fresh routing state, and nothing is
    stored. Either way the outputs are written to ``out_dir`` and every row
    ends in exactly one count. ``actor`` is the importing user, or the
    system actor (the default). ``progress`` is called with the number of bytes
    read so far, now and then.
    """
    if desk is None and org is None:
        raise ConfigError("route_file needs a desk (to store the leads) or an org (a dry run)")
    file_path = Path(path)
    try:
        stream = file_path.open("rb")
    except OSError as error:
        raise NotFound(f"cannot read {file_path}: {error.strerror or error}") from None
    with stream, fewer_collections():
        lead_file = read_leads(stream, encoding=encoding, name=str(file_path))
        # an unknown source fails before any output file is made
        (desk.directory if desk is not None else _org_directory(org)).source(source)
        outputs = _Outputs(Path(out_dir), lead_file.header, stream)
        try:
            if desk is not None:
                rows = _with_progress(iter(lead_file), stream, progress)
                counts = _route_stored(desk, rows, outputs, source, actor, assign_to)
            else:
                assert org is not None
                batches = _batches_with_progress(lead_file, stream, progress)
                counts = _route_dry(
                    org,
                    lead_file.header,
                    batches,
                    outputs,
                    source,
                    assign_to,
                    now or system_clock(),
                    _size(stream),
                )
        finally:
            outputs.close()
    return RouteSummary(dry_run=desk is None, outputs=outputs.paths, **counts)


class HashSet:
    """A set of texts kept as 64-bit hashes in one flat array: 16 to 32 bytes a text.

    A dry run over a million rows remembers the contact keys and external
    ids it saw; a :class:`set` of them would hold every text (over 100 bytes
    a short email), or a Python int per hash (about 75 bytes with the table).
    The table holds at most one hash in two slots, and doubles when it would
    hold more.

    A hit is not checked against the text: two different texts with one
    hash would make the second look seen before. The hashes are the
    interpreter's own (:func:`hash`: SipHash with a key drawn at random for
    each process, stable within it, so a set is not for keeping), so no
    file can be written to collide on purpose (unless ``PYTHONHASHSEED``
    fixes the key), and by chance ``n`` texts share a hash with probability
    about ``n**2 / 2**65``: for a 1,000,000-row file (1.9 million contact
    keys in one set, a million external ids in the other) about one run in
    eight million. Such a run would count one new row of its dry-run
    preview as a repeat (or its contact as known); a stored route checks
    every key against the store itself.
    """

    __slots__ = ("_mask", "_size", "_table")

    def __init__(self, capacity: int = 1 << 16) -> None:
        slots = 1 << max(capacity - 1, 1).bit_length()
        self._table = array("q", bytes(8 * slots))
        self._mask = slots - 1
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, text: object) -> bool:
        return self.has_any(text)

    def add(self, text: object) -> bool:
        """Add ``text``; whether it was new."""
        return self.add_each(text)

    def has_any(self, *texts: object) -> bool:
        """Whether one of ``texts`` (``None`` is skipped: never in the set) is in it."""
        table, mask = self._table, self._mask
        for text in texts:
            if text is None:
                continue
            h = hash(text) or 1  # 0 marks an empty slot
            i = h & mask
            while True:
                found = table[i]
                if found == h:
                    return True
                if not found:
                    break
                i = (i + 1) & mask
        return False

    def add_each(self, *texts: object) -> bool:
        """Add each of ``texts`` but ``None``; whether one of them was new."""
        new = False
        for text in texts:
            if text is None:
                continue
            h = hash(text) or 1
            table, mask = self._table, self._mask  # again: adding may grow the table
            i = h & mask
            while True:
                found = table[i]
                if found == h:
                    break
                if not found:
                    table[i] = h
                    self._size += 1
                    if self._size * 2 > mask:
                        self._grow()
                    new = True
                    break
                i = (i + 1) & mask
        return new

    def _grow(self) -> None:
        old = self._table
        slots = 2 * len(old)
        table = self._table = array("q", bytes(8 * slots))
        mask = self._mask = slots - 1
        for h in old:
            if h:
                i = h & mask
                while table[i]:
                    i = (i + 1) & mask
                table[i] = h


@contextlib.contextmanager
def fewer_collections(threshold: int = 50_000) -> Iterator[None]:
    """Run a batch with fewer passes of Python's cycle collector; restored afterwards.

    A batch allocates and drops millions of short-lived objects, and by
    default every 700 allocations start a collection that, now and then,
    walks every object the process holds (the loaded modules, the
    configuration...). Inside the block, the objects alive when it starts
    are left out of those walks (:func:`gc.freeze`) and a collection starts
    every ``threshold`` allocations instead. Process-wide while it lasts;
    not for nesting.
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(before[0], threshold), before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _with_progress(
    rows: Iterator[InputRow], stream: object, progress: Callable[[int], None] | None
) -> Iterator[InputRow]:
    if progress is None:
        yield from rows
        return
    tell = getattr(stream, "tell", None)
    for n, row in enumerate(rows, start=1):
        if n % 2000 == 0 and tell is not None:
            progress(tell())
        yield row
    if tell is not None:
        progress(tell())


def _size(stream: BinaryIO) -> int:
    """The size of the file behind ``stream`` in bytes; 0 when it has none (a pipe)."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def _batches_with_progress(
    lead_file: LeadFile, stream: object, progress: Callable[[int], None] | None
) -> Iterator[RowBatch]:
    tell = getattr(stream, "tell", None)
    for batch in lead_file.batches():
        yield batch
        if progress is not None and tell is not None:
            progress(tell())


def _route_stored(
    desk: LeadDesk,
    rows: Iterator[InputRow],
    outputs: _Outputs,
    source: str,
    actor: int | Actor | None,
    assign_to: int | None,
) -> dict[str, int]:
    counts = dict.fromkeys(("rows", "assigned", "unassigned", "rejected", "duplicates"), 0)
    waiting: collections.deque[InputRow] = collections.deque()

    def good_rows() -> Iterator[dict[str, str]]:
        for row in rows:
            counts["rows"] += 1
            if row.row is None:
                counts["rejected"] += 1
                outputs.rejected.write(row.cells, row=row.number, errors=row.problem or "")
                continue
            waiting.append(row)
            yield row.row

    # assigned rows are written a thousand at a time (AssignedWriter.write_rows)
    assigned_rows: list[list[str]] = []
    assigned_results: list[tuple[str, ...]] = []
    names = {
        uid: f"{user.first_name} {user.last_name}" for uid, user in desk.directory.users.items()
    }

    def on_row(outcome: RowOutcome) -> None:
        row = waiting.popleft()
        lead = outcome.lead
        if outcome.status != "assigned" or lead is None or lead.assignee_id is None:
            _write_outcome(outputs, row, outcome, counts)
            return
        counts["assigned"] += 1
        routing = outcome.routing
        assigned_rows.append(row.cells)
        assigned_results.append(
            (
                str(lead.lead_id),
                str(lead.contact_id),
                str(lead.assignee_id),
                names.get(lead.assignee_id, ""),
                (routing.policy if routing else None) or "",
                "true" if routing and routing.via_fallback else "false",
            )
        )
        if len(assigned_rows) >= BATCH:
            outputs.assigned.write_rows(assigned_rows, assigned_results)
            assigned_rows.clear()
            assigned_results.clear()

    try:
        desk.import_rows(
            good_rows(), source=source, actor=actor, assign_to=assign_to, on_row=on_row
        )
    finally:  # the rows of every committed chunk are written, even when a later one fails
        outputs.assigned.write_rows(assigned_rows, assigned_results)
    return counts


def _write_outcome(
    outputs: _Outputs,
    row: InputRow,
    outcome: RowOutcome,
    counts: dict[str, int],
) -> None:
    """Write a row that was not assigned: rejected, a duplicate or an exception."""
    status = outcome.status
    if status == "rejected":
        counts["rejected"] += 1
        error = outcome.error
        text: ValidationError | str = (
            ValidationError(error.errors, row=row.number) if error is not None else "rejected"
        )
        outputs.rejected.write(row.cells, row=row.number, errors=text)
    elif status == "duplicate":
        counts["duplicates"] += 1
        lead = outcome.lead
        outputs.duplicates.write(
            row.cells,
            row=row.number,
            match=(lead.attributes.external_id or "") if lead is not None else "",
            lead_id=lead.lead_id if lead is not None else None,
        )
    else:
        counts["unassigned"] += 1
        lead = outcome.lead
        outputs.exceptions.write(
            row.cells,
            lead_id=lead.lead_id if lead else None,
            reason=_reason(outcome.routing),
        )


def _reason(routing: RoutingResult | None) -> str:
    if routing is None:
        return ""
    if routing.outcome is Outcome.OFFERED:
        return "offered: waiting for a loan officer to accept"
    return str(routing.reason) if routing.reason is not None else str(routing.outcome)


def _org_directory(org: OrgFile | None) -> Directory:
    assert org is not None
    return org.config.directory(ZoneInfo(org.config.settings.timezone))


def _dry_parts(org: OrgFile, source: str) -> tuple[Directory, LeadSource, RowValidator, Router]:
    """What a dry run of ``source``'s rows works with: the organisation's directory, the
    source, a validator and a router from a fresh routing state."""
    directory = _org_directory(org)
    validator = RowValidator(
        source=source, sources=directory.sources.keys(), stages=org.playbook.stage_names()
    )
    return directory, directory.source(source), validator, Router(directory, RoutingState({}, {}))


def _route_dry(
    org: OrgFile,
    header: list[str],
    batches: Iterator[RowBatch],
    outputs: _Outputs,
    source: str,
    assign_to: int | None,
    now: datetime,
    size: int,
) -> dict[str, int]:
    """Validate and route without a store; see :func:`route_file`. ``size``: the file's bytes."""
    directory, source_obj, validator, router = _dry_parts(org, source)
    route = router.route
    users = directory.users
    names = {uid: f"{user.first_name} {user.last_name}" for uid, user in users.items()}
    # hashes of the emails and phones seen (an email has an @, a phone never: one set
    # holds both) and of the external ids: the only memory kept per row
    seen_contacts = HashSet(max(size // 64, 1 << 12))  # sized for the file: rows have
    seen_external = HashSet(max(size // 128, 1 << 12))  # two contact keys in 128 bytes or more
    counts = dict.fromkeys(("rows", "assigned", "unassigned", "rejected", "duplicates"), 0)
    write_rejected = outputs.rejected.write
    assigned = Outcome.ASSIGNED
    # the result cells of assigned.csv, by (assignee, policy, via fallback): few distinct
    results_text: dict[tuple[int, str | None, bool], tuple[str, ...]] = {}
    for numbers, rows, problems in batches:
        assigned_rows: list[list[str]] = []
        assigned_results: list[tuple[str, ...]] = []
        counts["rows"] += len(numbers) + len(problems)
        counts["rejected"] += len(problems)
        for problem in problems:
            write_rejected(problem.cells, row=problem.number, errors=problem.problem or "")
        results = validator.validate_table(header, rows, numbers)
        for number, cells, draft in zip(numbers, rows, results, strict=True):
            if not isinstance(draft, LeadDraft):
                counts["rejected"] += 1
                write_rejected(cells, row=number, errors=draft)
                continue
            external = draft.attributes.external_id
            if external is not None and not seen_external.add_each(external):
                counts["duplicates"] += 1
                outputs.duplicates.write(cells, row=number, match=external, lead_id=None)
                continue
            email, phone = draft.contact.email, draft.contact.cell_phone
            matched = seen_contacts.has_any(email, phone)
            try:
                result = route(
                    draft.attributes,
                    source_obj,
                    now,
                    assignee=assign_to if assign_to is not None else draft.assignee_id,
                    contact_matched=matched,
                )
            except LeadflowError as error:
                counts["rejected"] += 1
                write_rejected(cells, row=number, errors=str(error))
                continue
            if result.outcome is Outcome.REJECTED:
                counts["rejected"] += 1
                write_rejected(
                    cells,
                    row=number,
                    errors=f"lead_source = {source!r}: nobody could take the lead "
                    f"({result.reason}) and its contact is new: rejected by the "
                    "organisation's unroutable setting",
                )
                continue
            seen_contacts.add_each(email, phone)
            assignee = result.assignee_id
            if result.outcome is assigned and assignee is not None:
                counts["assigned"] += 1
                key = (assignee, result.policy, result.via_fallback)
                text = results_text.get(key)
                if text is None:
                    text = results_text[key] = (
                        "",
                        "",
                        str(assignee),
                        names.get(assignee, ""),
                        result.policy or "",
                        "true" if result.via_fallback else "false",
                    )
                assigned_rows.append(cells)
                assigned_results.append(text)
            else:
                counts["unassigned"] += 1
                outputs.exceptions.write(cells, lead_id=None, reason=_reason(result))
        outputs.assigned.write_rows(assigned_rows, assigned_results)
    return counts
