"""The owned-sheet renderer gives exactly the bytes of the cell-by-cell renderer it replaced.

The reference below is the renderer as it was (one ``_cell_xml`` per cell, every cell rendered
anew), kept verbatim so that the faster one, which renders each distinct cell body once per
sheet, is compared with it on random rows of every kind of value a report holds.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.book.render import render_sheet, render_sheet_pieces
from xl_ar.book.render import _HEAD, _INF, CellValue  # noqa: F401
from xl_ar.book.sheetxml import _LEAP_BUG_END, _SERIAL_ZERO as _EPOCH
from xl_ar.book.sheetxml import _is_missing, _num, _range_ref, _t_element, col_letter, escape_attr, excel_serials


# --------------------------------------------------------------------------- the reference (as it was)

def _cell_xml(ref: str, value: Any, style: int | None, date_style: int) -> str:
    """One ``<c>`` of an owned sheet; "" for a blank cell without a style."""
    if isinstance(value, np.generic):
        value = value.item()
    s = f' s="{style}"' if style else ""
    if _is_missing(value):
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float, Decimal)):
        if isinstance(value, Decimal):
            text = format(value, "f")
        elif isinstance(value, float):
            if value != value or value in (_INF, -_INF):
                if value != value:
                    return f'<c r="{ref}"{s}/>' if style else ""
                raise ValueError("an infinite number cannot be written to Excel")
            text = _num(value + 0.0)  # one cell: no numpy round trip (-0.0 + 0.0 is 0.0)
        else:
            text = str(value)
        return f'<c r="{ref}"{s}><v>{text}</v></c>'
    if isinstance(value, (date, datetime, np.datetime64)):
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise ValueError(f"{ref}: a time zone-aware datetime cannot be written to Excel")
        if type(value) is date and value >= _LEAP_BUG_END:  # the common case, without numpy
            serial = float((value - _EPOCH).days)
        else:
            serial = excel_serials(np.array([value], dtype="datetime64[us]"))[0]
        if serial != serial:
            return f'<c r="{ref}"{s}/>' if style else ""
        eff = style or date_style
        st = f' s="{eff}"' if eff else ""
        return f'<c r="{ref}"{st}><v>{_num(serial)}</v></c>'
    if isinstance(value, str):
        if value == "":
            return f'<c r="{ref}"{s}/>' if style else ""
        return f'<c r="{ref}"{s} t="inlineStr">{_t_element(value, "")}</c>'
    raise TypeError(f"{ref}: cannot write a {type(value).__name__} to a cell")


def reference_render_sheet(
    rows: Sequence[Sequence[CellValue]],
    *,
    col_styles: Mapping[int, int] | None = None,
    col_widths: Mapping[int, float] | None = None,
    date_style: int = 0,
    freeze_header: bool = True,
    merged: Sequence[str] = (),
    autofilter: str | None = None,
) -> bytes:
    """Render a complete worksheet for a sheet the tool owns (a report such as "Aging").

    Args:
        rows: rows of cells from A1 down; a cell is a plain value (None, str, int, float,
            Decimal, bool, date, datetime, numpy scalar) or ``(value, style_index)``.
        col_styles: default style per 1-based column for cells given without a style.
        col_widths: width per 1-based column, in characters.
        date_style: style for date cells that have no style of their own.
        freeze_header: freeze the first row.
        merged: merged ranges, e.g. ``["A1:D1"]``.
        autofilter: an autofilter range, e.g. ``"A1:F40"``.

    Returns:
        The worksheet XML (strings inline, no shared strings needed).
    """
    col_styles = col_styles or {}
    letters: list[str] = []
    parts: list[str] = []
    max_c = 0
    for r, row in enumerate(rows, start=1):
        if len(row) > len(letters):
            letters += [col_letter(i) for i in range(len(letters) + 1, len(row) + 1)]
        cells = []
        for c, cell in enumerate(row, start=1):
            value, style = cell if isinstance(cell, tuple) else (cell, None)
            if style is None:
                style = col_styles.get(c)
            x = _cell_xml(f"{letters[c - 1]}{r}", value, style, date_style)
            if x:
                cells.append(x)
                max_c = max(max_c, c)
        if cells:
            parts.append(f'<row r="{r}">{"".join(cells)}</row>')
    n_rows = len(rows)
    dim = _range_ref(1, 1, max(n_rows, 1), max(max_c, 1))
    view = '<sheetView workbookViewId="0">'
    if freeze_header:
        view += (
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        )
    view += "</sheetView>"
    out = [f'<dimension ref="{dim}"/><sheetViews>{view}</sheetViews><sheetFormatPr defaultRowHeight="15"/>']
    if col_widths:
        out.append("<cols>")
        for c in sorted(col_widths):
            col_letter(c)
            out.append(f'<col min="{c}" max="{c}" width="{_num(col_widths[c])}" customWidth="1"/>')
        out.append("</cols>")
    out.append("<sheetData>" + "".join(parts) + "</sheetData>" if parts else "<sheetData/>")
    if autofilter:
        out.append(f'<autoFilter ref="{escape_attr(autofilter)}"/>')
    if merged:
        out.append(f'<mergeCells count="{len(merged)}">')
        out += [f'<mergeCell ref="{escape_attr(m)}"/>' for m in merged]
        out.append("</mergeCells>")
    out.append('<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>')
    return _HEAD + "".join(out).encode("utf-8") + b"</worksheet>"


# --------------------------------------------------------------------------- random rows

TEXT = st.text(alphabet=st.sampled_from(list('ab <>&"\'_x0041_ \t\n\r\x00\x01\x1f客户华为账龄\ufffe')), max_size=12)
VALUE = st.one_of(
    st.none(),
    TEXT,
    st.sampled_from(["Owner A", "逾期", "", " lead", "trail ", "_x0041_", "a&b<c>"]),  # repeated labels
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e300, -1e-300, 5e-324, 2.0**53, 0.1 + 0.2, 1234.5, float("nan")]),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(lambda d: d.is_finite()),
    st.sampled_from([Decimal("1.0"), Decimal("1.00"), Decimal("-0"), Decimal("1E+3")]),
    st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31)),
    st.sampled_from([date(1900, 2, 28), date(1900, 3, 1), date(1900, 1, 1)]),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from([np.int64(7), np.float64(2.5), np.float64("nan"), np.bool_(True), np.float32(0.1),
                     np.datetime64("2024-02-29"), np.datetime64("NaT"), np.str_("np text")]),
)
STYLE = st.one_of(st.none(), st.integers(0, 5))
CELL = st.one_of(VALUE, st.tuples(VALUE, STYLE))
ROWS = st.lists(st.lists(CELL, max_size=6), max_size=8)
OPTIONS = st.fixed_dictionaries({
    "col_styles": st.one_of(st.none(), st.dictionaries(st.integers(1, 6), st.integers(0, 5), max_size=3)),
    "col_widths": st.one_of(st.none(), st.dictionaries(st.integers(1, 6), st.sampled_from([8, 12.5, 30]), max_size=3)),
    "date_style": st.integers(0, 4),
    "freeze_header": st.booleans(),
    "merged": st.sampled_from([(), ("A1:B1",), ("A1:B1", "C2:D3")]),
    "autofilter": st.sampled_from([None, "A1:F9"]),
})


def _outcome(render, rows, options):
    try:
        return render(rows, **options)
    except (ValueError, TypeError) as e:
        return type(e), str(e)


@settings(max_examples=400, deadline=None)
@given(ROWS, OPTIONS)
def test_render_sheet_gives_the_reference_bytes(rows, options):
    assert _outcome(render_sheet, rows, options) == _outcome(reference_render_sheet, rows, options)


@settings(max_examples=300, deadline=None)
@given(ROWS, OPTIONS, st.integers(1, 5))
def test_a_sheet_rendered_by_blocks_of_rows_is_the_sheet_rendered_whole(rows, options, block_rows):
    """The rows rendered a few at a time (a large report is never one string) join to the
    reference's bytes: row numbers, the distinct cells rendered once and the last column carry
    from one block to the next."""
    pieced = lambda r, **o: b"".join(render_sheet_pieces(r, block_rows=block_rows, **o))  # noqa: E731
    assert _outcome(pieced, rows, options) == _outcome(reference_render_sheet, rows, options)


@settings(max_examples=200, deadline=None)
@given(ROWS, st.data())
def test_style_names_give_the_bytes_of_style_indexes(rows, data):
    """What owned_parts hands over (style names and an index) is what it rendered before (indexes)."""
    index = {None: 0, "money": 3, "title": 1, "date": 4}
    named = [[(v, data.draw(st.sampled_from(list(index)))) if isinstance(c, tuple) else c
              for c in row for v in [c[0] if isinstance(c, tuple) else c]] for row in rows]
    as_indexes = [[(c[0], index[c[1]]) if isinstance(c, tuple) else c for c in row] for row in named]
    assert (_outcome(lambda r, **o: render_sheet(r, style_index=index, **o), named, {"date_style": 4})
            == _outcome(reference_render_sheet, as_indexes, {"date_style": 4}))


@pytest.mark.parametrize("bad, error", [
    (float("inf"), ValueError), (-_INF, ValueError), (np.float64("-inf"), ValueError),
    (datetime(2024, 1, 1, tzinfo=dt.timezone.utc), ValueError), (date(1899, 12, 31), ValueError),
    (object(), TypeError), ([1], TypeError), (Decimal("NaN"), None),
])
def test_bad_values_raise_what_they_raised(bad, error):
    """Each error names the cell; the second sighting of a value is not served from a cache."""
    rows = [["head"], ["x", bad], [("y", 2), (bad, 3)]]
    got, want = _outcome(render_sheet, rows, {}), _outcome(reference_render_sheet, rows, {})
    assert got == want
    if error is not None:
        assert got[0] is error


def test_an_aware_datetime_after_the_same_naive_one_still_raises():
    naive, aware = datetime(2024, 5, 1, 9), datetime(2024, 5, 1, 9, tzinfo=dt.timezone.utc)
    rows = [[naive, naive], [aware]]
    assert _outcome(render_sheet, rows, {}) == (ValueError, "A2: a time zone-aware datetime cannot be written to Excel")
