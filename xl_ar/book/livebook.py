"""The live-book adapter: a ledger workbook open in Excel, read and written through xlwings.

Same interface as the file adapter (``read() -> BookData``, ``write(result, settings, data,
ledger) -> (changed, backup)``), so a ribbon button and ``xl-ar refresh`` run the same code:
the sheets are found and parsed by ``xl_ar.book.reader`` and what to write is decided by
:func:`xl_ar.book.writer.plan_outputs`; only the transport differs.

The adapter needs an object with xlwings' ``Book`` API (``sheets``, ``app``, ``Range.value``
...), not xlwings itself, which is why this module does not import it.

Decisions:

- **No backup file.** ``Book.save(other_path)`` is a "Save As": the open book would become the
  copy. Nothing is saved at all: the refreshed values sit in the open book until the user saves,
  so closing without saving discards a refresh. A refresh only writes the computed columns and
  the sheets the tool owns, which a refresh recomputes from the user's cells at any time.
  (Excel's undo stack does not survive a macro, so the user's safety net is exactly that.)
- **Few calls.** Each Excel call is a round trip to another process: a column is read and
  written with one ``Range.value`` each, an owned sheet (Aging) with one, formats by rectangles.
  Screen updating and automatic calculation are off while writing.
- **Idempotent.** Current values are read first; a column whose values already equal the new
  ones is not written, and a refresh that would change nothing returns ``(False, None)``.
- **Text stays text.** Excel parses a written string as if typed (``"1-30"`` becomes a date,
  ``"001"`` a number, ``"=..."`` a formula), so text goes in with Excel's ``'`` prefix, which
  Excel keeps out of the cell's value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import numpy as np

from xl_ar.book.headers import sheet_for_name
from xl_ar.book.reader import BookData, read_sheets
from xl_ar.book.owned import OwnedSheet
from xl_ar.book.writer import STYLE_SPECS, ColumnOut, SheetOutputs, plan_outputs
from xl_ar.core.ledger import Ledger
from xl_ar.core.progress import Step
from xl_ar.core.run import RunResult
from xl_ar.core.settings import Settings


#: Sheets the tool writes whole: never read as ledger input (as ``reader.read_book`` skips them).


class LiveBook:
    """A workbook open in Excel, through an xlwings ``Book``."""

    def __init__(self, book: Any):
        """Args:
            book: an ``xlwings.Book`` (e.g. ``xw.Book.caller()``).
        """
        self.book = book
        # Report.book shows the adapter's path; a book never saved has only a name.
        self.path = getattr(book, "fullname", None) or getattr(book, "name", "")

    # ------------------------------------------------------------------ read

    def read(self, progress: Step | None = None, checks_later: bool = False) -> BookData:
        """Read the ledger sheets, as :func:`xl_ar.book.reader.read_book` reads a file.

        Args:
            progress: told each sheet read (each is one call to Excel).
            checks_later: as the file's reader takes it (an open book has no checks left to run).

        Returns:
            The book's raw ledger tables, settings and sheet layouts.
        """
        sheets = {s.name: s for s in self.book.sheets}
        share = (progress or Step()).parts(dict.fromkeys(sheets, 1.0))
        return read_sheets(list(sheets), lambda name: sheet_rows(sheets[name]), None, lambda name: share[name](1.0))

    # ------------------------------------------------------------------ write

    def write(self, result: RunResult, settings: Settings, data: BookData, ledger: Ledger,
              progress: Step | None = None) -> tuple[bool, None]:
        """Write the computed columns and the owned sheets (Aging) into the open book (not saved).

        Args:
            result: the run's results.
            settings: the run's settings (language, basis, policy).
            data: what :meth:`read` returned (layouts, sheet names).
            ledger: the validated ledger (unused: the plan needs only the result).
            progress: told each sheet written.

        Returns:
            (whether anything changed, None): there is no backup file, see the module notes.
        """
        out = plan_outputs(data, result, settings)
        done = (progress or Step()).parts({k: 1.0 for k in range(len(out.sheets) + len(out.owned))})
        app = self.book.app
        before = app.screen_updating, app.calculation
        app.screen_updating, app.calculation = False, "manual"
        try:
            changed = False
            for k, sheet_out in enumerate(out.sheets):
                changed |= self._write_columns(sheet_out)
                done[k](1.0)
            for k, owned in enumerate(out.owned, start=len(out.sheets)):
                changed |= self._write_owned(owned)
                done[k](1.0)
        finally:
            app.screen_updating, app.calculation = before
        return changed, None

    def _write_columns(self, s: SheetOutputs) -> bool:
        """Write a ledger sheet's computed columns that differ; True when any did."""
        sheet = self.book.sheets[s.layout.name]
        hr = s.layout.header_row
        rows = np.asarray(s.rows, dtype=np.int64)
        # The file splice blanks every other cell of our columns below the header; so do we,
        # down to the last used row (a shorter ledger leaves no stale values below).
        last = max(s.layout.last_row, int(rows.max()) if rows.size else hr, sheet.used_range.last_cell.row, hr + 1)
        lo, hi = min(c.index for c in s.columns), max(c.index for c in s.columns)
        current = sheet.range((hr, lo), (last, hi)).options(ndim=2).value
        offsets = (rows - hr).tolist()
        written: list[int] = []
        for col in s.columns:
            target: list[Any] = [None] * (last - hr + 1)
            target[0] = col.header
            for k, v in zip(offsets, column_values(col)):
                target[k] = v
            have = [row[col.index - lo] for row in current]
            if all(_same(a, b) for a, b in zip(have, target)):
                continue
            body = sheet.range((hr + 1, col.index), (last, col.index))
            body.number_format = STYLE_SPECS[col.style]["num_fmt"] if col.style else "General"
            sheet.range((hr, col.index), (last, col.index)).value = [[to_cell(v)] for v in target]
            if col.index not in s.layout.outputs.values():  # a column new to the sheet
                sheet.range((hr, col.index)).column_width = col.width
            written.append(col.index)
        for c1, c2, _ in _runs([(c, 0) for c in sorted(written)]):
            apply_style(sheet.range((hr, c1), (hr, c2)), "header")
        if written:
            _extend_tables(sheet, s)
        return bool(written)

    def _write_owned(self, owned: OwnedSheet) -> bool:
        """Replace an owned sheet's contents when they differ; True when written."""
        width = max(len(r) for r in owned.rows)
        grid = [[_plain(c) for c in row] + [None] * (width - len(row)) for row in owned.rows]
        sheet = _find_sheet(self.book, owned.name)
        if sheet is not None:
            used = sheet.used_range.last_cell
            current = sheet.range((1, 1), (max(used.row, 1), max(used.column, 1))).options(ndim=2).value
            if _same_grid(current, grid):
                return False
            sheet.clear()  # contents and formats: the sheet is the tool's, old styles must go
        else:
            sheets = list(self.book.sheets)
            # After the ledger sheets and the tool's sheets already there (Aging, then others).
            known = [s for s in sheets if sheet_for_name(s.name) is not None]
            active = self.book.sheets.active
            sheet = self.book.sheets.add(owned.name, after=(known or sheets)[-1])
            active.activate()  # adding a sheet activates it; leave the user where they were
        sheet.range((1, 1)).value = [[to_cell(v) for v in row] for row in grid]
        for r1, c1, r2, c2, style in style_boxes(owned.rows):
            apply_style(sheet.range((r1, c1), (r2, c2)), style)
        for c1, c2, w in _runs(sorted(owned.widths.items())):
            sheet.range((1, c1), (1, c2)).column_width = w
        for merged in owned.merged:
            sheet.range(merged).merge()
        _write_charts(sheet, owned.charts)
        # Freezing panes needs the window (ActiveWindow.FreezePanes), which xlwings does not wrap.
        return True


