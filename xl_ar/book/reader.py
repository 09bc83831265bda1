"""Reading a ledger workbook file: sheets found by name (English or Chinese), headers mapped.

Reads with python-calamine (fast, read-only, never writes): from the file, or from a copy of it
without the cells of the tool's own columns that the reader leaves out anyway, when a large sheet
has them (:mod:`xl_ar.book.strip`). Each ledger sheet may be an Excel Table or a plain range;
its header is the first non-empty row. Columns the user added are left alone; the computed
columns xl-ar wrote on an earlier refresh are recognised by their headers so the next refresh
writes over them in place.
"""

from __future__ import annotations

import io
import itertools
import threading
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from python_calamine import CalamineWorkbook

from xl_ar.book.headers import (
    OWNED_SHEETS,
    SETTING_LOOKUP,
    field_for_header,
    normalise,
    sheet_for_name,
)
from xl_ar.book.package import BookError, WorkbookPackage
from xl_ar.book.columns import COLUMNS_FROM, SheetColumns, read_columns
from xl_ar.book.layout import HEADER_SEARCH_ROWS, Header, SheetLayout, find_header, first_ours, header_of, layout_of
from xl_ar.book.screen import Screening, SheetScreen, screen_book
from xl_ar.book.sheetxml import col_letter, split_ref
from xl_ar.book.strip import ReadingCopy, first_rows, reading_copy
from xl_ar.core.convert import CellError, is_blank
from xl_ar.core.ledger import RawTable
from xl_ar.core.progress import Step
from xl_ar.core.schema import TABLES

@dataclass(frozen=True)
class BookData:
    """What a workbook holds for a run: raw tables, settings pairs, layouts."""

    tables: dict[str, RawTable]
    settings: dict[str, tuple[Any, str]]
    layouts: dict[str, SheetLayout]
    sheet_names: list[str]
    #: The screening's checks still running, when :func:`read_book` was asked to leave them
    #: running (``checks_later``): see :meth:`finish_checks`.
    checks: Screening | None = field(default=None, repr=False, compare=False)

    def finish_checks(self) -> None:
        """Wait for the checks of the workbook still running beside the run (a large sheet's
        well-formedness); raise the first refusal as a :class:`BookError`. Call it before
        anything read is written or reported, and when what used it failed: a part that is not
        well-formed is then named as the cause."""
        if self.checks is not None:
            self.checks.finish()

    def drop_checks(self) -> None:
        """Stop the checks still running (a run that ends without acting on what it read)."""
        if self.checks is not None:
            self.checks.drop()

    def release_cells(self, tables: tuple[str, ...] = ("Invoices", "Receipts", "Activities", "Customers")) -> None:
        """Drop the raw cell values of the record tables, keeping each record's Excel ``row``.

        Once the ledger is validated, writing back needs only where each record sits; at a
        million rows the cell objects calamine made are most of the memory a run holds.

        Args:
            tables: the canonical tables to slim (the small ones, Stages say, stay whole).
        """
        for name in tables:
            raw = self.tables.get(name)
            if raw is not None and "row" in raw.frame:
                self.tables[name] = replace(raw, frame=raw.frame[["row"]], coded={})


def _cells(sheet: Any, table: str | None,
           head_cut: tuple[int, tuple[tuple[Any, ...], ...]] | None = None,
           progress: Step | None = None) -> list[list[Any]]:
    """A calamine sheet's cells from A1, as ``to_python(skip_empty_area=False)`` gives them,
    except that below a ledger table's header the run of the tool's own columns that ends the
    header row is left out (:func:`ours_from`): validation never reads them, and a refreshed
    full sheet holds ten, which as Python objects cost a quarter of a gigabyte and, in the frame
    the table is cut from, a second. (``iter_rows`` starts at row 1 but at the first column
    holding a cell: the columns left of it are put back.)

    Args:
        head_cut: for a sheet read from the reading copy, the first column it was cut at
            (0-based) and the cells its first rows lost there (``ReadingCopy.heads``: each row's
            values from that column on), which are put back.
        progress: reports the rows taken (by blocks of :data:`ROWS_AT_ONCE`).
    """
    start = sheet.start
    pad = [""] * start[1] if start else []
    rows = (pad + r for r in sheet.iter_rows()) if pad else sheet.iter_rows()
    head = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    if head_cut is not None:
        _put_back(head, *head_cut)
    cut = first_ours(head, table)
    if cut is None:
        out = head
    else:
        h, k = cut
        out = head[: h + 1] + [r[:k] for r in head[h + 1:]]
    done, height = progress or Step(), max(sheet.height, 1)
    while True:
        before = len(out)
        if cut is None:
            out += itertools.islice(rows, ROWS_AT_ONCE)
        else:
            out += [r[:k] for r in itertools.islice(rows, ROWS_AT_ONCE)]
        if len(out) == before:
            return out
        done(len(out) / height)


