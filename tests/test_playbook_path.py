"""The playbook path of an organisation config (``[organization] playbook = "..."``).

A path is taken relative to the config file's directory (an absolute one
as it is) and must name an existing regular file -- not a directory, a
device or a pipe -- of at most 1 MiB, readable, UTF-8 TOML. Every failure
is a problem of ``organization.playbook`` naming the path (exit 2 from
``config check`` and ``init``), and no problem quotes the file's text.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.batch import open_desk
from leadflow.cli import cli
from leadflow.errors import ConfigError
from leadflow.io import load_playbook
from leadflow.io import playbooks as playbooks_module
from leadflow.io.orgconfig import check_org_config, load_org_config
from leadflow.io.playbooks import MAX_PLAYBOOK_BYTES

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ORG = EXAMPLES / "org.toml"
PIPELINE = EXAMPLES / "playbooks" / "my_pipeline.toml"
#: Text that looks like a secret; it must never be shown.
SECRET = "hunter2-Zx9QvL7mK3pR8sT1wY4uB6nD0fG5hJ2kA"
SHADOW = f"root:$6$saltsalt${SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX files (FIFOs, modes, /dev)")


def org_naming(directory: Path, playbook: str) -> Path:
    """An org config in ``directory`` whose playbook is ``playbook``; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    text = ORG.read_text(encoding="utf-8").replace(
        'playbook = "lead_management"', f"playbook = {_toml_string(playbook)}", 1
    )
    path = directory / "org.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\u0000")
    return f'"{escaped}"'


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def refused(config: Path, tmp_path: Path) -> list[str]:
    """The problem lines of ``config``, checked as ``config check`` and ``init`` do.

    Both exit 2, print the same lines and make no store; returns the lines.
    """
    problems = check_org_config(config)
    assert problems, "the config was accepted"
    check = run("config", "check", config)
    assert check.exit_code == 2, check.output
    assert "Traceback" not in check.output
    for problem in problems:
        assert problem in check.output
    db = tmp_path / "refused.db"
    init = run("init", "--config", config, "--db", db)
    assert init.exit_code == 2, init.output
    assert "Traceback" not in init.output
    assert not db.exists()
    return problems


def the_playbook_problem(config: Path, tmp_path: Path) -> str:
    """The one problem of ``config``, which is about its playbook."""
    (problem,) = refused(config, tmp_path)
    assert problem.startswith(f"{config}: organization.playbook: "), problem
    return problem


# ---------------------------------------------------------------- where the path points


def test_a_relative_path_is_taken_from_the_configs_directory_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    (conf / "books").mkdir(parents=True)
    (conf / "books" / "ours.toml").write_text(PIPELINE.read_text(encoding="utf-8"))
    config = org_naming(conf, "books/ours.toml")
    # The current directory has a file of the same name that is not a playbook.
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "books").mkdir(parents=True)
    (elsewhere / "books" / "ours.toml").write_text("not = 'a playbook'\n")
    monkeypatch.chdir(elsewhere)
    for named in (config, Path("..") / "conf" / "org.toml"):
        loaded = load_org_config(named)
        assert loaded.playbook == load_playbook(PIPELINE)
        assert check_org_config(named) == []
        result = run("config", "check", named)
        assert result.exit_code == 0, result.output


def test_an_absolute_path_is_allowed_and_gets_the_same_checks(tmp_path: Path) -> None:
    book = tmp_path / "books" / "ours.toml"
    book.parent.mkdir()
    book.write_text(PIPELINE.read_text(encoding="utf-8"))
    config = org_naming(tmp_path / "conf", str(book))
    assert load_org_config(config).playbook == load_playbook(PIPELINE)
    config = org_naming(tmp_path / "conf", str(book.parent))
    problem = the_playbook_problem(config, tmp_path)
    assert problem.endswith(
        f"{book.parent}: is a directory, not a regular file: a playbook is a TOML file"
    )


