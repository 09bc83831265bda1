"""The block-by-block splice of a large part: the same XML as the whole-sheet splice, byte for byte.

Blocks here are tiny (a few dozen bytes of XML read at a time), so that a small sheet is cut
into many blocks and every border between them is crossed: rows above the header, user cells
between and right of the computed columns, missing target rows, self-closing rows, the XML
before and after ``<sheetData>``.
"""

from __future__ import annotations

import itertools
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from python_calamine import CalamineWorkbook
from hypothesis import strategies as st

from xl_ar.book import splice as splice_module
from xl_ar.book import splice_stream
from xl_ar.book.package import WorkbookPackage
from xl_ar.book.sheetxml import BookError, OutColumn, col_letter
from xl_ar.book.tables import widen_autofilter
from xl_ar.book.splice import _BlockSplicer, _locate, _Patterns, _Request, _splice, _Splice, splice_sheet
from xl_ar.book.splice_stream import Unstreamable, _compared, _head, row_blocks, edit_tail
from xl_ar.book.zipio import iter_member, read_directory, read_member

from test_sheetxml import sheet as any_sheet  # noqa: E402

NUM = OutColumn(3, "Days", header_style=7, style=2, kind="number", width=10)
TEXT = OutColumn(5, "Stage", header_style=7, style=0, kind="text")
DATE = OutColumn(6, "Next", header_style=7, style=3, kind="date", width=12)
COLS = [NUM, TEXT, DATE]


def sheet(data: str, *, prologue: str = '<dimension ref="A1:D9"/>', epilogue: str = "", prefix: str = "") -> bytes:
    """A worksheet whose sheetData content is ``data``, with what goes before and after it."""
    return any_sheet(data, prologue=prologue, epilogue=epilogue, prefix=prefix)


def values(rows: list[int], cols: list[OutColumn] = COLS) -> list:
    """Values for ``cols`` on ``rows`` by kind: some blank, a text needing escapes."""
    by_kind = {
        "number": np.array([np.nan if r % 5 == 0 else r * 1.5 for r in rows]),
        "text": [None if r % 4 == 0 else ["a & <b>", "华", "", "x"][r % 4] for r in rows],
        "date": np.array([f"2024-01-{1 + r % 28:02d}" if r % 3 else "NaT" for r in rows], dtype="datetime64[D]"),
    }
    return [by_kind[c.kind] for c in cols]


def streamed(xml: bytes, header: int, cols: list[OutColumn], rows: list[int], vals: list,
             piece: int = 7, tail=None) -> tuple[bytes, bool] | None:
    """The block-by-block splice of ``xml`` read ``piece`` bytes at a time, and whether it is
    the same XML; None when it declines (the whole-sheet splice runs then)."""
    req = _Request.checked(header, cols, rows, vals)
    pieces = iter([xml[i: i + piece] for i in range(0, len(xml), piece)])
    try:
        head = _head(pieces)
        splicer = _BlockSplicer(head, req)
        same = [True]
        out = b"".join(_compared(row_blocks(itertools.chain([head], pieces), splicer.row_close), splicer, same, tail))
    except Unstreamable:
        return None
    return out, same[0]


def whole(xml: bytes, header: int, cols: list[OutColumn], rows: list[int], vals: list) -> bytes:
    return b"".join(_splice(xml, header, cols, rows, vals, allow_fast=True))


def fast_declines(xml: bytes, header: int, cols: list[OutColumn], rows: list[int], vals: list) -> bool:
    """Whether the whole-sheet splice takes its general path for ``xml``."""
    req = _Request.checked(header, cols, rows, vals)
    sh = _locate(xml)
    job = _Splice(sh, _Patterns(sh.p, [c.index for c in req.cols]), req.cols, header, [header] + req.rows,
                  req.rendered(sh.p))
    return job.fast(b"") is None


def assert_same_as_whole(xml: bytes, header: int, cols: list[OutColumn], rows: list[int], *, piece: int = 7) -> bytes:
    vals = values(rows)
    expected = whole(xml, header, cols, rows, vals)
    got = streamed(xml, header, cols, rows, vals, piece)
    assert got is not None, "declined"
    assert got == (expected, expected == xml)
    return expected