#: Rows a sheet's cells are taken by, between two reports of progress.
ROWS_AT_ONCE = 1 << 16


def _put_back(head: list[list[Any]], k: int, cut: tuple[tuple[Any, ...], ...]) -> None:
    """Put back at the end of ``head``'s rows the cells the reading copy cut from them: each row
    of ``cut`` holds a first row's values from column ``k`` (0-based) on.

    A row calamine gives reaching past column ``k`` was not cut as the copy says, and is left as
    it is: the reader's rule then finds another cut than the copy's, and the sheet is read again
    from the file (:func:`_cut_reads_whole`).
    """
    for i, values in enumerate(cut):
        if not values:
            continue
        while len(head) <= i:
            head.append([])
        row = head[i]
        if len(row) <= k:
            head[i] = row + [""] * (k - len(row)) + list(values)


def _read_table(name: str, table: str, rows: list[list[Any]]) -> tuple[RawTable, SheetLayout]:
    hd = header_of(rows, table)
    if hd is None:
        empty = pd.DataFrame({"row": np.zeros(0, np.int64)})
        return RawTable(table, name, empty, {}), SheetLayout(name, 1, 1, 0)
    h, fields, outputs = hd.row, hd.fields, hd.outputs
    body = pd.DataFrame(rows[h + 1 :], dtype=object)
    picked = body.reindex(columns=list(fields.values()))
    picked.columns = list(fields)
    keep = _records(picked)
    frame = picked.iloc[keep].reset_index(drop=True)
    frame.insert(0, "row", (h + 2 + keep).astype(np.int64))
    columns = {f: col_letter(j + 1) for f, j in fields.items()}
    last = hd.last
    # Columns typed just right of the user's last one without a header are still the user's:
    # the computed columns go after them, never over them (the refresh then asks for a header).
    while last and last < body.shape[1] and last + 1 not in outputs.values() and \
            not (body[last].isna() | (body[last] == "")).all():
        last += 1
    return RawTable(table, name, frame, columns), layout_of(name, hd, rows[h], last, keep)


def _columns_table(pkg: WorkbookPackage, screen: SheetScreen, source: Path, table: str,
                   early: Future[_ColumnsRead | None] | None = None) -> tuple[RawTable, SheetLayout] | None:
    """A large ledger sheet's table read as columns (:mod:`xl_ar.book.columns`), the same as
    :func:`_read_table` makes of its cells, or None when it is to be read cell by cell.
    ``early``: the columns read from the file while the screening went on (:class:`_EarlyColumns`),
    taken only when the screening found the sheet fit to be read so."""
    fit = screen.size >= COLUMNS_FROM and not screen.errors and screen.trimmed is None and _by_columns(table)
    if early is not None:
        made = early.result()  # (waited for, taken or not)
    else:
        made = _read_as_columns(pkg, screen.part, screen.name, source, table) if fit else None
    if not fit or made is None:
        return None
    hd, header, last, read = made
    frame = pd.DataFrame({"row": (hd.row + 2 + read.records).astype(np.int64)})
    for f in hd.fields:
        col = read.values[f]
        frame[f] = pd.Series(col, dtype=object, copy=False) if col.dtype == object else col
    columns = {f: col_letter(j + 1) for f, j in hd.fields.items()}
    return RawTable(table, screen.name, frame, columns, read.coded), layout_of(screen.name, hd, header, last, read.records)


