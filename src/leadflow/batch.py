"""Batch work behind the command line: open a store, set it up from a config, route a CSV file.

The ``leadflow`` commands call these; a host can too (a nightly job routing
a partner's file, say)::

    org = load_org_config("org.toml")
    init_store("leadflow.db", org)
    desk = open_desk("leadflow.db")
    summary = route_file("leads.csv", source="purchased_leads", out_dir="out", desk=desk)
    print(summary.rows, summary.assigned, summary.unassigned, summary.rejected)

:func:`route_file` streams the file (:func:`leadflow.io.csvfiles.read_leads`)
through the desk's intake pipeline. A stored route keeps nothing per row:
the store answers every question a later row asks. A dry run keeps, in its
throwaway store (:class:`~leadflow.intake.DryStore`), each contact's keys
and each external id as a 64-bit hash with a few bytes more.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import attrs

from leadflow.desk import LeadDesk, RowOutcome, system_clock
from leadflow.errors import ConfigError, NotFound
from leadflow.intake import DryStore, HashSet, ImportReport, IntakeUnit
from leadflow.io.csvfiles import (
    BATCH,
    AssignedWriter,
    DuplicatesWriter,
    ExceptionsWriter,
    LeadFile,
    RejectedWriter,
    read_leads,
)
from leadflow.io.orgconfig import OrgFile
from leadflow.model import SYSTEM, Actor
from leadflow.routing.engine import Outcome, RoutingResult
from leadflow.stages.presets import PRESETS
from leadflow.storage.codec import uuid_text  # the ids just stored: their texts are kept
from leadflow.storage.memory import MemoryStore
from leadflow.storage.sqlite import SQLiteStore, Synchronous

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
class RouteSummary(ImportReport):
    """What :func:`route_file` did: an import's totals (``rows == assigned + unassigned +
    rejected + duplicates``), whether it was a dry run, and the files written.

    ``outputs`` are the files written (``assigned``, ``exceptions``, ``rejected``,
    ``duplicates``): every row is in exactly one of them.
    """

    dry_run: bool = False
    outputs: Mapping[str, Path] = attrs.field(factory=dict)


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
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RouteSummary:
    """Validate, route (or assign to ``assign_to``) and store every row of a lead CSV file.

    With ``desk`` the leads are stored (the desk's intake pipeline: chunked
    units of work, idempotent on external ids). A **dry run** stores
    nothing: it runs the same pipeline over a throwaway store
    (:class:`~leadflow.intake.DryStore`) that starts from ``desk``'s store
    (its configuration, routing cursors, load counts, contacts and external
    ids; with ``dry_run=True``), or from nothing with ``org`` alone (its
    configuration and a fresh routing state), so its decisions are the
    ones a real run would make. Either way the outputs are written to
    ``out_dir`` and every row ends in exactly one count. ``actor`` is the
    importing user, or the system actor (the default). ``now`` fixes a dry
    run's clock (an ``org`` run's; a desk's run uses the desk's).
    ``progress`` is called with the number of bytes read so far, now and then.
    """
    if desk is None and org is None:
        raise ConfigError("route_file needs a desk (to store the leads) or an org (a dry run)")
    file_path = Path(path)
    try:
        stream = file_path.open("rb")
    except OSError as error:
        raise NotFound(f"cannot read {file_path}: {error.strerror or error}") from None
    dry = desk is None or dry_run
    with stream, fewer_collections():
        lead_file = read_leads(stream, encoding=encoding, name=str(file_path))
        if desk is None:
            assert org is not None
            fixed = now or system_clock()
            desk = LeadDesk(
                MemoryStore(), config=org.config, playbook=org.playbook, clock=lambda: fixed
            )
        # an unknown source fails before any output file is made
        desk.directory.source(source)
        units = DryStore(desk.store if org is None else None, size=_size(stream)).unit_of_work
        outputs = _Outputs(Path(out_dir), lead_file.header, stream)
        try:
            counts = _route(
                desk,
                lead_file,
                stream,
                outputs,
                source=source,
                actor=actor,
                assign_to=assign_to,
                units=units if dry else None,
                progress=progress,
            )
        finally:
            outputs.close()
    return RouteSummary(dry_run=dry, outputs=outputs.paths, **counts)


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


def _tables(
    lead_file: LeadFile,
    stream: object,
    outputs: _Outputs,
    counts: dict[str, int],
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[list[int], list[list[str]]]]:
    """The file's well-formed rows, a batch at a time; records that cannot be validated
    (ragged, undecodable...) are written to rejected.csv as they come."""
    tell = getattr(stream, "tell", None)
    write_rejected = outputs.rejected.write
    for numbers, rows, problems in lead_file.batches():
        counts["rows"] += len(numbers) + len(problems)
        counts["rejected"] += len(problems)
        for problem in problems:
            write_rejected(problem.cells, row=problem.number, errors=problem.problem or "")
        yield numbers, rows
        if progress is not None and tell is not None:
            progress(tell())


def _route(
    desk: LeadDesk,
    lead_file: LeadFile,
    stream: object,
    outputs: _Outputs,
    *,
    source: str,
    actor: int | Actor | None,
    assign_to: int | None,
    units: Callable[[], AbstractContextManager[IntakeUnit]] | None,
    progress: Callable[[int], None] | None,
) -> dict[str, int]:
    """Route the file's rows through the desk's intake pipeline, writing each row's outcome."""
    counts = dict.fromkeys(("rows", "assigned", "unassigned", "rejected", "duplicates"), 0)
    names = {
        uid: f"{user.first_name} {user.last_name}" for uid, user in desk.directory.users.items()
    }
    # a chunk's assigned rows are written together (AssignedWriter.write_rows)
    assigned_rows: list[list[str]] = []
    assigned_results: list[tuple[str, ...]] = []
    # the routing cells of assigned.csv, by (assignee, policy, via fallback): few distinct
    routing_text: dict[tuple[int, str | None, bool], tuple[str, ...]] = {}

    chunks = desk.intake.table_chunks(
        lead_file.header,
        _tables(lead_file, stream, outputs, counts, progress),
        source=source,
        actor=actor,
        assign_to=assign_to,
        chunk_size=BATCH,  # a chunk is one of the file's batches
        units=units,
    )
    try:
        for _, outcomes in chunks:
            for outcome in outcomes:
                routing, lead = outcome.routing, outcome.lead
                if outcome.status != "assigned" or routing is None or routing.assignee_id is None:
                    _write_outcome(outputs, outcome.row, outcome, counts)  # type: ignore[arg-type]
                    continue
                key = (routing.assignee_id, routing.policy, routing.via_fallback)
                text = routing_text.get(key)
                if text is None:
                    text = routing_text[key] = (
                        str(routing.assignee_id),
                        names.get(routing.assignee_id, ""),
                        routing.policy or "",
                        "true" if routing.via_fallback else "false",
                    )
                ids = (
                    (uuid_text(lead.lead_id), uuid_text(lead.contact_id))
                    if lead is not None
                    else ("", "")
                )
                assigned_rows.append(outcome.row)  # type: ignore[arg-type]
                assigned_results.append(ids + text)
            counts["assigned"] += len(assigned_rows)
            outputs.assigned.write_rows(assigned_rows, assigned_results)
            assigned_rows.clear()
            assigned_results.clear()
    finally:  # the rows of every committed chunk are written, even when a later one fails
        outputs.assigned.write_rows(assigned_rows, assigned_results)
    return counts