def row(r: int, *cols: int, extra: str = "") -> str:
    return f'<row r="{r}"{extra}>' + "".join(f'<c r="{col_letter(c)}{r}"><v>{r * 100 + c}</v></c>' for c in cols) + "</row>"


LEDGER = "".join(row(r, 1, 2, 4) for r in range(1, 40))


# ------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("piece", [1, 7, 40, 1000, 1 << 20])
def test_a_plain_ledger_in_any_size_of_block(piece):
    assert_same_as_whole(sheet(LEDGER), 1, COLS, list(range(2, 40)), piece=piece)


def test_a_second_splice_over_our_own_cells_is_the_same_and_known_unchanged():
    rows = list(range(2, 40))
    once = assert_same_as_whole(sheet(LEDGER), 1, COLS, rows)
    again = streamed(once, 1, COLS, rows, values(rows))
    assert again == (once, True)
    other = streamed(once, 1, COLS, rows[:-3], values(rows[:-3]))  # fewer rows: old cells cleared
    assert other == (whole(once, 1, COLS, rows[:-3], values(rows[:-3])), False)


def test_rows_above_the_header_stay_as_they_are():
    data = row(1, 1, 2) + row(2, 1, 4, 7) + "".join(row(r, 1, 2) for r in range(3, 30))
    assert_same_as_whole(sheet(data), 3, COLS, list(range(4, 30)))


def test_our_columns_used_above_the_header_decline_like_the_whole_sheet_fast_path():
    data = row(1, 1, 3) + "".join(row(r, 1, 2) for r in range(2, 30))
    xml = sheet(data)
    assert fast_declines(xml, 2, COLS, list(range(3, 30)), values(list(range(3, 30))))
    assert streamed(xml, 2, COLS, list(range(3, 30)), values(list(range(3, 30)))) is None


def test_user_cells_right_of_and_between_our_columns():
    data = "".join(row(r, 1, 2, *([4] if r % 2 else []), *([7, 9] if r % 3 else [])) for r in range(1, 40))
    assert_same_as_whole(sheet(data), 1, COLS, list(range(2, 40)))


def test_missing_target_rows_in_the_middle_and_after_the_last_row():
    data = "".join(row(r, 1, 2) for r in [1, 2, 3, 7, 8, 15, 20])
    assert_same_as_whole(sheet(data), 1, COLS, [2, 4, 5, 6, 8, 9, 16, 21, 22, 40, 1000])
    assert_same_as_whole(sheet(row(1, 1)), 1, COLS, [2, 3, 9])
    assert_same_as_whole(sheet(""), 2, COLS, [3, 4])


def test_self_closing_rows_and_spans_are_opened_and_widened():
    data = "".join(row(r, 1, 2, extra=' spans="1:2"') if r % 3 else f'<row r="{r}" spans="1:2"/>' for r in range(1, 40))
    assert_same_as_whole(sheet(data), 1, COLS, [r for r in range(2, 40) if r % 7])


def test_many_different_spans_take_the_same_path_as_the_whole_sheet():
    data = "".join(row(r, 1, extra=f' spans="{1 + r % 3}:{2 + r % 4}"') for r in range(1, 60))  # 12 to widen
    assert_same_as_whole(sheet(data), 1, COLS, list(range(2, 60)))


def test_what_comes_before_and_after_the_rows():
    prologue = ('<sheetPr><tabColor rgb="FF00FF00"/></sheetPr><dimension ref="A1:B9"/><sheetViews><sheetView '
                'workbookViewId="0"/></sheetViews><cols><col min="1" max="2" width="20" customWidth="1"/></cols>')
    epilogue = ('<autoFilter ref="A1:B9"/><mergeCells count="1"><mergeCell ref="A40:B40"/></mergeCells>'
                '<rowBreaks count="1" manualBreakCount="1"><brk id="5" max="16383" man="1"/></rowBreaks>')
    xml = sheet("".join(row(r, 1, 2) for r in range(1, 10)), prologue=prologue, epilogue=epilogue)
    out = assert_same_as_whole(xml, 1, COLS, list(range(2, 12)))
    assert b'<dimension ref="A1:F11"/>' in out and epilogue.encode() in out


