"""An in-memory stand-in for the parts of xlwings' ``App``/``Book``/``Sheets``/``Sheet``/``Range``.

This is the one stand-in of the test suite, and it exists only because Excel cannot run here
(Linux, no Office; xlwings' desktop engines need Excel on Windows or macOS). Every other test
runs real code on real files. It serves the live-book adapter (``xl_ar.book.livebook``) and the
ribbon handlers (``xl_ar.ribbon``), which use xlwings only through the properties modelled
below, and it copies what xlwings 0.37.8 (``xlwings/main.py``, ``conversion/``) and Excel do:

- ``Range.value`` reads a scalar for one cell, a flat list for one row or column, a list of
  rows otherwise; ``options(ndim=2)`` always gives a list of rows. Empty cells read ``None``,
  numbers ``float``, dates ``datetime`` (as ``_xlwindows._clean_value_data_element`` does).
- Writing a list of rows fills from the range's top-left cell (the range is resized to the
  data); a jagged list is refused, as ``conversion._check_not_jagged`` does; a scalar fills the
  whole range; ``None``, NaN, NaT and ``""`` leave the cell empty; numpy numbers become floats.
- Excel parses a written string as if typed: a number-like string becomes a number (``"001"``
  reads back ``1.0``) unless it starts with the ``'`` prefix, which Excel keeps out of the value.
  (Date-like strings such as ``"1-30"`` become dates in Excel too; the stand-in leaves them.)
- ``Sheet.used_range`` is the bounding box of the used cells, starting at the first one (not
  necessarily A1), and ``$A$1`` for an empty sheet; ``Sheets.add(name, after=)`` refuses a
  name already present (case-insensitively) and activates the new sheet.
- Formats (``color``, ``font.bold``/``font.color``, ``number_format``,
  ``horizontal_alignment``, ``column_width``) are kept per cell; a multi-cell read of a format
  gives the common value or ``None`` when the cells differ.

Every call that would cross to Excel is appended to ``App.calls`` as ``(operation, sheet,
address)``, so tests can hold the adapter to "one ``Range.value`` per column, not per cell".
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
from openpyxl.utils.cell import get_column_letter, range_boundaries

DEFAULT_WIDTH = 8.43
_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


@dataclass
class Alert:
    """One message box shown through ``App.alert``."""

    prompt: str
    title: str | None
    buttons: str
    mode: str | None


class App:
    """Excel: status bar, message boxes, screen updating and calculation mode."""

    def __init__(self) -> None:
        self._status: str | bool = False
        self.status_history: list[str | bool] = []
        self.alerts: list[Alert] = []
        self.screen_updating = True
        self.calculation = "automatic"
        self.calls: list[tuple[str, str, str]] = []

    @property
    def status_bar(self) -> str | bool:
        """The status bar text; ``False`` when Excel has control of it (as in xlwings)."""
        return self._status

    @status_bar.setter
    def status_bar(self, value: str | bool) -> None:
        self._status = value
        self.status_history.append(value)

    def alert(self, prompt: str, title: str | None = None, buttons: str = "ok", mode: str | None = None,
              callback: str | None = None) -> str:
        """Record a message box and press its first button."""
        self.alerts.append(Alert(prompt, title, buttons, mode))
        return buttons.split("_")[0]


class Book:
    """A workbook open in the stand-in Excel."""

    def __init__(self, name: str = "Book1.xlsx", app: App | None = None, fullname: str | None = None):
        self.name = name
        self.fullname = fullname or name
        self.app = app or App()
        self.sheets = Sheets(self)

    @classmethod
    def from_file(cls, path: str | Path, app: App | None = None) -> Book:
        """The values and Excel Tables of a workbook file, as Excel would show them.

        Formulas come in as their text: nothing here calculates (the ledgers under test hold none).
        """
        path = Path(path)
        wb = openpyxl.load_workbook(path)
        book = cls(path.name, app, str(path))
        for ws in wb.worksheets:
            sheet = book.sheets._append(ws.title)
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        sheet._cells[(cell.row, cell.column)] = _to_excel(cell.value, typed=False)
            for table in ws.tables.values():
                c1, r1, c2, r2 = range_boundaries(table.ref)
                sheet.tables.append(Table(table.displayName, sheet, (r1, c1, r2, c2)))
        book.sheets._active = 0
        return book

    def save(self) -> None:
        """Save (recorded; the stand-in's cells are not written back to the file)."""
        self.app.calls.append(("save", self.name, ""))

    def __repr__(self) -> str:
        return f"<Book [{self.name}]>"


class Sheets:
    """The sheets of a book, in order."""

    def __init__(self, book: Book):
        self.book = book
        self._sheets: list[Sheet] = []
        self._active = 0

    def _append(self, name: str) -> Sheet:
        sheet = Sheet(self.book, name)
        self._sheets.append(sheet)
        return sheet

    def __iter__(self):
        return iter(list(self._sheets))

    def __len__(self) -> int:
        return len(self._sheets)

    def __getitem__(self, key: int | str) -> Sheet:
        if isinstance(key, int):
            return self._sheets[key]
        for s in self._sheets:
            if s.name.lower() == key.lower():  # Excel's sheet names are case-insensitive
                return s
        raise KeyError(key)

    def __call__(self, key: int | str) -> Sheet:
        return self._sheets[key - 1] if isinstance(key, int) else self[key]

    @property
    def active(self) -> Sheet:
        return self._sheets[self._active]

    def add(self, name: str | None = None, before: Sheet | None = None, after: Sheet | None = None) -> Sheet:
        """Create a sheet (at the end unless ``before``/``after``) and activate it."""
        if name is not None and name.lower() in (s.name.lower() for s in self._sheets):
            raise ValueError("Sheet named '%s' already present in workbook" % name)
        name = name or f"Sheet{len(self._sheets) + 1}"
        sheet = Sheet(self.book, name)
        if after is not None:
            pos = self._sheets.index(after) + 1
        elif before is not None:
            pos = self._sheets.index(before)
        else:
            pos = len(self._sheets)
        self._sheets.insert(pos, sheet)
        self._active = pos
        self.book.app.calls.append(("add_sheet", name, ""))
        return sheet

    @property
    def names(self) -> list[str]:
        return [s.name for s in self._sheets]


class Sheet:
    """One worksheet: values and formats by (row, column), 1-based."""

    def __init__(self, book: Book, name: str):
        self.book = book
        self.name = name
        self._cells: dict[tuple[int, int], Any] = {}
        self._fmt: dict[tuple[int, int], dict[str, Any]] = {}
        self._widths: dict[int, float] = {}
        self.tables: list[Table] = []
        self.charts = Charts(self)
        self.merged: list[str] = []

    @property
    def index(self) -> int:
        return self.book.sheets._sheets.index(self) + 1

    def range(self, cell1: str | tuple[int, int] | Range, cell2: str | tuple[int, int] | Range | None = None) -> Range:
        """``range("A1")``, ``range("A1:C3")``, ``range((1, 1), (3, 3))``, ``range(rng1, rng2)``."""
        for c in (cell1, cell2):
            if isinstance(c, Range) and c.sheet is not self:
                raise ValueError("Range is not on this sheet")
        if isinstance(cell1, str) and "," in cell1:  # a union ("A1:A5,C1:C5"): chart sources use them
            return Union(self, cell1)
        r1, c1, r2, c2 = _box(cell1)
        if cell2 is not None:
            s1, t1, s2, t2 = _box(cell2)
            r1, c1, r2, c2 = min(r1, s1), min(c1, t1), max(r2, s2), max(c2, t2)
        return Range(self, (r1, c1, r2, c2))

    def __getitem__(self, address: str) -> Range:
        return self.range(address)

    @property
    def used_range(self) -> Range:
        used = set(self._cells) | set(self._fmt)
        if not used:
            return Range(self, (1, 1, 1, 1))
        rows = [r for r, _ in used]
        cols = [c for _, c in used]
        return Range(self, (min(rows), min(cols), max(rows), max(cols)))

    def clear_contents(self) -> None:
        """Clear the values, keep the formats."""
        self.book.app.calls.append(("clear_contents", self.name, ""))
        self._cells.clear()

    def clear(self) -> None:
        """Clear values and formats."""
        self.book.app.calls.append(("clear", self.name, ""))
        self._cells.clear()
        self._fmt.clear()

    def activate(self) -> None:
        self.book.sheets._active = self.index - 1

    def __repr__(self) -> str:
        return f"<Sheet [{self.book.name}]{self.name}>"


class Union:
    """Several ranges as one (``Range("A1:A5,C1:C5")``), only as a chart's source here."""

    def __init__(self, sheet: Sheet, address: str):
        self.sheet, self.address = sheet, address


class Chart:
    """A chart: its name, type, source address and where it is anchored."""

    def __init__(self, charts: "Charts", name: str, chart_type: str, source: str, anchor: str, size: tuple):
        self._charts, self.name, self.chart_type, self.source, self.anchor, self.size = (
            charts, name, chart_type, source, anchor, size)

    def delete(self) -> None:
        self._charts._items.remove(self)


class Charts:
    """``sheet.charts``: iterable, with ``add`` as xlwings 0.37 has it."""

    def __init__(self, sheet: Sheet):
        self.sheet, self._items = sheet, []

    def __iter__(self):
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def add(self, left=0, top=0, width=355, height=211, chart_type=None, source=None, plot_by=None, name=None,
            anchor=None, style=227) -> Chart:
        self.sheet.book.app.calls.append(("add_chart", self.sheet.name, name or ""))
        chart = Chart(self, name or f"Chart {len(self._items) + 1}", chart_type, source.address if source else "",
                      anchor.address if anchor else "", (width, height))
        self._items.append(chart)
        return chart


class Table:
    """An Excel Table (``ListObject``): a name and a range, resizable."""

    def __init__(self, name: str, sheet: Sheet, box: tuple[int, int, int, int]):
        self.name, self.parent, self._box = name, sheet, box

    @property
    def range(self) -> Range:
        return Range(self.parent, self._box)

    def resize(self, range: Range) -> None:
        # Excel's ListObject.Resize keeps the header row where it is.
        if range._box[0] != self._box[0]:
            raise ValueError("a table's header row cannot move")
        self.parent.book.app.calls.append(("resize_table", self.parent.name, range.address))
        self._box = range._box


class Range:
    """A rectangle of cells on a sheet."""

    def __init__(self, sheet: Sheet, box: tuple[int, int, int, int], **options: Any):
        self.sheet, self._box, self._options = sheet, box, options

    def options(self, convert: Any = None, **options: Any) -> Range:
        return Range(self.sheet, self._box, **options)

    def _log(self, op: str) -> None:
        self.sheet.book.app.calls.append((op, self.sheet.name, self.address))

    @property
    def row(self) -> int:
        return self._box[0]

    @property
    def column(self) -> int:
        return self._box[1]

    @property
    def shape(self) -> tuple[int, int]:
        r1, c1, r2, c2 = self._box
        return r2 - r1 + 1, c2 - c1 + 1

    @property
    def last_cell(self) -> Range:
        return Range(self.sheet, (self._box[2], self._box[3], self._box[2], self._box[3]), **self._options)

    @property
    def address(self) -> str:
        r1, c1, r2, c2 = self._box
        a = f"${get_column_letter(c1)}${r1}"
        return a if (r1, c1) == (r2, c2) else f"{a}:${get_column_letter(c2)}${r2}"

    def select(self) -> None:
        """Select the range (activates its sheet; recorded, and kept as ``App.selection``)."""
        self.sheet.activate()
        self.sheet.book.app.selection = self.address
        self._log("select")

    def merge(self, across: bool = False) -> None:
        self.sheet.merged.append(self.address.replace("$", ""))

    def resize(self, row_size: int | None = None, column_size: int | None = None) -> Range:
        rows, cols = self.shape
        r1, c1 = self._box[:2]
        return Range(self.sheet, (r1, c1, r1 + (row_size or rows) - 1, c1 + (column_size or cols) - 1), **self._options)

    def offset(self, row_offset: int = 0, column_offset: int = 0) -> Range:
        r1, c1, r2, c2 = self._box
        return Range(self.sheet, (r1 + row_offset, c1 + column_offset, r2 + row_offset, c2 + column_offset), **self._options)

    def _coords(self):
        r1, c1, r2, c2 = self._box
        return [(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]

    @property
    def value(self) -> Any:
        self._log("read")
        r1, c1, r2, c2 = self._box
        rows = [[self.sheet._cells.get((r, c)) for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]
        ndim = self._options.get("ndim")
        if ndim == 2:
            return rows
        if len(rows) == 1 and len(rows[0]) == 1 and ndim is None:
            return rows[0][0]
        if len(rows) == 1:
            return rows[0]
        if all(len(r) == 1 for r in rows):
            return [r[0] for r in rows]
        return rows

    @value.setter
    def value(self, data: Any) -> None:
        self._log("write")
        cells = self.sheet._cells
        if isinstance(data, (list, tuple)):
            rows = data if data and isinstance(data[0], (list, tuple)) else [data]
            if any(len(r) != len(rows[0]) for r in rows):
                raise Exception("All elements of a 2d list or tuple must be of the same length")
            r1, c1 = self._box[:2]
            for i, row in enumerate(rows):
                for j, v in enumerate(row):
                    _put(cells, (r1 + i, c1 + j), v)
        else:
            for rc in self._coords():
                _put(cells, rc, data)

    def clear_contents(self) -> None:
        self._log("clear_contents")
        for rc in self._coords():
            self.sheet._cells.pop(rc, None)

    def _get_fmt(self, key: str, default: Any = None) -> Any:
        vals = {self.sheet._fmt.get(rc, {}).get(key, default) for rc in self._coords()}
        return vals.pop() if len(vals) == 1 else None

    def _set_fmt(self, key: str, value: Any) -> None:
        self._log(f"format:{key}")
        for rc in self._coords():
            self.sheet._fmt.setdefault(rc, {})[key] = value

    @property
    def color(self) -> tuple[int, int, int] | None:
        return self._get_fmt("color")

    @color.setter
    def color(self, value: tuple[int, int, int] | str | None) -> None:
        self._set_fmt("color", _rgb(value))

    @property
    def number_format(self) -> str | None:
        return self._get_fmt("number_format", "General")

    @number_format.setter
    def number_format(self, value: str) -> None:
        self._set_fmt("number_format", value)

    @property
    def horizontal_alignment(self) -> str | None:
        return self._get_fmt("horizontal_alignment")

    @horizontal_alignment.setter
    def horizontal_alignment(self, value: str) -> None:
        self._set_fmt("horizontal_alignment", value)

    @property
    def font(self) -> Font:
        return Font(self)

    @property
    def column_width(self) -> float | None:
        widths = {self.sheet._widths.get(c, DEFAULT_WIDTH) for c in range(self._box[1], self._box[3] + 1)}
        return widths.pop() if len(widths) == 1 else None

    @column_width.setter
    def column_width(self, value: float) -> None:
        self._log("column_width")
        for c in range(self._box[1], self._box[3] + 1):  # Excel sets the whole columns' width
            self.sheet._widths[c] = value

    def __repr__(self) -> str:
        return f"<Range [{self.sheet.book.name}]{self.sheet.name}!{self.address}>"


class Font:
    """The font of a range: bold and colour."""

    def __init__(self, rng: Range):
        self._rng = rng

    @property
    def bold(self) -> bool | None:
        return self._rng._get_fmt("bold", False)

    @bold.setter
    def bold(self, value: bool) -> None:
        self._rng._set_fmt("bold", bool(value))

    @property
    def color(self) -> tuple[int, int, int] | None:
        return self._rng._get_fmt("font_color", (0, 0, 0))

    @color.setter
    def color(self, value: tuple[int, int, int] | str) -> None:
        self._rng._set_fmt("font_color", _rgb(value))


def _box(cell: str | tuple[int, int] | Range) -> tuple[int, int, int, int]:
    if isinstance(cell, Range):
        return cell._box
    if isinstance(cell, tuple):
        return cell[0], cell[1], cell[0], cell[1]
    c1, r1, c2, r2 = range_boundaries(cell.replace("$", "").upper())
    return r1, c1, r2, c2


def _rgb(value: tuple[int, int, int] | str | None) -> tuple[int, int, int] | None:
    if isinstance(value, str):
        h = value.lstrip("#")
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    return None if value is None else tuple(value)


def _put(cells: dict, rc: tuple[int, int], value: Any) -> None:
    v = _to_excel(value, typed=True)
    if v is None:
        cells.pop(rc, None)
    else:
        cells[rc] = v


def _to_excel(value: Any, typed: bool) -> Any:
    """What Excel holds after a value is written (``typed``: through ``Range.value``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or type(value).__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise ValueError("Excel cannot hold a time zone-aware datetime")
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        if value == "":
            return None
        if typed:
            if value.startswith("'"):
                return value[1:] or None
            if _NUMBER.match(value):
                return float(value)  # Excel parses a typed-in number
        return value
    raise TypeError(f"cannot write a {type(value).__name__} to a cell")