def test_a_good_file_loads_and_init_stores_it_for_every_command(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "ours.toml").write_text(PIPELINE.read_text(encoding="utf-8"))
    config = org_naming(tmp_path / "conf", "ours.toml")
    assert check_org_config(config) == []
    db = tmp_path / "lf.db"
    result = run("init", "--config", config, "--db", db)
    assert result.exit_code == 0, result.output
    desk = open_desk(db)
    try:
        assert desk.playbook == load_playbook(PIPELINE)
    finally:
        desk.store.close()


def test_a_missing_file_says_it_is_neither_a_preset_nor_a_file(tmp_path: Path) -> None:
    config = org_naming(tmp_path, "books/nothing.toml")
    problem = the_playbook_problem(config, tmp_path)
    assert problem == (
        f"{config}: organization.playbook: 'books/nothing.toml' is neither a preset "
        "(lead_management, leads_queue, investor, call_log) nor a playbook file "
        f"(no file at {tmp_path / 'books' / 'nothing.toml'})"
    )


# ---------------------------------------------------------------- what it must be


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "books").mkdir()
    config = org_naming(tmp_path, "books")
    assert the_playbook_problem(config, tmp_path) == (
        f"{config}: organization.playbook: {tmp_path / 'books'}: "
        "is a directory, not a regular file: a playbook is a TOML file"
    )


@posix_only
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused_as_a_device_not_read(tmp_path: Path) -> None:
    config = org_naming(tmp_path, "/dev/zero")
    assert the_playbook_problem(config, tmp_path) == (
        f"{config}: organization.playbook: /dev/zero: "
        "is a character device, not a regular file: a playbook is a TOML file"
    )
    with pytest.raises(ConfigError, match=r"^/dev/zero: is a character device"):
        load_playbook("/dev/zero")


def finishes(work: Callable[[], object], unblock: Callable[[], None]) -> bool:
    """Whether ``work`` finishes within 10 s; if not, ``unblock`` it and say so."""
    thread = threading.Thread(target=lambda: _swallow(work), daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        unblock()
        thread.join(10)
        return False
    return True


def _swallow(work: Callable[[], object]) -> None:
    with contextlib.suppress(ConfigError):
        work()


@posix_only
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "book.toml"
    os.mkfifo(fifo)

    def unblock() -> None:  # a writer lets a blocked open return
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)

    config = org_naming(tmp_path, "book.toml")
    assert finishes(lambda: check_org_config(config), unblock), "opening the FIFO blocked"
    assert the_playbook_problem(config, tmp_path) == (
        f"{config}: organization.playbook: {fifo}: "
        "is a named pipe (FIFO), not a regular file: a playbook is a TOML file"
    )


def test_a_file_of_1_mib_is_read_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    text = PIPELINE.read_text(encoding="utf-8")
    padding = MAX_PLAYBOOK_BYTES - len(text.encode("utf-8")) - 1
    book = tmp_path / "big.toml"
    book.write_text(text + "#" * padding + "\n", encoding="utf-8")
    assert book.stat().st_size == MAX_PLAYBOOK_BYTES == 1024 * 1024
    config = org_naming(tmp_path, "big.toml")
    assert load_org_config(config).playbook == load_playbook(PIPELINE)
    book.write_text(text + "#" * (padding + 1) + "\n", encoding="utf-8")
    assert the_playbook_problem(config, tmp_path) == (
        f"{config}: organization.playbook: {book}: is 1,048,577 bytes, larger than a "
        "playbook file may be (1,048,576 bytes, 1 MiB)"
    )


