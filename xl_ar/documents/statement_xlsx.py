"""A statement as an .xlsx workbook the customer fills in and returns.

The sheet shows the statement (see ``xl_ar.documents.statements``) with a confirmation block
whose answer cells are named, and a hidden marker sheet (statement id, every line's key and a
checksum over them) by which a returned file is recognised (``xl_ar.documents.confirmations``).

Written with XlsxWriter, which streams each cell to XML: a reminders run attaches one statement
per customer, and building openpyxl's object model of every cell and style cost ~60 ms a
workbook (most of a run), against a few ms here. XlsxWriter stores text as shared strings with
control characters escaped the way Excel does (``_x0001_``), and ``write_string`` never makes a
formula of text that starts with "=".
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

from xl_ar.core.aging import AgingEdges
from xl_ar.core.money import to_major
from xl_ar.documents.statements import (DISPUTE_COL, KEY_COL, MARKER_SHEET, NAMES, REASON_COL, TEXT, Statement,
                                        closing_in_words, confirm_lines, marker_checksum,
                                        marker_content)

_HEAD_FILL = "#DDEBF7"
_INPUT_FILL = "#FFF2CC"  # pale yellow: "the customer fills this"
_BOX = {"border": 1, "border_color": "#808080"}  # thin, grey, all four sides
_DATE = "yyyy-mm-dd"
_WIDTHS = (12, 11, 15, 30, 12, 15, 15, 16, 14, 30)  # columns A..J
# Characters XML 1.0 cannot hold: cells escape them (XlsxWriter does), document properties drop them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Sheet:
    """A worksheet addressed 1-based like the layout below, with formats made once per look."""

    def __init__(self, book: Any, ws: Any):
        self.book, self.ws = book, ws
        self._formats: dict[tuple, Any] = {}

    def fmt(self, **props: Any) -> Any:
        """The workbook's format with these properties (None for none)."""
        if not props:
            return None
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.book.add_format(props)
        return self._formats[key]

    def put(self, r: int, c: int, v: Any, **props: Any) -> None:
        """Write ``v`` at row ``r``, column ``c`` (1-based) in the format ``props``."""
        f = self.fmt(**props)
        if v is None or v == "":
            if f is not None:
                self.ws.write_blank(r - 1, c - 1, None, f)
        elif isinstance(v, str):
            self.ws.write_string(r - 1, c - 1, v, f)  # never a formula, even "= Closing balance"
        elif isinstance(v, dt.date):
            self.ws.write_datetime(r - 1, c - 1, v, f)
        else:
            self.ws.write_number(r - 1, c - 1, v, f)


def _ref(r: int, c: int) -> str:
    """``C40`` for row 40, column 3 (columns A..Z are all this layout uses)."""
    return f"{chr(64 + c)}{r}"