#: Charts xl-ar draws are named with this prefix, so a refresh replaces its own and no other.
CHART_PREFIX = "xl-ar: "


def _write_charts(sheet: Any, charts: Sequence[Any]) -> None:
    """Draw an owned sheet's native charts through xlwings (``sheet.charts.add``).

    xlwings' open-source API has no chart title, so the title is the chart's name (Excel shows
    it in the selection pane); the data, type and position are the file adapter's.

    Args:
        sheet: an xlwings ``Sheet``.
        charts: ``xl_ar.book.charts.ChartSpec`` of the sheet.
    """
    for chart in list(sheet.charts):
        if chart.name.startswith(CHART_PREFIX):
            chart.delete()
    for spec in charts:
        refs = [spec.categories_ref, *(s.ref for s in spec.series)]
        source = ",".join(r.split("!", 1)[1].replace("$", "") for r in refs)  # a union of ranges
        c0, r0, c1, r1 = spec.anchor
        sheet.charts.add(anchor=sheet.range((r0 + 1, c0 + 1)), width=(c1 - c0) * 48, height=(r1 - r0) * 15,
                         chart_type="column_clustered" if spec.kind == "bar" else "line",
                         source=sheet.range(source), name=CHART_PREFIX + spec.title)


# ---------------------------------------------------------------------- values


