"""Records of a CSV text, never longer than a limit: what :mod:`leadflow.io.csvfiles` reads with.

:class:`Gate` hands :func:`csv.reader` the lines of a text stream whole and
cuts short a record longer than its limit: the rest of that record is read,
scanned for its end exactly as the parser would find it (:func:`scan`), and
dropped, so memory stays bounded whatever the input and the records after
it are read as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

__all__ = ["CELL_START", "Gate", "scan"]

# Where the CSV parser is in a record, for :func:`scan`: at the start of a cell, in a
# cell that is not quoted, in a quoted cell, or just after a quote in a quoted cell
# (which ends the cell, or is the first of a doubled quote).
CELL_START, _UNQUOTED, _QUOTED, _AFTER_QUOTE = range(4)
#: What ends a run of unquoted cells: a line end (the record's end) or a quoted cell.
_UNQUOTED_STOP = re.compile(r'[\r\n]|,"')
#: Characters read at once while skipping the rest of an over-long record.
_SKIP_CHUNK = 1 << 20


def scan(text: str, state: int) -> tuple[int, bool]:
    """The parser's state after ``text``, read from ``state``, and whether a record ended.

    The rules are those of :func:`csv.reader` with the default dialect (not
    strict): a quote opens a cell only at its start; in a quoted cell a doubled
    quote is a quote, a single one closes the cell, and any text after it joins
    the cell; an unquoted line end ends the record. ``text`` comes from
    ``readline``, so a line end can only be its last character (or its last two,
    for ``\\r\\n``): when a record ends, ``text`` ends with it.
    """
    i, n = 0, len(text)
    while i < n:
        if state == _QUOTED:
            i = text.find('"', i) + 1
            if not i:
                return _QUOTED, False
            state = _AFTER_QUOTE
        elif state == _AFTER_QUOTE:
            c = text[i]
            if c in "\r\n":
                return CELL_START, True
            state = _QUOTED if c == '"' else CELL_START if c == "," else _UNQUOTED
            i += 1
        elif state == CELL_START and text[i] == '"':
            state = _QUOTED
            i += 1
        else:  # in or before an unquoted cell: on to the record's end or a quoted cell
            stop = _UNQUOTED_STOP.search(text, i)
            if stop is None:
                return (CELL_START if text[-1] == "," else _UNQUOTED), False
            if stop.group() != ',"':
                return CELL_START, True
            state = _QUOTED
            i = stop.end()
    return state, False


class Gate:
    """The lines of a text stream, handed to :func:`csv.reader` whole, never more
    than ``limit`` characters of one record.

    The reader of the records sets :attr:`fresh` each time the CSV parser has
    given it a record, so the next line the parser asks for starts a new
    record; while it is not set, the parser is asking for the next line of a
    record whose quoted cell goes on past a line end. When a record would pass
    ``limit``, the rest of it is read, scanned for its end as the parser would
    (:func:`scan`) and dropped, :attr:`too_long` is set to its length, and the
    parser gets a line that ends the record it has begun with a NUL in its last
    cell: a record that has a problem, whose problem is :attr:`too_long`.
    """

    __slots__ = ("fresh", "header", "limit", "lines", "too_long")

    def __init__(self, readline: Callable[[int], str], limit: int) -> None:
        self.limit = limit
        self.fresh = True
        #: While the header is read, an over-long record is not read to its end: the file
        #: cannot be used, and an endless stream (``/dev/zero``) has no end.
        self.header = True
        #: The length of the last record that was too long; 0 once it is reported.
        self.too_long = 0
        self.lines = self._lines(readline, limit)

    def _lines(self, readline: Callable[[int], str], limit: int) -> Iterator[str]:
        used = 0  # characters of the current record handed on
        while True:
            if self.fresh:
                used = 0
            # one character more than the record may still take, so a cut shows
            line = readline(limit + 1 - used)
            if not line:
                return
            if used + len(line) <= limit:
                used += len(line)
                self.fresh = False
                yield line
                continue
            # too long: a record begun by this line, or a quoted cell of earlier lines
            started = self.fresh
            if self.header:
                self.too_long = used + len(line)
                yield "\x00" if started else '\x00"'
                return
            state, ended = scan(line, CELL_START if started else _QUOTED)
            length = used + len(line)
            while not ended:
                line = readline(_SKIP_CHUNK)
                if not line:
                    break
                length += len(line)
                state, ended = scan(line, state)
            self.too_long = length
            self.fresh = False
            yield "\x00" if started else '\x00"'