def test_a_prefixed_namespace_and_pretty_printed_rows():
    data = "".join(f'\n  <x:row r="{r}">\n    <x:c r="A{r}"><x:v>{r}</x:v></x:c>\n    <x:c r="G{r}"><x:v>1</x:v></x:c>\n  </x:row>'
                   for r in range(1, 30)) + "\n"
    assert_same_as_whole(sheet(data, prefix="x"), 1, COLS, list(range(2, 32)))


def test_rows_out_of_order_across_blocks_decline():
    data = row(1, 1) + row(5, 1) + row(3, 1) + row(8, 1)
    xml = sheet(data)
    assert fast_declines(xml, 1, COLS, [2, 3], values([2, 3]))
    assert streamed(xml, 1, COLS, [2, 3], values([2, 3]), piece=3) is None


@pytest.mark.parametrize("data", [
    row(1, 1) + "<!-- a note -->" + row(2, 1),  # comments: refused by the whole-sheet splice
    row(1, 1) + '<row spans="1:1" r="2"><c r="A2"><v>1</v></c></row>',  # r not first: the general path
    row(1, 1) + '<row r="2"><c r="A2"><v>1</v></c><extLst/></row>',
])
def test_shapes_for_the_general_path_decline(data):
    assert streamed(sheet(data), 1, COLS, [2], values([2])) is None


@pytest.mark.parametrize("piece", [5, 50, 200, 1 << 20])
def test_spans_written_in_a_text_are_widened_as_by_the_whole_sheet(piece):
    """Many spans values take the whole sheet's widening through a regex, a few through a plain
    replace: the two differ on a text holding ' spans=" spans="1:2"', so a block that has it declines."""
    data = "".join(row(r, 1, extra=f' spans="{1 + r % 3}:{2 + r % 4}"') for r in range(1, 40) if r != 25)
    data = data.replace('<row r="26"', '<row r="25" spans="1:2"><c r="A25" t="inlineStr"><is><t>q spans=" spans="1:2"'
                        '</t></is></c></row><row r="26"')
    xml = sheet(data)
    got = streamed(xml, 1, COLS, list(range(2, 40)), values(list(range(2, 40))), piece)
    assert got is None or got[0] == whole(xml, 1, COLS, list(range(2, 40)), values(list(range(2, 40))))


@pytest.mark.parametrize("piece", range(1, 60, 3))
def test_one_of_our_cells_left_open_declines_wherever_the_block_ends(piece):
    xml = sheet(row(1, 1) + '<row r="2"><c r="C2"><v>1</v></row>' + row(3, 1, 3))
    with pytest.raises(BookError, match="not closed"):
        whole(xml, 1, COLS, [2, 3], values([2, 3]))
    assert streamed(xml, 1, COLS, [2, 3], values([2, 3]), piece) is None


def test_text_the_whole_sheet_fast_path_would_rewrite_before_sheet_data_declines():
    xml = sheet(LEDGER, prologue='<dimension ref="A1:D9"/><x spans="1:2"/>')
    assert streamed(xml, 1, COLS, [2, 3], values([2, 3])) is None


# ------------------------------------------------------------------------------- properties