def test_a_file_that_grows_after_it_was_looked_at_is_read_no_further_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = tmp_path / "growing.toml"
    book.write_bytes(b"# " + b"x" * (3 * MAX_PLAYBOOK_BYTES) + b"\n")
    # As if the file had been small when its size was checked.
    monkeypatch.setattr(playbooks_module, "_check_kind", lambda info, origin: None)
    read = os.read
    total = 0

    def counting(fd: int, size: int) -> bytes:
        nonlocal total
        data = read(fd, size)
        total += len(data)
        return data

    monkeypatch.setattr(os, "read", counting)
    with pytest.raises(ConfigError) as excinfo:
        load_playbook(book)
    assert excinfo.value.problems == (
        f"{book}: is larger than a playbook file may be (1,048,576 bytes, 1 MiB)",
    )
    assert total == MAX_PLAYBOOK_BYTES + 1


def test_a_binary_file_is_refused_without_its_bytes(tmp_path: Path) -> None:
    book = tmp_path / "book.toml"
    book.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    config = org_naming(tmp_path, "book.toml")
    assert the_playbook_problem(config, tmp_path) == (
        f"{config}: organization.playbook: {book}: is not UTF-8 text (invalid start byte at byte 0)"
    )
    # UTF-8 that holds control characters is not TOML either; the character is not shown.
    book.write_bytes(b'key = "a\x00' + SECRET.encode() + b'"\n')
    problem = the_playbook_problem(config, tmp_path)
    assert problem == (
        f"{config}: organization.playbook: {book}: "
        "line 1, column 9: invalid TOML: Found an illegal character"
    )


@pytest.mark.parametrize(
    "text",
    [
        SHADOW,
        f"[{SECRET}]\n[{SECRET}]\n",  # tomllib would name the table
        f"a = {{ {SECRET} = 1, {SECRET} = 2 }}\n",  # ... or the key
        f'token = "{SECRET}\n',  # unterminated
        f"{SECRET}\n",
    ],
    ids=["shadow", "table-twice", "inline-key-twice", "unterminated", "bare"],
)
def test_a_secret_that_is_not_toml_is_never_shown(tmp_path: Path, text: str) -> None:
    book = tmp_path / "secret"
    book.write_text(text, encoding="utf-8")
    config = org_naming(tmp_path, "secret")
    problem = the_playbook_problem(config, tmp_path)
    assert problem.startswith(f"{config}: organization.playbook: {book}: line ")
    assert ": invalid TOML: " in problem
    for output in (run("config", "check", config).output, problem):
        assert SECRET not in output
        assert "hunter2" not in output


def test_toml_that_is_not_a_playbook_names_the_keys_not_long_values(tmp_path: Path) -> None:
    book = tmp_path / "credentials.toml"
    book.write_text(f'[registry]\ntoken = "{SECRET}"\n', encoding="utf-8")
    config = org_naming(tmp_path, "credentials.toml")
    problems = refused(config, tmp_path)
    head = f"{config}: organization.playbook: {book}: "
    assert problems[0] == head + "missing required key 'key'"
    assert any(p.startswith(head + "unknown key 'registry'") for p in problems)
    book.write_text(f'key = "k"\nname = "n"\nstages = "{SECRET}"\n', encoding="utf-8")
    problems = refused(config, tmp_path)
    assert problems == [
        head + f"stages: expected a list, got [{len(SECRET)} characters, not shown]"
    ]
    output = run("config", "check", config).output
    assert SECRET not in output
    # A long value of short words, which a message would cut short, is not shown either.
    words = " ".join([SECRET[:8]] * 100)
    book.write_text(f'key = "k"\nname = "n"\nstages = "{words}"\n', encoding="utf-8")
    (problem,) = refused(config, tmp_path)
    assert problem.startswith(head + "stages: expected a list, got [")
    assert problem.endswith(" characters, not shown]")
    assert SECRET[:8] not in problem


