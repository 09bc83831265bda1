"""A statement as an .xlsx workbook the customer fills in and returns.

The workbook holds the statement sheet (see ``xl_ar.documents.statements``) with a confirmation
block whose answer cells are named and offer a Yes/No list, and a very hidden marker sheet
(statement id, every line's key and a checksum over them) by which a returned file is
recognised (``xl_ar.documents.confirmations``). The marker's texts and the hidden line keys are
written by ``statements.marker_encode`` (ASCII letters, digits, ``-.:|`` and ``%XX``): they come
back as written whichever application re-saved the file and however it handles the escaping
below.

Written by hand, part by part, because it is always this one layout and a reminders run attaches
one workbook to each of thousands of e-mails. Per workbook (``time.perf_counter`` over a few
hundred calls), a 5-line and a 150-line statement: openpyxl's object model ~60 ms; XlsxWriter
3.3 ms and 19 ms (~10 µs a cell, plus its packaging: a quarter of a reminders run); this module
0.4 ms and 2.5 ms. The parts that never change (styles holding the layout's cell formats,
content types, relationships, app properties) are built and deflated once in
``statement_parts``; per statement only the two sheets, the shared strings, ``workbook.xml``
(sheet name, defined names) and ``core.xml`` are written, and zipped by
``xl_ar.book.zipio.zip_bytes`` at deflate level 1 (by zlib, as every part under a megabyte is,
so the same statement is the same bytes: 0.43 ms for the five parts of 150 lines, where level 6
takes 1.2 ms to save a sixth of 22 KB).

The text comes from the user's ledger and stays inert: every text cell is a shared string
(``t="s"``, never a formula, even ``=HYPERLINK(...)``), escaped as Excel escapes it
(``escape_text``: ``&<>`` as entities, a control character as ``_x0001_``, a literal ``_x0041_``
as ``_x005F_x0041_``), with ``xml:space="preserve"`` when it begins or ends with a space; a
character beyond U+FFFF (an emoji, CJK Extension B) is legal XML and stays as it is, in UTF-8.
Shared rather than inline strings: Excel writes them. The same statement gives the same bytes
whenever it is made (created on the period's last day, fixed zip dates).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from xl_ar.book.sheetxml import _num, escape_attr, escape_text, excel_serial
from xl_ar.book.zipio import zip_bytes
from xl_ar.core.aging import AgingEdges
from xl_ar.core.money import to_major
from xl_ar.documents import statement_parts as parts
from xl_ar.documents.statements import (DISPUTE_COL, KEY_COL, MARKER_SHEET, NAMES, REASON_COL, TEXT, Statement,
                                        StatementSection, closing_in_words, confirm_lines, marker_checksum,
                                        marker_content, marker_encode)

_COL = " ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # column letters by 1-based number: A..K is all the layout uses
_STYLE_ATTR = {name: f' s="{i}"' if i else "" for name, i in parts.STYLE.items()}  # look -> a cell's style attribute


class _Strings(dict):
    """The workbook's shared strings: ``strings[text]`` is the text's index, added when new."""

    def __missing__(self, text: str) -> int:
        i = self[text] = len(self)
        return i

    def xml(self) -> str:
        """``sharedStrings.xml``, each text escaped as Excel stores it."""
        out = [parts.SST_HEAD.format(count=len(self))]
        for text in self:
            keep = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
            out.append(f"<si><t{keep}>{escape_text(text)}</t></si>")
        out.append("</sst>")
        return "".join(out)


def _major(minor: int, exp: int) -> float:
    """An amount as the float its cell holds: ``minor / 10**exp`` is correctly rounded, so it is the
    float nearest the exact amount, as ``float(to_major(minor, exp))`` (exact integers below 2**53)."""
    return minor / 10 ** exp if abs(minor) < 1 << 53 else float(to_major(minor, exp))


class _Sheet:
    """One worksheet, its cells put 1-based like the layout below addresses them, row by row and
    left to right (as the XML holds them: a cell put out of order raises)."""

    def __init__(self, strings: _Strings):
        self.strings = strings
        self.cells: list[str] = []  # the <row> and <c> elements so far
        self.r = self.c = self.last_c = 0  # the last cell put; the rightmost column
        self.heights: dict[int, int] = {}  # row -> height in points: set it before the row's first cell
        self.merged: list[str] = []

    def put(self, r: int, c: int, v: str | float | dt.date | None, look: str = "plain") -> None:
        """Write ``v`` at row ``r``, column ``c`` in the ``look`` of ``statement_parts.LOOKS``
        (None or "" leaves the cell blank: written only when it has a look)."""
        s = _STYLE_ATTR[look]
        if v is None or v == "":
            if not s:
                return
            tail = "/>"
        elif isinstance(v, str):
            tail = f' t="s"><v>{self.strings[v]}</v></c>'  # text, never a formula
        elif isinstance(v, dt.date):
            tail = f"><v>{_num(excel_serial(v))}</v></c>"
        else:
            tail = f"><v>{_num(v)}</v></c>"
        if r != self.r:
            if r < self.r:
                raise ValueError(f"cell {_ref(r, c)} put after row {self.r}")
            ht = self.heights.get(r)
            close = "</row>" if self.r else ""
            self.cells.append(f'{close}<row r="{r}" ht="{ht}" customHeight="1">' if ht else f'{close}<row r="{r}">')
            self.r = r
        elif c <= self.c:
            raise ValueError(f"cell {_ref(r, c)} put after column {_COL[self.c]}")
        self.c = c
        if c > self.last_c:
            self.last_c = c
        self.cells.append(f'<c r="{_COL[c]}{r}"{s}{tail}')

    def merge(self, r: int, c1: int, c2: int, v: str | None, look: str) -> None:
        """Merge columns ``c1``..``c2`` of row ``r`` showing ``v``; each cell gets the look (its borders show)."""
        self.put(r, c1, v, look)
        for c in range(c1 + 1, c2 + 1):
            self.put(r, c, None, look)
        self.merged.append(f"{_COL[c1]}{r}:{_COL[c2]}{r}")

    def xml(self, head: str, view: str, before: str = "", after: str = "") -> bytes:
        """The worksheet: ``head`` (sheetPr), the dimension, ``view`` (sheetView's attributes),
        ``before`` the cells (cols), the cells, merges, ``after`` them (validation, print setup)."""
        rows = "".join(self.cells) + "</row>" if self.cells else ""
        merged = "".join(f'<mergeCell ref="{m}"/>' for m in self.merged)
        return "".join([
            parts.SHEET_HEAD, head, f'<dimension ref="A1:{_COL[max(self.last_c, 1)]}{max(self.r, 1)}"/>',
            f'<sheetViews><sheetView {view}workbookViewId="0"/></sheetViews><sheetFormatPr defaultRowHeight="15"/>',
            before, "<sheetData>", rows, "</sheetData>",
            f'<mergeCells count="{len(self.merged)}">{merged}</mergeCells>' if merged else "",
            after, "</worksheet>"]).encode("utf-8")


def _ref(r: int, c: int) -> str:
    """``C40`` for row 40, column 3."""
    return f"{_COL[c]}{r}"


def _header(sh: _Sheet, statement: Statement, t: dict[str, str], lang: str) -> int:
    """The company, title, customer, period and statement number; returns the next free row."""
    put = sh.put
    put(1, 1, statement.company(lang) or None, "company")
    put(2, 1, t["title"], "title")
    put(3, 1, t["customer"], "bold")
    name, cid = statement.customer_name, statement.customer_id
    put(3, 3, f"{name} ({cid})" if name else cid)
    put(4, 1, t["period"], "bold")
    put(4, 3, f"{statement.period_from:%Y-%m-%d} {t['to']} {statement.period_to:%Y-%m-%d}")
    put(5, 1, t["statement_no"], "bold")
    put(5, 3, statement.statement_id)
    return 7


def _section(sh: _Sheet, statement: Statement, sec: StatementSection, t: dict[str, str], lang: str, r: int,
             answer_cells: list[str]) -> int:
    """One currency: the lines with their answer cells, totals, closing balance and its aging."""
    put, exp = sh.put, sec.exp
    money, money_bold, money_closing = f"amount{exp}", f"amount{exp}_bold", f"amount{exp}_closing"
    kinds = {"invoice": t["invoice"], "credit": t["credit_note"], "receipt": t["receipt"]}
    heads = [t["date"], t["type"], t["doc"], t["desc"], t["due"], t["debit"], t["credit"], t["balance"],
             t["disputed"], t["reason"], "key"]
    put(r, 1, f"{t['currency']}: {sec.currency}", "heading")
    r += 1
    sh.heights[r] = 30  # two lines: "Disputed? 有异议" wraps
    for c, h in enumerate(heads, start=1):
        put(r, c, h, "column_head")
    r += 1
    day_before = statement.period_from - dt.timedelta(days=1)
    put(r, 4, t["opening"].format(date=f"{day_before:%Y-%m-%d}"), "bold")
    put(r, 8, _major(sec.opening_minor, exp), money_bold)
    r += 1
    for x in sec.lines:
        put(r, 1, x.date, "date")
        put(r, 2, kinds[x.kind])
        put(r, 3, x.doc_no)
        put(r, 4, x.description or (t["for_invoice"].format(ref=x.reference) if x.reference else ""))
        put(r, 5, x.due_date, "date")
        put(r, 6, _major(x.debit_minor, exp) if x.debit_minor else None, money)
        put(r, 7, _major(x.credit_minor, exp) if x.credit_minor else None, money)
        put(r, 8, _major(x.balance_minor, exp), money)
        put(r, DISPUTE_COL, None, "ask")
        put(r, REASON_COL, None, "ask")
        put(r, KEY_COL, marker_encode(x.key))  # hidden: "INV|I2" as it is, "INV|A%01" for "INV|A\x01"
        answer_cells.append(_ref(r, DISPUTE_COL))
        r += 1
    if not sec.lines:
        put(r, 4, t["none"])
        r += 1
    put(r, 4, t["totals"], "bold")
    put(r, 6, _major(sec.debit_minor, exp), money_bold)
    put(r, 7, _major(sec.credit_minor, exp), money_bold)
    r += 1
    put(r, 4, t["closing"].format(date=f"{statement.period_to:%Y-%m-%d}"), "bold")
    put(r, 8, _major(sec.closing_minor, exp), money_closing)
    r += 1
    words = closing_in_words(sec, lang)
    if words:
        put(r, 4, t["in_words"])
        put(r, 5, words)
        r += 1
    put(r, 4, t["ledger"].format(date=f"{statement.period_to:%Y-%m-%d}"))
    put(r, 8, _major(sec.ledger_minor, exp), money)
    put(r, 9, t["ties"] if sec.ties else "≠")
    r += 2
    basis = t["basis_invoice"] if statement.aging_basis == "invoice" else t["basis_due"]
    put(r, 1, t["aging"].format(date=f"{statement.period_to:%Y-%m-%d}", basis=basis), "bold")
    r += 1
    labels = AgingEdges(statement.aging_edges).labels("zh" if lang == "zh" else "en")
    buckets = list(zip(labels, sec.aging_minor))
    for c, (label, _) in enumerate(buckets, start=3):
        put(r, c, label, "aging_head")
    for c, (_, v) in enumerate(buckets, start=3):
        put(r + 1, c, _major(v, exp), money)
    r += 2
    for label, v in ((t["open_items"], sec.open_minor), (t["unapplied"], -sec.unapplied_minor),
                     (t["net"], sec.closing_minor)):
        net = label == t["net"]
        put(r, 4, label, "bold" if net else "plain")
        put(r, 8, _major(v, exp), money_bold if net else money)
        r += 1
    if sec.disputed_minor:
        put(r, 4, t["in_dispute"])
        put(r, 8, _major(sec.disputed_minor, exp), money)
        r += 1
    return r + 1


def _confirmation(sh: _Sheet, statement: Statement, t: dict[str, str], lang: str, r: int,
                  answer_cells: list[str]) -> tuple[int, dict[str, str]]:
    """The confirmation block; returns the row after it and the named cells (field -> ``C40``)."""
    put = sh.put
    put(r, 1, t["confirm_title"], "heading")
    r += 1
    sh.heights[r] = 45
    sh.merge(r, 1, 10, t["confirm_text"], "note")
    r += 1
    for line in confirm_lines(statement, lang):
        put(r, 1, line, "bold")
        r += 1
    r += 1
    cells: dict[str, str] = {}
    for key, label in (("confirmed", t["confirmed"]), ("remarks", t["remarks"]), ("signer", t["signer"]),
                       ("seal", t["seal"]), ("sign_date", t["sign_date"])):
        if key == "seal":
            sh.heights[r] = 60  # room for a stamp
        put(r, 1, label, "bold")
        if key == "remarks":
            sh.merge(r, 3, 8, None, "ask")
        else:
            put(r, 3, None, "ask_date" if key == "sign_date" else "ask")
        if key == "confirmed":
            answer_cells.append(_ref(r, 3))
        if key in NAMES:
            cells[key] = _ref(r, 3)
        r += 1
    return r, cells


def _statement_sheet(sh: _Sheet, t: dict[str, str], last_row: int, answer_cells: list[str]) -> bytes:
    """The statement sheet's XML: widths, hidden key column, the Yes/No list, landscape one page wide.

    One list for every answer cell, blanks allowed and any other text accepted (no error box): the
    reader also understands "有异议", "wrong" and the like.
    """
    choices = escape_attr(f'"{t["yes"]},{t["no"]}"')
    validation = (f'<dataValidations count="1"><dataValidation type="list" allowBlank="1" '
                  f'sqref="{" ".join(answer_cells)}"><formula1>{choices}</formula1></dataValidation></dataValidations>')
    return sh.xml(parts.FIT_TO_PAGE, 'tabSelected="1" ', parts.COLS,
                  validation + parts.PAGE_MARGINS + parts.PAGE_SETUP)


def _marker_sheet(sh: _Sheet, pairs: list[list[str]], lines: list[list[str]]) -> bytes:
    """The marker sheet's XML: every cell text encoded (``marker_encode``; the checksum is over the
    texts themselves) and in the text format, so a re-save keeps "20000.00" as typed."""
    rows = [*pairs, ["checksum", marker_checksum(pairs, lines)], [],
            ["key", "currency", "kind", "doc_no", "amount", "row"], *lines]
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row, start=1):
            if v:  # a blank value: no cell
                sh.put(r, c, marker_encode(v), "marker")
    return sh.xml("", "", after=parts.PAGE_MARGINS)


def _workbook_xml(sheet: str, last_row: int, cells: dict[str, str]) -> bytes:
    """``workbook.xml``: the statement sheet, the very hidden marker, the print area and the names."""
    where = escape_attr("'" + sheet.replace("'", "''") + "'")
    names = [f'<definedName name="_xlnm.Print_Area" localSheetId="0">{where}!$A$1:$J${last_row}</definedName>']
    for key, ref in sorted(cells.items(), key=lambda kv: NAMES[kv[0]]):
        names.append(f'<definedName name="{NAMES[key]}">{where}!${ref[0]}${ref[1:]}</definedName>')
    return "".join([
        parts.WORKBOOK_HEAD, f'<sheets><sheet name="{escape_attr(sheet)}" sheetId="1" r:id="rId1"/>',
        f'<sheet name="{MARKER_SHEET}" sheetId="2" state="veryHidden" r:id="rId2"/></sheets>',
        "<definedNames>", *names, "</definedNames>", parts.WORKBOOK_TAIL]).encode("utf-8")


def _core_xml(statement: Statement, t: dict[str, str], lang: str) -> bytes:
    """``core.xml``: title, author, created on the period's last day at 00:00 (as the PDF is), so the
    same statement gives the same bytes whenever and wherever it is made. Characters XML cannot
    hold are dropped (``escape_attr``)."""
    when = f"{statement.period_to:%Y-%m-%d}T00:00:00Z"
    return parts.CORE_TEMPLATE.format(title=escape_attr(f"{t['title']} {statement.statement_id}"),
                                      author=escape_attr(statement.company(lang) or "xl-ar"), when=when).encode("utf-8")


def _workbook_bytes(statement: Statement, lang: str | None = None) -> bytes:
    """The statement workbook's bytes: see :func:`write_statement_xlsx`."""
    lang = lang or statement.lang
    t = TEXT["zh" if lang == "zh" else "en"]
    strings = _Strings()
    sh = _Sheet(strings)
    answer_cells: list[str] = []  # the cells of the Yes/No list
    r = _header(sh, statement, t, lang)
    for sec in statement.sections:
        r = _section(sh, statement, sec, t, lang, r, answer_cells)
    r, cells = _confirmation(sh, statement, t, lang, r, answer_cells)
    statement_sheet = _statement_sheet(sh, t, r, answer_cells)
    marker = _marker_sheet(_Sheet(strings), *marker_content(statement, lang, t["sheet"], cells))
    fixed = parts.FIXED
    return zip_bytes([
        ("[Content_Types].xml", fixed["[Content_Types].xml"]), ("_rels/.rels", fixed["_rels/.rels"]),
        ("docProps/app.xml", fixed["docProps/app.xml"]), ("docProps/core.xml", _core_xml(statement, t, lang)),
        ("xl/workbook.xml", _workbook_xml(t["sheet"], r, cells)),
        ("xl/_rels/workbook.xml.rels", fixed["xl/_rels/workbook.xml.rels"]), ("xl/styles.xml", fixed["xl/styles.xml"]),
        ("xl/sharedStrings.xml", strings.xml().encode("utf-8")),
        ("xl/worksheets/sheet1.xml", statement_sheet), ("xl/worksheets/sheet2.xml", marker),
    ])


def write_statement_xlsx(statement: Statement, path: str | Path, lang: str | None = None) -> Path:
    """Write a statement as a new, editable .xlsx workbook.

    The sheet shows the header, each currency's lines with the running balance, totals, the
    closing balance and its aging, and the confirmation block; the customer fills the yellow
    cells ("Disputed?" and the reason on each line, "Confirmed", remarks, signature, date). A very
    hidden sheet holds the marker that identifies the file when it comes back. The same statement
    always gives the same bytes.

    Args:
        statement: from :func:`build_statements`.
        path: the file to write.
        lang: "zh" or "en" (default: the statement's).

    Returns:
        The path written.
    """
    path = Path(path)
    path.write_bytes(_workbook_bytes(statement, lang))  # made whole in memory: never a half-written file
    return path


def statement_xlsx_bytes(statement: Statement, lang: str | None = None) -> bytes:
    """The .xlsx file's bytes (for an e-mail attachment): the workbook :func:`write_statement_xlsx` writes."""
    return _workbook_bytes(statement, lang)