def _write_outcome(
    outputs: _Outputs, cells: list[str], outcome: RowOutcome, counts: dict[str, int]
) -> None:
    """Write a row that was not assigned: rejected, a duplicate or an exception."""
    status = outcome.status
    if status == "rejected":
        counts["rejected"] += 1
        outputs.rejected.write(cells, row=outcome.row_number, errors=outcome.error or "rejected")
    elif status == "duplicate":
        counts["duplicates"] += 1
        lead, draft = outcome.lead, outcome.draft
        outputs.duplicates.write(
            cells,
            row=outcome.row_number,
            match=(draft.attributes.external_id or "") if draft is not None else "",
            lead_id=lead.lead_id if lead is not None else None,
        )
    else:
        counts["unassigned"] += 1
        lead = outcome.lead
        outputs.exceptions.write(
            cells, lead_id=lead.lead_id if lead else None, reason=_reason(outcome.routing)
        )


def _reason(routing: RoutingResult | None) -> str:
    if routing is None:
        return ""
    if routing.outcome is Outcome.OFFERED:
        return "offered: waiting for a loan officer to accept"
    return str(routing.reason) if routing.reason is not None else str(routing.outcome)


def _size(stream: BinaryIO) -> int:
    """The size of the file behind ``stream`` in bytes; 0 when it has none (a pipe)."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0