def sheet_rows(sheet: Any) -> list[list[Any]]:
    """A sheet's values from A1 to the used range's last cell, as the file reader gives them.

    Excel gives ``None`` for an empty cell and ``datetime`` for a date; the file reader
    (calamine) gives ``""`` and ``date`` for a date without a time. Converting here makes both
    adapters hand validation the very same rows.

    Args:
        sheet: an xlwings ``Sheet``.

    Returns:
        One list of cell values per row (a rectangle).
    """
    # used_range starts at the first used cell, not A1: rows and columns count from A1.
    last = sheet.used_range.last_cell
    values = sheet.range((1, 1), (last.row, last.column)).options(ndim=2).value
    return [[_as_read(v) for v in row] for row in values]


def _as_read(v: Any) -> Any:
    if v is None:
        return ""
    if type(v) is dt.datetime and v.hour == v.minute == v.second == v.microsecond == 0:
        return v.date()
    return v


def column_values(col: ColumnOut) -> list[Any]:
    """A computed column's values as plain Python (None for a blank).

    Args:
        col: a planned column (numbers as floats with NaN, text, datetime64 with NaT).

    Returns:
        float, str, ``datetime`` or None per row.
    """
    vals = np.asarray(col.values)
    if col.kind == "number":
        f = vals.astype(float)
        return [None if x != x else x for x in f.tolist()]
    if col.kind == "date":
        d = vals.astype("datetime64[us]")
        return [None if np.isnat(x) else x.item() for x in d]
    return [_plain(v) for v in vals.tolist()]


def _plain(cell: Any) -> Any:
    """The value of a planned cell (a value or ``(value, style)``) as plain Python; "" = None."""
    v = cell[0] if isinstance(cell, tuple) else cell
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v == "" or (isinstance(v, float) and v != v) or type(v).__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)  # Excel reads every date back as a datetime
    return v


def to_cell(v: Any) -> Any:
    """What to hand ``Range.value`` for a plain value: text gets Excel's ``'`` prefix."""
    if isinstance(v, str):
        return "'" + v
    return v


def _same(have: Any, want: Any) -> bool:
    """Whether a cell read from Excel already holds the value we would write."""
    have = _plain(have)
    if isinstance(have, bool) or isinstance(want, bool):
        return type(have) is type(want) and have == want
    return have == want


def _same_grid(current: list[list[Any]], grid: list[list[Any]]) -> bool:
    """Whether a sheet's values (from A1) equal the grid, blanks beyond either counting as equal."""
    rows = max(len(current), len(grid))
    cols = max(max((len(r) for r in current), default=0), max((len(r) for r in grid), default=0))

    def at(g, r, c):
        return g[r][c] if r < len(g) and c < len(g[r]) else None

    return all(_same(at(current, r, c), at(grid, r, c)) for r in range(rows) for c in range(cols))


