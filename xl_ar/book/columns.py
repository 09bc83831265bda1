"""A large ledger sheet read as columns: calamine's cells straight into Arrow (fastexcel).

The cell reader (:func:`xl_ar.book.reader._cells`) makes a Python object of every cell and the
validation then hashes the text columns again to code them by distinct value: at a full sheet
of invoices, seconds of the run. fastexcel parses the sheet with calamine as well, without
holding the interpreter, and gives each column as one typed Arrow array: text as strings coded
by distinct value in C++, amounts as float64, dates as timestamps.

It is used only where the result is the cell reader's exactly, and it says so itself: fastexcel
is asked to type every column from all of its cells and to refuse a column mixing kinds
(``dtype_coercion="strict"``: a text among amounts, a number among invoice numbers, a date typed
as text), and the type of each column must be one the field's kind reads without a per-cell
rule (text for text fields, numbers for amounts, dates for dates). Whatever else (an error cell
anywhere, a column of mixed or other kinds, a header fastexcel names otherwise than the reader
reads it, a cell right of the user's columns the reader would take as theirs, fastexcel or
pyarrow missing or failing) and :func:`read_columns` answers None: the sheet is read cell by
cell, which names every bad cell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xl_ar.core.schema import NUMBER_KINDS

#: A ledger sheet with at least this much XML (about 25,000 rows) is read as columns when it
#: can be; below it the gain is within the noise (10,000 invoices: 2.9 MB, 0.56 s either way).
COLUMNS_FROM = 8 << 20

#: The column types (as fastexcel names them) each kind of field takes as read: its own, and
#: those whose cells the cell reader gives as plain objects the field's rules read (a number in a
#: text field, a text or a number in a yes/no one). A column with no value below its header
#: (typed "string") goes with every kind.
_TAKES = {
    "text": {"string", "float"},
    "currency": {"string", "float"},
    "date": {"datetime", "date"},
    "money": {"float", "int"},
    "number": {"float", "int"},
    "int": {"float", "int"},
    "bool": {"boolean", "string", "float"},
}

#: Whole numbers beyond this are not all exact as floats: such a column is read cell by cell.
_EXACT_INT = 2**53


@dataclass(frozen=True)
class SheetColumns:
    """A ledger sheet's fields as read by columns, its blank rows left out.

    Attributes:
        records: the positions of the rows kept among the rows below the header (0 = the row
            just below it).
        values: field -> its cells: float64 (NaN blank) for numbers, ``datetime64[ms]`` (NaT
            blank) for dates, else objects as the cell reader gives them ("" blank).
        coded: text field -> (codes, distinct texts) with ``texts[codes]`` equal to its values.
    """

    records: np.ndarray
    values: dict[str, np.ndarray]
    coded: dict[str, tuple[np.ndarray, np.ndarray]]


def read_columns(path: Path, sheet: str, header: int, fields: dict[str, int], titles: dict[str, str],
                 kinds: dict[str, str], beyond: int | None) -> SheetColumns | None:
    """A ledger sheet's field columns, or None when they are not certain to be what the cell
    reader would give (see the module's notes).

    Args:
        path: the file calamine reads (the workbook, or the reading copy).
        sheet: the sheet's name.
        header: the header's row from row 1 (0-based).
        fields: field -> its column from column A (0-based).
        titles: field -> its header cell's text, as the reader read it.
        kinds: field -> its kind (``Field.kind``).
        beyond: the first column from A (0-based) right of the user's ones, unless it is one of
            the tool's: a cell there below the header would make it the user's, so a sheet
            reaching it is read cell by cell.
    """
    if any(kinds[f] not in _TAKES for f in fields):
        return None
    try:
        import fastexcel
        import pyarrow  # noqa: F401 - fastexcel's arrays come as pyarrow's
    except ImportError:
        return None
    # It logs a warning for a column without a value (typed as text); that is no news to the user.
    logging.getLogger("fastexcel.types.dtype").setLevel(logging.ERROR)
    order = sorted(fields, key=fields.get)  # type: ignore[arg-type]
    try:
        loaded = fastexcel.read_excel(str(path)).load_sheet(
            sheet, header_row=header, use_columns=[fields[f] for f in order], schema_sample_rows=None,
            dtype_coercion="strict")
        chosen = loaded.selected_columns
        if [c.name for c in chosen] != [titles[f] for f in order] or not loaded.height:
            return None
        start = fields[order[0]] - chosen[0].index  # the grid's first column from A
        if beyond is not None and beyond - start < loaded.width:
            return None
        if any(c.dtype not in _TAKES[kinds[f]] | {"string", "null"} for f, c in zip(order, chosen)):
            return None
        return _columns(dict(zip(order, loaded.to_arrow().columns)), kinds)
    except Exception:  # noqa: BLE001 - anything at all: the cell reader reads the sheet
        return None
    except BaseException as exc:  # a Rust panic comes as a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        return None


def _columns(columns: dict[str, Any], kinds: dict[str, str]) -> SheetColumns | None:
    """The fields' Arrow arrays as :class:`SheetColumns`; None for a type a field does not take."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Arrow's own allocator would keep what these steps free for itself (a tenth of a gigabyte
    # and more at a full sheet, through the whole run): the C library's, which a run hands back.
    pool = pa.system_memory_pool()
    blank = None
    for arr in columns.values():  # a row blank in every field's column is no record
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            empty = pc.coalesce(pc.equal(arr, "", memory_pool=pool), True, memory_pool=pool)
        else:
            empty = pc.is_null(arr, memory_pool=pool)
        blank = empty if blank is None else pc.and_(blank, empty, memory_pool=pool)
    kept = pc.invert(blank, memory_pool=pool)
    records = np.flatnonzero(kept.to_numpy(zero_copy_only=False))
    values: dict[str, np.ndarray] = {}
    coded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for f, arr in columns.items():
        arr, kind = pc.filter(arr, kept, memory_pool=pool), kinds[f]
        typed = arr.type
        if arr.null_count == len(arr):  # no value in the column (or none kept)
            values[f] = _blank(kind, len(arr))
            if kind in ("text", "currency"):
                coded[f] = np.zeros(len(arr), np.intp), np.array([""], dtype=object)
        elif pa.types.is_string(typed) or pa.types.is_large_string(typed):
            if kind not in ("text", "currency", "bool"):
                return None
            encoded = pc.dictionary_encode(pc.coalesce(arr, "", memory_pool=pool), memory_pool=pool)
            codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
            texts = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
            values[f] = texts[codes]
            if kind != "bool":
                coded[f] = codes, texts
        elif pa.types.is_integer(typed) or pa.types.is_floating(typed):
            numbers = arr.to_numpy(zero_copy_only=False)
            if pa.types.is_integer(typed) and np.nanmax(np.abs(numbers.astype(np.float64))) > _EXACT_INT:
                return None
            numbers = numbers.astype(np.float64)
            values[f] = numbers if kind in NUMBER_KINDS else _objects(numbers, ~np.isnan(numbers))
        elif pa.types.is_boolean(typed) and kind == "bool":
            values[f] = _objects(pc.coalesce(arr, False, memory_pool=pool).to_numpy(zero_copy_only=False),
                                 pc.is_valid(arr, memory_pool=pool).to_numpy(zero_copy_only=False))
        elif (pa.types.is_timestamp(typed) or pa.types.is_date(typed)) and kind == "date":
            values[f] = pc.cast(arr, pa.timestamp("ms"), memory_pool=pool).to_numpy(zero_copy_only=False)
        else:
            return None
    return SheetColumns(records, values, coded)


def _blank(kind: str, n: int) -> np.ndarray:
    """A column without a value, as its kind is read."""
    if kind == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ms]")
    if kind in NUMBER_KINDS:
        return np.full(n, np.nan)
    return np.full(n, "", dtype=object)


def _objects(cells: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Cells as the cell reader gives them: Python values, "" where blank."""
    out = np.full(len(cells), "", dtype=object)
    out[valid] = cells[valid]
    return out