def _workbook_bytes(statement: Statement, lang: str | None = None) -> bytes:
    """The statement workbook's bytes: see :func:`write_statement_xlsx`."""
    import xlsxwriter

    lang = lang or statement.lang
    t = TEXT["zh" if lang == "zh" else "en"]
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    ws = book.add_worksheet(t["sheet"])
    sh = _Sheet(book, ws)
    put = sh.put
    bold = {"bold": True}
    head = {"bold": True, "bg_color": _HEAD_FILL}
    ask = {"bg_color": _INPUT_FILL, **_BOX}
    answer_cells: list[str] = []  # the cells of the Yes/No list

    put(1, 1, statement.company(lang) or None, bold=True, font_size=14)
    put(2, 1, t["title"], bold=True, font_size=13)
    put(3, 1, t["customer"], **bold)
    put(3, 3, f"{statement.customer_name} ({statement.customer_id})" if statement.customer_name else statement.customer_id)
    put(4, 1, t["period"], **bold)
    put(4, 3, f"{statement.period_from:%Y-%m-%d} {t['to']} {statement.period_to:%Y-%m-%d}")
    put(5, 1, t["statement_no"], **bold)
    put(5, 3, statement.statement_id)
    r = 7
    kinds = {"invoice": t["invoice"], "credit": t["credit_note"], "receipt": t["receipt"]}
    heads = [t["date"], t["type"], t["doc"], t["desc"], t["due"], t["debit"], t["credit"], t["balance"],
             t["disputed"], t["reason"], "key"]
    for sec in statement.sections:
        money = "#,##0" if sec.exp == 0 else "#,##0." + "0" * sec.exp + ";-#,##0." + "0" * sec.exp

        def amount(minor: int, exp: int = sec.exp) -> float:
            return float(to_major(minor, exp))

        put(r, 1, f"{t['currency']}: {sec.currency}", bold=True, font_size=12)
        r += 1
        for c, h in enumerate(heads, start=1):
            put(r, c, h, **head, **_BOX, align="center", text_wrap=True)
        ws.set_row(r - 1, 30)  # two lines: "Disputed? 有异议" wraps
        r += 1
        day_before = statement.period_from - dt.timedelta(days=1)
        put(r, 4, t["opening"].format(date=f"{day_before:%Y-%m-%d}"), **bold)
        put(r, 8, amount(sec.opening_minor), num_format=money, **bold)
        r += 1
        for x in sec.lines:
            desc = x.description or (t["for_invoice"].format(ref=x.reference) if x.reference else "")
            put(r, 1, x.date, num_format=_DATE)
            put(r, 2, kinds[x.kind])
            put(r, 3, x.doc_no)
            put(r, 4, desc)
            put(r, 5, x.due_date, num_format=_DATE)
            put(r, 6, amount(x.debit_minor) if x.debit_minor else None, num_format=money)
            put(r, 7, amount(x.credit_minor) if x.credit_minor else None, num_format=money)
            put(r, 8, amount(x.balance_minor), num_format=money)
            put(r, DISPUTE_COL, None, **ask)
            put(r, REASON_COL, None, **ask)
            put(r, KEY_COL, x.key)
            answer_cells.append(_ref(r, DISPUTE_COL))
            r += 1
        if not sec.lines:
            put(r, 4, t["none"])
            r += 1
        put(r, 4, t["totals"], **bold)
        put(r, 6, amount(sec.debit_minor), num_format=money, **bold)
        put(r, 7, amount(sec.credit_minor), num_format=money, **bold)
        r += 1
        put(r, 4, t["closing"].format(date=f"{statement.period_to:%Y-%m-%d}"), **bold)
        put(r, 8, amount(sec.closing_minor), num_format=money, bold=True, font_size=12)
        r += 1
        words = closing_in_words(sec, lang)
        if words:
            put(r, 4, t["in_words"])
            put(r, 5, words)
            r += 1
        put(r, 4, t["ledger"].format(date=f"{statement.period_to:%Y-%m-%d}"))
        put(r, 8, amount(sec.ledger_minor), num_format=money)
        put(r, 9, t["ties"] if sec.ties else "≠")
        r += 2
        basis = t["basis_invoice"] if statement.aging_basis == "invoice" else t["basis_due"]
        put(r, 1, t["aging"].format(date=f"{statement.period_to:%Y-%m-%d}", basis=basis), **bold)
        r += 1
        labels = AgingEdges(statement.aging_edges).labels("zh" if lang == "zh" else "en")
        for c, (label, v) in enumerate(zip(labels, sec.aging_minor), start=3):
            put(r, c, label, **head, align="center")
            put(r + 1, c, amount(v), num_format=money)
        r += 2
        for label, v in ((t["open_items"], sec.open_minor), (t["unapplied"], -sec.unapplied_minor),
                         (t["net"], sec.closing_minor)):
            net = {"bold": True} if label == t["net"] else {}
            put(r, 4, label, **net)
            put(r, 8, amount(v), num_format=money, **net)
            r += 1
        if sec.disputed_minor:
            put(r, 4, t["in_dispute"])
            put(r, 8, amount(sec.disputed_minor), num_format=money)
            r += 1
        r += 1
    put(r, 1, t["confirm_title"], bold=True, font_size=12)
    r += 1
    ws.merge_range(r - 1, 0, r - 1, 9, t["confirm_text"], sh.fmt(text_wrap=True, valign="top"))
    ws.set_row(r - 1, 45)
    r += 1
    for line in confirm_lines(statement, lang):
        put(r, 1, line, **bold)
        r += 1
    r += 1
    cells: dict[str, str] = {}
    for key, label in (("confirmed", t["confirmed"]), ("remarks", t["remarks"]), ("signer", t["signer"]),
                       ("seal", t["seal"]), ("sign_date", t["sign_date"])):
        put(r, 1, label, **bold)
        if key == "sign_date":
            put(r, 3, None, num_format=_DATE, **ask)
        elif key == "remarks":
            ws.merge_range(r - 1, 2, r - 1, 7, None, sh.fmt(**ask))
        else:
            put(r, 3, None, **ask)
        if key == "seal":
            ws.set_row(r - 1, 60)  # room for a stamp
        if key == "confirmed":
            answer_cells.append(_ref(r, 3))
        if key in NAMES:
            cells[key] = _ref(r, 3)
        r += 1
    for c, width in enumerate(_WIDTHS):
        ws.set_column(c, c, width)
    ws.set_column(KEY_COL - 1, KEY_COL - 1, None, None, {"hidden": True})
    # One list for every answer cell, blanks allowed and any other text accepted (no error box):
    # the reader also understands "有异议", "wrong" and the like.
    first = answer_cells[0]
    ws.data_validation(first, {"validate": "list", "source": [t["yes"], t["no"]], "ignore_blank": True,
                               "show_input": False, "show_error": False, "multi_range": " ".join(answer_cells)})
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.print_area(f"A1:J{r}")
    for key, ref in cells.items():
        col, row = ref[0], ref[1:]
        book.define_name(NAMES[key], f"='{t['sheet']}'!${col}${row}")

    pairs, lines = marker_content(statement, lang, t["sheet"], cells)
    mk = book.add_worksheet(MARKER_SHEET)
    text = sh.fmt(num_format="@")  # text, so a re-save keeps "20000.00" as typed
    rows = [*pairs, ["checksum", marker_checksum(pairs, lines)], [], ["key", "currency", "kind", "doc_no", "amount", "row"],
            *lines]
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v:
                mk.write_string(i, j, v, text)
    mk.very_hidden()  # out of the customer's way: only the Statement sheet shows
    # Created on the period's last day (as the PDF is): the same statement gives the same bytes,
    # whenever and wherever it is made.
    book.set_properties({"title": _NOT_XML.sub("", f"{t['title']} {statement.statement_id}"),
                         "author": _NOT_XML.sub("", statement.company(lang) or "xl-ar"),
                         "created": dt.datetime.combine(statement.period_to, dt.time(0, 0))})
    book.close()
    return out.getvalue()


def write_statement_xlsx(statement: Statement, path: str | Path, lang: str | None = None) -> Path:
    """Write a statement as a new, editable .xlsx workbook.

    The sheet shows the header, each currency's lines with the running balance, totals, the
    closing balance and its aging, and the confirmation block; the customer fills the yellow
    cells ("Disputed?" and the reason on each line, "Confirmed", remarks, signature, date).

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
    """The .xlsx file's bytes (for an e-mail attachment)."""
    return _workbook_bytes(statement, lang)