#: What :func:`_read_as_columns` reads: the header found, its row, the user's last column, the columns.
_ColumnsRead = tuple[Header, list[Any], int, SheetColumns]


def _by_columns(table: str | None) -> bool:
    """Whether a ledger sheet of this table may be read as columns at all."""
    return table is not None and table in TABLES and table != "Settings"


def _read_as_columns(pkg: WorkbookPackage, part: str, name: str, source: Path, table: str) -> _ColumnsRead | None:
    """The columns of a ledger sheet (``part``, read by calamine from ``source``) under the header
    its first rows hold, or None for a sheet to be read cell by cell."""
    head = first_rows(pkg, part, HEADER_SEARCH_ROWS)
    hd = header_of(head, table) if head else None
    if hd is None or not hd.fields or any(not isinstance(head[hd.row][j], str) for j in hd.used):
        return None  # (a header cell that is not text reads otherwise from the file's first rows)
    kinds = {f.name: f.kind for f in TABLES[table].fields}
    header = head[hd.row]
    last = hd.last
    read = read_columns(source, name, hd.row, hd.fields, {f: header[j] for f, j in hd.fields.items()},
                        {f: kinds[f] for f in hd.fields}, None if last + 1 in hd.outputs.values() else last)
    return None if read is None else (hd, header, last, read)