@settings(max_examples=60, deadline=None)
@given(
    secret=st.text(
        alphabet=st.characters(categories=["L", "N"], max_codepoint=0x7F, include_characters=" "),
        min_size=41,
        max_size=120,
    ),
    template=st.sampled_from(
        [
            '{s} = 1\nkey = "k"\nname = "n"\n',
            'key = "{s}"\n',
            'key = "k"\nname = "n"\nstages = "{s}"\n',
            'key = "k"\nname = "n"\npool_stages = ["{s}"]\n',
            'key = "k"\nname = "n"\nspeed_to_lead = "{s}"\n',
            'key = "k"\nname = "n"\nextends = "leads_queue"\ndisable = ["{s}"]\n',
            'key = "k"\nname = "n"\nextends = "leads_queue"\nrename = {{ {s} = "x" }}\n',
            'key = "k"\nname = "n"\n[[stages]]\nkey = "{s}"\nlabel = "X"\norder = 1\n'
            'category = "{s}"\n',
            'key = "k"\nname = "n"\n[[aging]]\ntype = "{s}"\n',
            'key = "k"\nname = "n"\n[[dispositions]]\nkey = "d"\nlabel = "D"\n'
            'channel = "call"\nmoves_to = "{s}"\n',
            "[{s}]\n[{s}]\n",
            "{s} = 1\n{s} = 2\n",
            'x = "{s}',
            "x = {s}\n",
            'key = "k"\nname = "n"\nextends = "{s}"\n',
            'key = "k"\nname = "n"\nextends = "{s}.toml"\n',
        ]
    ),
)
def test_no_problem_of_a_playbook_file_quotes_a_value_of_more_than_40_characters(
    secret: str, template: str
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        book = Path(directory) / "book.toml"
        book.write_text(template.format(s=secret), encoding="utf-8")
        try:
            load_playbook(book)
        except ConfigError as exc:
            for problem in exc.problems:
                assert secret not in problem
                assert secret[:41] not in problem


# ---------------------------------------------------------------- reading it


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "book.toml"
    book.write_text(PIPELINE.read_text(encoding="utf-8"))
    book.chmod(0)
    try:
        if os.access(book, os.R_OK):  # root (or a platform without these modes) reads anyway
            pytest.skip("this user can read a file of mode 000")
        config = org_naming(tmp_path, "book.toml")
        assert the_playbook_problem(config, tmp_path) == (
            f"{config}: organization.playbook: {book}: cannot be read (Permission denied)"
        )
    finally:
        book.chmod(0o600)


def test_a_file_the_system_will_not_open_is_refused_naming_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a user without read permission gets, even where the tests run as root."""
    book = tmp_path / "book.toml"
    book.write_text(PIPELINE.read_text(encoding="utf-8"))
    real_open = os.open

    def refusing(path: str | os.PathLike[str], flags: int, *args: int, **kw: object) -> int:
        if Path(path) == book:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing)
    config = org_naming(tmp_path, "book.toml")
    with pytest.raises(ConfigError) as excinfo:
        load_org_config(config)
    assert excinfo.value.problems == (
        f"{config}: organization.playbook: {book}: cannot be read (Permission denied)",
    )


def test_a_path_with_a_nul_character_or_of_huge_length_is_a_problem_not_a_crash(
    tmp_path: Path,
) -> None:
    config = org_naming(tmp_path, "books\x00ours.toml")
    problem = the_playbook_problem(config, tmp_path)
    assert problem.endswith(": cannot be read (the path holds a NUL character)")
    config = org_naming(tmp_path, "x" * 5000)
    problem = the_playbook_problem(config, tmp_path)
    assert problem == (
        f"{config}: organization.playbook: a text of 5,000 characters is neither a preset "
        "(lead_management, leads_queue, investor, call_log) nor the path of a playbook file "
        "(at most 200 characters)"
    )


@posix_only
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_playbook_that_extends_a_device_or_a_directory_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "book.toml"
    book.write_text('key = "k"\nname = "n"\nextends = "/dev/zero"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_playbook(book)
    assert excinfo.value.problems == (
        "/dev/zero: is a character device, not a regular file: a playbook is a TOML file",
    )
    book.write_text('key = "k"\nname = "n"\nextends = "."\n', encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_playbook(book)
    assert excinfo.value.problems == (
        f"{tmp_path}: is a directory, not a regular file: a playbook is a TOML file",
    )