@st.composite
def generated_sheets(draw):
    """Sheets with cells anywhere in A..H (so in, between and right of C, E, F), some rows
    self-closing or with spans, some of our cells already there, whitespace between rows."""
    rows = [r for r, there in enumerate(draw(st.lists(st.booleans(), min_size=30, max_size=30)), start=1) if there]
    ws = draw(st.sampled_from(["", "\n", "\n  "]))
    spans = draw(st.sampled_from(["", ' spans="1:2"', "varied"]))
    parts = []
    for r in rows:
        sp = f' spans="{1 + r % 3}:{2 + r % 4}"' if spans == "varied" else spans  # more than 8 to widen
        cols = sorted(draw(st.sets(st.integers(1, 8), max_size=6)))
        if not cols and draw(st.booleans()):
            parts.append(f'{ws}<row r="{r}"{sp}/>')
            continue
        cells = "".join(f'<c r="{col_letter(c)}{r}" t="inlineStr"><is><t>v{c}</t></is></c>' if c == 5 else
                        f'<c r="{col_letter(c)}{r}"><v>{r}.{c}</v></c>' for c in cols)
        parts.append(f'{ws}<row r="{r}"{sp}>{cells}</row>')
    header = draw(st.integers(1, 4))
    targets = [r for r, there in enumerate(draw(st.lists(st.booleans(), min_size=34, max_size=34)), start=1)
               if there and r > header]
    cols = draw(st.sampled_from([COLS, [NUM, TEXT], [TEXT], [NUM, DATE]]))
    epilogue = draw(st.sampled_from(["", '<autoFilter ref="A1:D9"/>', '<mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>']))
    return sheet("".join(parts) + ws, epilogue=epilogue), header, targets, cols, draw(st.integers(1, 60))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_sheets())
def test_the_block_splice_is_the_whole_sheet_splice(case):
    xml, header, targets, cols, piece = case
    vals = values(targets, cols)
    expected = whole(xml, header, cols, targets, vals)
    got = streamed(xml, header, cols, targets, vals, piece)
    if fast_declines(xml, header, cols, targets, vals):
        assert got is None
    else:
        assert got == (expected, expected == xml)
        again = streamed(expected, header, cols, targets, vals, piece)  # a second refresh
        assert again == (whole(expected, header, cols, targets, vals), True)


# ------------------------------------------------------------------------------- through the package


@pytest.fixture
def small_blocks(monkeypatch):
    """Every part streamed, read 50 bytes at a time; the parts that were, listed."""
    monkeypatch.setattr(splice_stream, "STREAM_FROM", 0)
    monkeypatch.setattr(splice_stream, "BLOCK_BYTES", 50)
    seen: list[bool] = []
    real = splice_module.splice_by_blocks

    def spy(pkg, part, start, tail=None, progress=None):
        new = real(pkg, part, start, tail, progress=progress)
        seen.append(new is not None)
        return new
    monkeypatch.setattr(splice_module, "splice_by_blocks", spy)
    return seen