class _EarlyColumns:
    """The largest ledger sheet read as columns on a thread of its own from the moment the
    screening finds its extent fits, while the screening goes on with its cells and the other
    sheets (fastexcel's parse does not hold the interpreter): on two cores a full sheet's parse
    then starts about a second sooner.

    Only a sheet the file holds as the reader reads it: from :data:`COLUMNS_FROM` bytes, without
    the tool's own columns after its header (a sheet the reading copy cuts is read from the copy,
    once it is made). What is read is used only if the finished screening finds the sheet fit to
    be read as columns (:func:`_columns_table`); :meth:`close` waits for the thread.
    """

    def __init__(self, pkg: WorkbookPackage):
        self.pkg = pkg
        sized = [(m.info.file_size, name, part) for name, part, kind in pkg.sheet_kinds()
                 if part is not None and kind == "worksheet" and _by_columns(sheet_for_name(name))
                 and (m := pkg.stored(part)) is not None]
        size, name, self.part = max(sized, key=lambda s: s[0], default=(0, None, ""))  # (the first of equals)
        self.name: str | None = name if size >= COLUMNS_FROM else None
        self.future: Future[_ColumnsRead | None] | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self, name: str) -> None:
        """The screening found ``name``'s extent fits: read it now if it is the sheet to read early."""
        table = sheet_for_name(name)
        if name != self.name or self.future is not None or table is None:
            return
        head = first_rows(self.pkg, self.part, HEADER_SEARCH_ROWS)
        if not head or first_ours(head, table) is not None:
            return  # (the reading copy may cut it: read from the copy)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="xl-ar-columns")
        self.future = self._pool.submit(_read_as_columns, self.pkg, self.part, name, self.pkg.path, table)

    def of(self, name: str) -> Future[_ColumnsRead | None] | None:
        """What was read of ``name`` early, or None when it was not."""
        return self.future if name == self.name else None

    def close(self) -> None:
        """Wait for the thread (its read is dropped unless taken)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _records(picked: pd.DataFrame) -> np.ndarray:
    """Positions of the rows holding something in at least one of the ledger's columns.

    Rows blank in every one of them are not records (spacing, totals below): calamine gives ""
    for an empty cell, the live reader None (a cell of spaces is caught by validation). The
    columns are tested one at a time, each only on the rows still blank in all before it: the
    first (the invoice number) rules out nearly every row, so a sheet costs about one column's
    test instead of the whole frame's.
    """
    if not picked.shape[1]:
        return np.zeros(0, np.int64)
    blank = None  # positions blank in every column so far
    for j in range(picked.shape[1]):
        cells = picked.iloc[:, j].to_numpy(dtype=object)
        if blank is not None:
            cells = cells[blank]
        empty = pd.isna(cells) | (cells == "")
        blank = np.flatnonzero(empty) if blank is None else blank[empty]
        if not len(blank):
            break
    record = np.ones(len(picked), dtype=bool)
    record[blank] = False
    return np.flatnonzero(record)


def _read_settings(name: str, rows: list[list[Any]]) -> dict[str, tuple[Any, str]]:
    h = find_header(rows, "Settings")
    if h is None:
        h, kcol, vcol = -1, 0, 1  # no header: keys in A, values in B
    else:
        cols = {field_for_header("Settings", v): j for j, v in enumerate(rows[h]) if not is_blank(v)}
        kcol, vcol = cols.get("key", 0), cols.get("value", 1)
    pairs: dict[str, tuple[Any, str]] = {}
    for i, r in enumerate(rows[h + 1 :], start=h + 2):
        if kcol >= len(r) or is_blank(r[kcol]):
            continue
        raw_key = str(r[kcol]).strip()
        key = SETTING_LOOKUP.get(normalise(raw_key), raw_key)
        pairs[key] = (r[vcol] if vcol < len(r) else None, f"{name}!{col_letter(vcol + 1)}{i}")
    return pairs


def read_book(path: str | Path, progress: Step | None = None, checks_later: bool = False) -> BookData:
    """Read the ledger sheets of a workbook file.

    The package is opened and screened first (:mod:`xl_ar.book.screen`): zip limits, every part
    the reader parses checked, no DOCTYPE, each ledger sheet's extent bounded. Any failure of
    the reader itself is a :class:`BookError` naming the part. A large sheet whose header ends
    with the tool's own columns reaches calamine without their cells below the header (a copy
    in a temporary file, :mod:`xl_ar.book.strip`): calamine's parse of a refreshed full sheet
    takes half the time and memory, and what is read is the same.

    Args:
        path: an .xlsx/.xlsm file.
        progress: reports the screening, the copy and each sheet's rows (their shares of a full
            sheet's reading: about a sixth, a quarter and the rest).
        checks_later: return while the large sheets' well-formedness is still being checked in
            processes of their own (a full sheet's takes one to two seconds of a core, which the
            reading keeps busy and the computing leaves idle); the caller then calls
            :meth:`BookData.finish_checks` and :meth:`BookData.drop_checks`.

    Returns:
        The workbook's raw ledger tables, settings and sheet layouts; cells holding an Excel
        error or a formula without a value come as :class:`CellError`.
    """
    done = progress or Step()
    pkg = WorkbookPackage.open(path)
    early = _EarlyColumns(pkg)  # the largest sheet's parse starts once its extent is known
    try:
        screening = screen_book(pkg, early.start)  # large sheets' well-formedness is checked beside
    except BaseException:
        early.close()
        raise
    done(0.17)
    try:
        # calamine reads a copy without the tool's own cells below large sheets' headers, if any
        with reading_copy(pkg, screening, first_ours, HEADER_SEARCH_ROWS, progress=done.part(0.17, 0.43)) as copy:
            data = _read_calamine(pkg, screening, copy, done.part(0.43, 1.0), early)
    except Exception:
        screening.finish()  # a part that is not well-formed is the cause: name it
        raise
    except BaseException:  # an interrupt: the checks are stopped, not waited for
        screening.drop()
        raise
    finally:
        early.close()
    if not checks_later:
        screening.finish()
        return data
    return replace(data, checks=screening)


def _read_calamine(pkg: WorkbookPackage, screening: Screening, copy: ReadingCopy, progress: Step,
                   early: _EarlyColumns) -> BookData:
    """:func:`read_book` once the package is screened: calamine on the file, or on ``copy``;
    ``progress`` is shared between the sheets by their sizes; ``early``: the sheet read as
    columns while the screening went on, if one was."""
    book = pkg.path.name
    wb = _calamine(book, lambda: _open_calamine(pkg, screening, copy.path))
    sizes = {s.name: s.size for s in screening.sheets.values()}
    share = progress.parts({name: sizes[name] for name in wb.sheet_names if name in sizes})  # in the order read
    try:
        def rows_of(name: str, wb: Any = wb) -> list[list[Any]]:
            screen = next(s for s in screening.sheets.values() if s.name == name)
            what = f"{book}: the sheet {name!r} ({screen.part})"
            table = sheet_for_name(name)
            # calamine's own copy of the cells is dropped with the call, before the next sheet's comes
            cut = (copy.cuts[name][1], copy.heads[name]) if name in copy.cuts else None
            rows = _calamine(what, lambda: _cells(wb.get_sheet_by_name(name), table, cut, share.get(name)))
            if name in copy.cuts and not _cut_reads_whole(rows, table, copy.cuts[name], screen.errors):
                rows = _calamine(what, lambda: _whole_sheet(pkg, name, table))
            for ref, code in screen.errors.items():
                r, c = split_ref(ref)
                if r - 1 < len(rows) and c - 1 < len(rows[r - 1]):
                    rows[r - 1][c - 1] = CellError(code)
            return rows

        source = copy.path or pkg.path

        def columns_of(name: str) -> tuple[RawTable, SheetLayout] | None:
            screen = next(s for s in screening.sheets.values() if s.name == name)
            table = sheet_for_name(name)
            return _columns_table(pkg, screen, source, table, early.of(name)) if table is not None else None

        beside = _OtherSheets(pkg, screening, copy.path, rows_of, columns_of)

        def table_of(name: str) -> tuple[RawTable, SheetLayout] | None:
            made = beside.table(name)
            return made if made is not None else columns_of(name)

        try:
            return read_sheets(list(wb.sheet_names), rows_of, table_of,
                               lambda name: share[name](1.0) if name in share else None)
        finally:
            beside.close()
    finally:
        wb.close()


def _cut_reads_whole(rows: list[list[Any]], table: str | None, cut: tuple[int, int], errors: dict[str, str]) -> bool:
    """Whether a sheet read from the cut copy gives the ledger the whole sheet gives.

    The cut leaves out only cells :func:`_cells` drops, and those of the first rows in the same
    columns, which it puts back as the copy read them: the first rows are then the file's, and so
    is where :func:`_cells` cuts (checked again here: left of the cut from the cells calamine
    gave, right of it from those the copy read). But calamine's grid ends at the last row
    holding a value: rows that held only the tool's cells may be gone from it. Blank rows below a ledger change nothing, unless
    the grid lost every row below the header (an empty ledger's frame is built otherwise) or an
    error cell lay in a lost row (a formula saved without a value is no value to calamine).
    Whatever fails here, the sheet is read again from the file.
    """
    return (first_ours(rows[:HEADER_SEARCH_ROWS], table) == cut and len(rows) > cut[0] + 1
            and all(split_ref(ref)[0] <= len(rows) for ref in errors))


def _whole_sheet(pkg: WorkbookPackage, name: str, table: str | None) -> list[list[Any]]:
    """:func:`_cells` of a sheet read from the workbook file itself (a sheet the screening trimmed is never cut)."""
    wb = CalamineWorkbook.from_path(str(pkg.path))
    try:
        return _cells(wb.get_sheet_by_name(name), table)
    finally:
        wb.close()


#: A ledger sheet this large (bytes of XML, about 25,000 rows) is read on a second thread
#: while the largest one is read on the first: calamine parses without holding the
#: interpreter, so on two cores a full Invoices sheet and its Receipts take the time of the
#: larger one instead of both, and the smaller one's cells become its table (Python's work)
#: while the larger one is still being parsed.
BESIDE_BYTES = 8 << 20


class _OtherSheets:
    """The ledger sheets but the largest, read on a second thread, in sheet order: as columns
    when they can be (``columns_of``), else parsed by calamine, their cells taken (``rows_of``)
    and made into their tables (:func:`_read_table`).

    The thread opens its own calamine workbook (one cannot be shared between threads), on the
    reading copy ``copy`` when there is one, as the caller's does. Sheets smaller than
    :data:`BESIDE_BYTES` are left to the caller, as are all of them when fewer than two sheets
    reach it (a small workbook starts no thread).
    """

    def __init__(self, pkg: WorkbookPackage, screening: Screening, copy: Path | None,
                 rows_of: Callable[[str, Any], list[list[Any]]],
                 columns_of: Callable[[str], tuple[RawTable, SheetLayout] | None]):
        largest = max(screening.sheets.values(), key=lambda s: s.size, default=None)
        names = [s.name for s in screening.sheets.values() if s is not largest and s.size >= BESIDE_BYTES]
        self._futures: dict[str, Future[tuple[RawTable, SheetLayout]]] = {}
        self._pool: ThreadPoolExecutor | None = None
        if not names:  # no sheet but the largest is that large: the caller reads them all
            return
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="xl-ar-read")
        local = threading.local()

        def read(name: str, table: str) -> tuple[RawTable, SheetLayout]:
            made = columns_of(name)
            if made is not None:
                return made
            if not hasattr(local, "wb"):
                local.wb = _open_calamine(pkg, screening, copy)
            return _read_table(name, table, rows_of(name, local.wb))

        for name in names:
            table = sheet_for_name(name)
            if table is not None and table != "Settings":
                self._futures[name] = self._pool.submit(read, name, table)
        self._pool.submit(lambda: local.__dict__.pop("wb").close() if hasattr(local, "wb") else None)

    def table(self, name: str) -> tuple[RawTable, SheetLayout] | None:
        """The table and layout of sheet ``name`` when this thread read it (its error raised
        here), else None."""
        future = self._futures.pop(name, None)
        return future.result() if future is not None else None

    def close(self) -> None:
        """Wait for the thread; sheets read and not taken are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures.clear()


def _open_calamine(pkg: WorkbookPackage, screening: Screening, copy: Path | None = None) -> CalamineWorkbook:
    """calamine on the reading copy when there is one (:mod:`xl_ar.book.strip`: it holds the
    screening's trimmed sheets too); else on the file, or on a copy in memory holding the sheets
    the screening trimmed when it trimmed some."""
    if copy is not None:
        return CalamineWorkbook.from_path(str(copy))
    if not any(s.trimmed is not None for s in screening.sheets.values()):
        return CalamineWorkbook.from_path(str(pkg.path))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for part in pkg.reader_parts():
            z.writestr(part, pkg.read(part))
        for s in screening.sheets.values():
            z.writestr(s.part, s.trimmed if s.trimmed is not None else pkg.read(s.part))
    buf.seek(0)
    return CalamineWorkbook.from_filelike(buf)


def _calamine(what: str, call: Callable[[], Any]) -> Any:
    """Run a calamine call; its errors (and Rust panics) become a :class:`BookError`."""
    try:
        return call()
    except BookError:
        raise
    except Exception as exc:
        raise BookError(f"{what} cannot be read: {exc}") from None
    except BaseException as exc:  # pyo3 raises a Rust panic as a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise BookError(f"{what} cannot be read: {exc}") from None


def read_sheets(names: list[str], rows_of: Callable[[str], list[list[Any]]],
                table_of: Callable[[str], tuple[RawTable, SheetLayout] | None] | None = None,
                done: Callable[[str], None] | None = None) -> BookData:
    """The ledger of a workbook, given its sheet names and a way to get a sheet's cell rows.

    Both adapters read through this: the file one with calamine, the live one with xlwings.

    Args:
        names: the workbook's sheet names, in order.
        rows_of: sheet name -> its values from A1, as a list of rows ("" or None for empty).
        table_of: sheet name -> its table and layout when they were read already (elsewhere,
            the same way), else None.
        done: called with each sheet's name once it is read (progress).

    Returns:
        The workbook's raw ledger tables, settings and sheet layouts.
    """
    tables: dict[str, RawTable] = {}
    layouts: dict[str, SheetLayout] = {}
    settings: dict[str, tuple[Any, str]] = {}
    for name in names:
        canon = sheet_for_name(name)
        if canon is None or canon in layouts or canon in OWNED_SHEETS:
            continue
        if canon == "Settings":
            settings = _read_settings(name, rows_of(name))
            layouts[canon] = SheetLayout(name, 1, 1, 2)
        else:
            made = table_of(name) if table_of is not None else None
            tables[canon], layouts[canon] = made if made is not None else _read_table(name, canon, rows_of(name))
        if done is not None:
            done(name)
    return BookData(tables, settings, layouts, list(names))