# ---------------------------------------------------------------------- formats


def apply_style(rng: Any, name: str) -> None:
    """Give a range one of the writer's named styles (``STYLE_SPECS``) through xlwings.

    Args:
        rng: an xlwings ``Range``.
        name: a key of ``STYLE_SPECS`` ("header", "money" ...).
    """
    spec = STYLE_SPECS[name]
    if spec.get("num_fmt"):
        rng.number_format = spec["num_fmt"]
    if spec.get("fill"):
        rng.color = "#" + spec["fill"]
    if spec.get("bold"):
        rng.font.bold = True
    if spec.get("font_color"):
        rng.font.color = "#" + spec["font_color"]
    if spec.get("halign"):
        rng.horizontal_alignment = spec["halign"]


def style_boxes(rows: Sequence[Sequence[Any]]) -> list[tuple[int, int, int, int, str]]:
    """Rectangles of equally styled cells, so formats take a few calls instead of one per cell.

    Args:
        rows: planned rows from A1; a cell is a value or ``(value, style name)``; a bare date
            gets the "date" style, as in the file adapter.

    Returns:
        (first row, first column, last row, last column, style name), 1-based.
    """
    runs = []
    for r, row in enumerate(rows, start=1):
        c = 0
        while c < len(row):
            st = _style_of(row[c])
            start = c
            while c + 1 < len(row) and _style_of(row[c + 1]) == st:
                c += 1
            if st is not None:
                runs.append((r, start + 1, c + 1, st))
            c += 1
    boxes: list[list] = []
    ends: dict[tuple[int, int, str], int] = {}  # (c1, c2, style) -> index of the box ending lowest
    for r, c1, c2, st in runs:
        i = ends.get((c1, c2, st))
        if i is not None and boxes[i][2] == r - 1:
            boxes[i][2] = r  # the same run one row down: grow the box
        else:
            ends[(c1, c2, st)] = len(boxes)
            boxes.append([r, c1, r, c2, st])
    return [tuple(b) for b in boxes]


def _style_of(cell: Any) -> str | None:
    if isinstance(cell, tuple):
        return cell[1]
    return "date" if isinstance(cell, dt.date) else None


def _runs(items: list[tuple[int, float]]) -> list[tuple[int, int, float]]:
    """Consecutive columns of equal width as (first, last, width)."""
    out: list[list] = []
    for c, w in items:
        if out and out[-1][1] == c - 1 and out[-1][2] == w:
            out[-1][1] = c
        else:
            out.append([c, c, w])
    return [tuple(x) for x in out]


# ---------------------------------------------------------------------- sheets and tables


def _find_sheet(book: Any, name: str) -> Any | None:
    for s in book.sheets:
        if s.name.lower() == name.lower():
            return s
    return None


def _extend_tables(sheet: Any, s: SheetOutputs) -> None:
    """Widen the Excel Table holding the ledger over our columns, as the file adapter does.

    A table whose header is on the ledger's header row and which covers its first column grows
    right to our last column and down to the ledger's last row (not down when it has a totals
    row). A sheet-level autofilter is not widened here (the open-source xlwings API has none).
    """
    lay = s.layout
    last_col = max(c.index for c in s.columns)
    last_row = max(lay.last_row, lay.header_row + 1)
    for table in getattr(sheet, "tables", ()):
        rng = table.range
        r1, c1 = rng.row, rng.column
        r2, c2 = r1 + rng.shape[0] - 1, c1 + rng.shape[1] - 1
        if r1 != lay.header_row or not c1 <= lay.first_col <= c2:
            continue
        totals = bool(getattr(table, "show_totals", False))
        new = (max(r2, last_row) if not totals else r2, max(c2, last_col))
        if new != (r2, c2):
            table.resize(sheet.range((r1, c1), new))