def book_with_sheet(tmp_path: Path, xml: bytes, *, stored: bool = False) -> Path:
    """A workbook whose first sheet, Invoices, is ``xml``."""
    wb = openpyxl.Workbook()
    wb.active.title = "Invoices"
    base = tmp_path / "base.xlsx"
    wb.save(base)
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(base) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = xml if info.filename == "xl/worksheets/sheet1.xml" else zin.read(info)
            zout.writestr(info.filename, data, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return path


@pytest.mark.parametrize("stored", [False, True])
def test_splice_sheet_streams_a_part_and_knows_whether_it_changed(tmp_path, small_blocks, stored):
    xml = sheet(LEDGER)
    rows = list(range(2, 40))
    path = book_with_sheet(tmp_path, xml, stored=stored)
    pkg = WorkbookPackage.open(path)
    part = splice_sheet(pkg, "Invoices", header_row=1, columns=COLS, rows=rows, values=values(rows))
    new = pkg._changes[part]
    assert small_blocks == [True] and new.same is False
    assert new.inflate() == whole(xml, 1, COLS, rows, values(rows))
    assert new.crc == zlib.crc32(new.inflate()) and new.size == len(new.inflate())
    out = tmp_path / "out.xlsx"
    pkg.save(out)
    pkg = WorkbookPackage.open(out)
    splice_sheet(pkg, "Invoices", header_row=1, columns=COLS, rows=rows, values=values(rows))
    assert small_blocks == [True, True] and pkg._changes[part].same is True and not pkg.differs(part)


def test_a_part_already_changed_is_spliced_whole(tmp_path, small_blocks):
    rows = [2, 3]
    pkg = WorkbookPackage.open(book_with_sheet(tmp_path, sheet(LEDGER)))
    splice_sheet(pkg, "Invoices", header_row=1, columns=[NUM], rows=rows, values=[[1.0, 2.0]])
    part = splice_sheet(pkg, "Invoices", header_row=1, columns=COLS, rows=rows, values=values(rows))
    assert small_blocks == [True, False]
    once = whole(sheet(LEDGER), 1, [NUM], rows, [[1.0, 2.0]])
    assert pkg._changes[part].inflate() == whole(once, 1, COLS, rows, values(rows))


def test_a_sheet_the_blocks_decline_is_spliced_whole_from_the_start(tmp_path, small_blocks):
    data = LEDGER + '<row r="40"><c r="A40"><v>1</v></c><extLst/></row>'  # the general path, in the last block
    xml = sheet(data)
    pkg = WorkbookPackage.open(book_with_sheet(tmp_path, xml))
    part = splice_sheet(pkg, "Invoices", header_row=1, columns=COLS, rows=[2, 41], values=values([2, 41]))
    assert small_blocks == [False]
    assert pkg._changes[part].inflate() == whole(xml, 1, COLS, [2, 41], values([2, 41]))


def _widen_to(last_col: int, last_row: int):
    """The refresh's tail edit: a sheet autofilter on row 1 widened over our columns."""
    return lambda tail: (widen_autofilter(tail, 1, 1, last_col, last_row) or (tail,))[0]


@pytest.mark.parametrize("prefix", ["", "x"])
def test_edit_tail_edits_only_what_follows_the_rows(prefix):
    p = prefix + ":" if prefix else ""
    xml = sheet(LEDGER, epilogue=f'<{p}autoFilter ref="A1:D9"/>', prefix=prefix)
    edited = edit_tail(xml, _widen_to(6, 39))
    at = xml.index(f"</{p}sheetData>".encode())
    assert edited[:at] == xml[:at] and f'<{p}autoFilter ref="A1:F39"/>'.encode() in edited[at:]
    assert edit_tail(xml, None) is xml and edit_tail(xml, lambda t: t) is xml  # nothing to edit: no copy
    assert edit_tail(sheet("")[:-40], _widen_to(6, 39)) == sheet("")[:-40]  # no </sheetData>: as it is


@pytest.mark.parametrize("piece", [1, 9, 64, 10_000])
def test_a_sheet_autofilter_is_widened_in_the_same_pass_as_the_splice(piece):
    xml = sheet(LEDGER, epilogue='<autoFilter ref="A1:D9"/><mergeCells count="1"><mergeCell ref="A40:B40"/></mergeCells>')
    rows = list(range(2, 40))
    widen = _widen_to(6, 39)
    got = streamed(xml, 1, COLS, rows, values(rows), piece, tail=widen)
    expected = whole(edit_tail(xml, widen), 1, COLS, rows, values(rows))
    assert got == (expected, False) and b'<autoFilter ref="A1:F39"/>' in expected
    assert streamed(expected, 1, COLS, rows, values(rows), piece, tail=widen) == (expected, True)  # widened already


@pytest.mark.parametrize("streaming", [True, False])
def test_splice_sheet_widens_the_filter_streamed_or_whole(tmp_path, monkeypatch, streaming):
    if streaming:
        monkeypatch.setattr(splice_stream, "STREAM_FROM", 0)
        monkeypatch.setattr(splice_stream, "BLOCK_BYTES", 50)
    xml = sheet(LEDGER, epilogue='<autoFilter ref="A1:D9"/>')
    rows = list(range(2, 40))
    pkg = WorkbookPackage.open(book_with_sheet(tmp_path, xml))
    part = splice_sheet(pkg, "Invoices", header_row=1, columns=COLS, rows=rows, values=values(rows),
                        tail=_widen_to(6, 39))
    assert pkg._changes[part].inflate() == whole(edit_tail(xml, _widen_to(6, 39)), 1, COLS, rows, values(rows))


def test_a_comment_inside_the_rows_is_refused_as_by_the_whole_sheet_splice(tmp_path, small_blocks):
    pkg = WorkbookPackage.open(book_with_sheet(tmp_path, sheet(LEDGER + "<!-- x -->")))
    with pytest.raises(BookError, match="comments or CDATA"):
        splice_sheet(pkg, "Invoices", header_row=1, columns=COLS, rows=[2], values=values([2]))


# ------------------------------------------------------------------------------- the streaming reader


def _member(path: Path, name: str = "xl/worksheets/sheet1.xml"):
    return read_directory(path).members[name]


@pytest.mark.parametrize("stored", [False, True])
@pytest.mark.parametrize("size", [1, 100, 1 << 20])
def test_iter_member_gives_the_content_in_pieces_of_at_most_size(tmp_path, stored, size):
    path = book_with_sheet(tmp_path, sheet(LEDGER * 20), stored=stored)
    m = _member(path)
    pieces = list(iter_member(path, m, "sheet1", size))
    assert b"".join(pieces) == read_member(path, m, "sheet1")
    assert all(0 < len(p) <= size for p in pieces)


def _patched(path: Path, *, crc: int | None = None, size: int | None = None, cut: int = 0) -> Path:
    """``path`` with the sheet's declared CRC or size changed (local header and directory), or
    the end of its compressed data zeroed."""
    m = _member(path)
    data = bytearray(path.read_bytes())
    local = m.info.header_offset
    central = next(i for i in range(len(data) - 46, 0, -1)
                   if data[i: i + 4] == b"PK\x01\x02" and struct.unpack("<L", data[i + 42: i + 46])[0] == local)
    for field, value, at_local, at_central in (("crc", crc, 14, 16), ("size", size, 22, 24)):
        if value is not None:
            data[local + at_local: local + at_local + 4] = struct.pack("<L", value)
            data[central + at_central: central + at_central + 4] = struct.pack("<L", value)
    if cut:
        end = m.data_offset + m.info.compress_size
        data[end - cut: end] = b"\0" * cut
    out = path.with_name("patched.xlsx")
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("change, message", [
    (dict(crc=12345), "size or CRC"),
    (dict(size=100), "size or CRC"),  # declared smaller: never more than declared + 1 inflated
    (dict(size=10 ** 6), "truncated|size or CRC"),
    (dict(cut=20), "corrupt|truncated"),
])
def test_iter_member_checks_size_and_crc_at_the_end(tmp_path, change, message):
    path = _patched(book_with_sheet(tmp_path, sheet(LEDGER * 20)), **change)
    m = _member(path)
    with pytest.raises(BookError, match=message):
        read_member(path, m, "sheet1")
    got = 0
    with pytest.raises(BookError, match=message):
        for piece in iter_member(path, m, "sheet1", 64):
            got += len(piece)
    assert got <= m.info.file_size + 1


@pytest.mark.parametrize("cores", ["1", "2"])
def test_a_spilled_sheet_is_saved_whole_and_read_back(tmp_path, small_blocks, monkeypatch, cores):
    """The compressed sheet waits for the save in a file without a name (deflated here on one
    core, on a helper thread with two); the saved workbook holds it whole (its CRC checked by
    zipfile, its cells read by calamine)."""
    from xl_ar.book import deflate

    monkeypatch.setenv("XL_AR_WORKERS", cores)
    monkeypatch.setattr(deflate, "SMALL", 256)
    monkeypatch.setattr(deflate, "CHUNK", 300)
    xml = sheet(LEDGER)
    rows = list(range(2, 40))
    pkg = WorkbookPackage.open(book_with_sheet(tmp_path, xml))
    part = splice_sheet(pkg, "Invoices", header_row=1, columns=COLS, rows=rows, values=values(rows))
    assert small_blocks == [True] and isinstance(pkg._changes[part].data, deflate.Spill)
    out = tmp_path / "out.xlsx"
    pkg.save(out)
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        assert z.read(part) == whole(xml, 1, COLS, rows, values(rows))
    cells = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Invoices").to_python()
    assert cells[0][4] == "Stage"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_sheets(), st.sampled_from([b"", b"x:"]))
def test_our_old_cells_removed_by_runs_are_those_removed_one_by_one(case, prefix):
    xml, _, _, cols, _ = case
    if prefix:
        xml = xml.replace(b"<c ", b"<x:c ").replace(b"</c>", b"</x:c>")
    pat = _Patterns(prefix, [c.index for c in cols])
    assert pat.mine_runs.sub(b"", xml) == pat.mine.sub(b"", xml)
