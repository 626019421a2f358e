"""The SQLite store's files and durability setting.

Its file holds names, emails and phones: a new store and its ``-wal`` and
``-shm`` files are ``0600`` whatever the umask, through the library and
through ``leadflow init``; an existing file keeps its mode. Its
``synchronous`` setting (``normal`` or ``full``) is what the connections it
opens use, is saved in the file for every process that opens it, and a bad
value is refused by name.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from leadflow.batch import init_store, open_desk
from leadflow.cli import cli
from leadflow.errors import ConfigError, LeadflowError
from leadflow.io.orgconfig import load_org_config
from leadflow.storage.sqlite import FILE_MODE, SQLiteStore, Synchronous
from leadflow.testing.contract import make_lead

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ORG = EXAMPLES / "org.toml"
#: SQLite's numbers for ``PRAGMA synchronous``.
PRAGMA_VALUE = {Synchronous.NORMAL: 1, Synchronous.FULL: 2}

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX permissions")


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(db: Path) -> dict[str, int]:
    """The mode of the database file and of its -wal and -shm files."""
    return {suffix: mode(Path(f"{db}{suffix}")) for suffix in ("", "-wal", "-shm")}


def pragma(store: SQLiteStore) -> int:
    """``PRAGMA synchronous`` on the connection the store opened for this thread."""
    with store.unit_of_work() as uow:
        value: int = uow._execute("PRAGMA synchronous").fetchone()[0]
    return value


def desk_pragma(db: Path, **options: Any) -> int:
    """``PRAGMA synchronous`` on the store of a desk opened on ``db`` with ``options``."""
    desk = open_desk(db, **options)
    try:
        assert isinstance(desk.store, SQLiteStore)
        return pragma(desk.store)
    finally:
        desk.store.close()


def saved(db: Path) -> list[tuple[object, ...]]:
    """The settings saved in the file, read with a plain connection."""
    connection = sqlite3.connect(db)
    try:
        return connection.execute("SELECT name, value FROM settings").fetchall()
    finally:
        connection.close()


# ---------------------------------------------------------------- file modes


@posix_only
@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o277])
def test_a_new_store_and_its_wal_and_shm_files_are_0600_whatever_the_umask(
    tmp_path: Path, mask: int
) -> None:
    db = tmp_path / "leads.db"
    with umask(mask):
        store = SQLiteStore(db)
        try:
            with store.unit_of_work() as uow:  # a write, so the WAL holds a frame
                uow.add_lead(make_lead(), next_change_at=None)
            assert modes(db) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
        finally:
            store.close()
    assert FILE_MODE == 0o600


@posix_only
def test_an_existing_store_keeps_the_mode_its_owner_gave_it(tmp_path: Path) -> None:
    db = tmp_path / "leads.db"
    SQLiteStore(db).close()
    db.chmod(0o640)  # the owner lets a group read it
    with umask(0o022):
        store = SQLiteStore(db)
        try:
            with store.unit_of_work() as uow:
                uow.add_lead(make_lead(), next_change_at=None)
            # SQLite gives the -wal and -shm files the database file's mode.
            assert modes(db) == {"": 0o640, "-wal": 0o640, "-shm": 0o640}
        finally:
            store.close()


@posix_only
def test_leadflow_init_creates_a_0600_store_under_umask_000(tmp_path: Path) -> None:
    db = tmp_path / "leads.db"
    with umask(0o000):
        result = CliRunner().invoke(cli, ["init", "--config", str(ORG), "--db", str(db)])
        assert result.exit_code == 0, result.output
        assert mode(db) == 0o600
        # Whoever writes to it next, the -wal and -shm files take the file's mode.
        store = SQLiteStore(db)
        try:
            with store.unit_of_work() as uow:
                config = uow.load_config()
                assert config is not None
                assert config.users == load_org_config(ORG).config.users
                uow.add_lead(make_lead(), next_change_at=None)
            assert modes(db) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
        finally:
            store.close()


def test_a_store_that_cannot_be_created_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "leads.db"
    with pytest.raises(ConfigError, match=r"cannot open the leadflow database .*leads\.db"):
        SQLiteStore(missing)
    assert not missing.parent.exists()


# ---------------------------------------------------------------- synchronous


@pytest.mark.parametrize("setting", list(Synchronous))
def test_a_new_store_uses_and_saves_its_synchronous_setting(
    tmp_path: Path, setting: Synchronous
) -> None:
    db = tmp_path / "leads.db"
    store = SQLiteStore(db, synchronous=str(setting))
    try:
        assert store.synchronous is setting
        assert pragma(store) == PRAGMA_VALUE[setting]
        # A connection opened later, on another thread, uses it too.
        found: list[int] = []
        thread = threading.Thread(target=lambda: found.append(pragma(store)))
        thread.start()
        thread.join()
        assert found == [PRAGMA_VALUE[setting]]
    finally:
        store.close()
    assert saved(db) == [("synchronous", str(setting))]
    reopened = SQLiteStore(db)  # another process opening it without a setting
    try:
        assert reopened.synchronous is setting
        assert pragma(reopened) == PRAGMA_VALUE[setting]
    finally:
        reopened.close()


def test_a_store_created_without_a_setting_is_normal(tmp_path: Path) -> None:
    db = tmp_path / "leads.db"
    store = SQLiteStore(db)
    try:
        assert store.synchronous is Synchronous.NORMAL
        assert pragma(store) == 1
    finally:
        store.close()
    assert saved(db) == []


def test_a_setting_given_to_an_existing_store_is_for_its_connections_only(
    tmp_path: Path,
) -> None:
    db = tmp_path / "leads.db"
    SQLiteStore(db, synchronous="full").close()
    store = SQLiteStore(db, synchronous=Synchronous.NORMAL)
    try:
        assert pragma(store) == 1
    finally:
        store.close()
    assert saved(db) == [("synchronous", "full")]  # not changed by the override
    reopened = SQLiteStore(db)
    try:
        assert pragma(reopened) == 2
    finally:
        reopened.close()


def test_set_synchronous_saves_it_and_every_connection_switches(tmp_path: Path) -> None:
    db = tmp_path / "leads.db"
    store = SQLiteStore(db)
    other = SQLiteStore(db)  # another process, open before the change
    try:
        started, go, done = threading.Event(), threading.Event(), threading.Event()
        seen: list[int] = []

        def worker() -> None:
            seen.append(pragma(store))  # this thread's connection, opened as NORMAL
            started.set()
            go.wait(10)
            seen.append(pragma(store))  # its next unit of work: FULL
            done.set()

        thread = threading.Thread(target=worker)
        thread.start()
        assert started.wait(10)
        assert store.set_synchronous("FULL") is Synchronous.NORMAL  # the setting saved before
        assert store.synchronous is Synchronous.FULL
        assert pragma(store) == 2  # this thread: at once
        go.set()
        assert done.wait(10)
        thread.join()
        assert seen == [1, 2]
        assert pragma(other) == 1  # an open store keeps its setting until reopened
        assert store.set_synchronous("full") is Synchronous.FULL
    finally:
        store.close()
        other.close()
    reopened = SQLiteStore(db)
    try:
        assert pragma(reopened) == 2
    finally:
        reopened.close()


@pytest.mark.parametrize("bad", ["fast", "", "off", "extra", 2, True, b"full"])
def test_a_bad_synchronous_value_is_refused_by_name_and_creates_nothing(
    tmp_path: Path, bad: object
) -> None:
    db = tmp_path / "leads.db"
    with pytest.raises(ConfigError) as excinfo:
        SQLiteStore(db, synchronous=bad)  # type: ignore[arg-type]
    assert str(excinfo.value) == (f"synchronous = {bad!r}: must be one of 'normal', 'full'")
    assert isinstance(excinfo.value, LeadflowError)
    assert not db.exists()
    SQLiteStore(db).close()
    store = SQLiteStore(db)
    try:
        with pytest.raises(ConfigError, match=r"^synchronous = "):
            store.set_synchronous(bad)  # type: ignore[arg-type]
        assert pragma(store) == 1
    finally:
        store.close()
    assert saved(db) == []


@given(st.text(max_size=300).filter(lambda text: text.lower() not in ("normal", "full")))
def test_any_other_text_is_refused_quoting_at_most_200_characters(text: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        SQLiteStore(Path("/no-such-dir/leads.db"), synchronous=text)
    message = str(excinfo.value)
    assert message.startswith("synchronous = ")
    assert message.endswith(": must be one of 'normal', 'full'")
    shown = repr(text)
    if len(shown) <= 200:
        assert shown in message
    else:
        assert shown not in message
        assert shown[:200] in message


@given(st.sampled_from(["normal", "full"]), st.lists(st.booleans(), min_size=6, max_size=6))
def test_a_setting_is_read_in_any_case(word: str, upper: list[bool]) -> None:
    text = "".join(c.upper() if up else c for c, up in zip(word, upper, strict=False))
    store = SQLiteStore(":memory:", synchronous=text)
    try:
        assert store.synchronous is Synchronous(word)
        assert pragma(store) == PRAGMA_VALUE[Synchronous(word)]
    finally:
        store.close()


def test_a_bad_setting_saved_in_the_file_is_a_config_error(tmp_path: Path) -> None:
    db = tmp_path / "leads.db"
    SQLiteStore(db).close()
    connection = sqlite3.connect(db)
    with connection:
        connection.execute("INSERT INTO settings (name, value) VALUES ('synchronous', 'off')")
    connection.close()
    with pytest.raises(
        ConfigError, match=r"the setting synchronous saved in .*leads\.db.* = 'off'"
    ):
        SQLiteStore(db)
    store = SQLiteStore(db, synchronous="normal")  # an explicit setting still opens it
    store.close()


def test_open_desk_takes_a_setting_for_its_own_connections(tmp_path: Path) -> None:
    db = tmp_path / "leads.db"
    init_store(db, load_org_config(ORG))
    assert desk_pragma(db, synchronous="full") == 2
    assert saved(db) == []
    assert desk_pragma(db) == 1
    with pytest.raises(ConfigError, match=r"^synchronous = 'safe'"):
        open_desk(db, synchronous="safe")


def test_init_store_saves_the_setting_and_reports_a_change(tmp_path: Path) -> None:
    db = tmp_path / "leads.db"
    org = load_org_config(ORG)
    assert init_store(db, org, synchronous="full").created
    assert saved(db) == [("synchronous", "full")]
    assert init_store(db, org).changes == ()  # not given: left as saved
    assert saved(db) == [("synchronous", "full")]
    assert init_store(db, org, synchronous="full").changes == ()
    assert init_store(db, org, synchronous="normal").changes == ("synchronous: full -> normal",)
    assert desk_pragma(db) == 1


def test_leadflow_init_synchronous_saves_the_setting_every_command_then_uses(
    tmp_path: Path,
) -> None:
    db = tmp_path / "leads.db"
    runner = CliRunner()
    args = ["init", "--config", str(ORG), "--db", str(db)]
    result = runner.invoke(cli, [*args, "--synchronous", "FULL"])
    assert result.exit_code == 0, result.output
    assert saved(db) == [("synchronous", "full")]
    assert desk_pragma(db) == 2
    result = runner.invoke(cli, [*args, "--synchronous", "normal"])
    assert result.exit_code == 0, result.output
    assert "synchronous: full -> normal" in result.output
    assert saved(db) == [("synchronous", "normal")]
    result = runner.invoke(cli, [*args, "--synchronous", "fast"])
    assert result.exit_code == 2
    assert "'fast' is not one of 'normal', 'full'" in result.output
    assert saved(db) == [("synchronous", "normal")]
