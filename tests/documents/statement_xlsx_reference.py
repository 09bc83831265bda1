"""The statement workbook as xl-ar built it with openpyxl before the hand-written writer: the
reference the property test compares the fast writer with (cell by cell, as read back)."""

from __future__ import annotations

import datetime as dt
import re

from xl_ar.book.sheetxml import escape_controls
from xl_ar.core.aging import AgingEdges
from xl_ar.core.money import to_major
from xl_ar.documents.statements import (DISPUTE_COL, KEY_COL, MARKER_SHEET, NAMES, REASON_COL, TEXT, Statement,
                                        closing_in_words, confirm_lines, marker_checksum,
                                        marker_content, marker_encode)


def statement_workbook(statement: Statement, lang: str | None = None):
    """The statement as an openpyxl Workbook (not saved): see :func:`write_statement_xlsx`."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    lang = lang or statement.lang
    t = TEXT["zh" if lang == "zh" else "en"]
    wb = Workbook()
    ws = wb.active
    ws.title = t["sheet"]
    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    input_fill = PatternFill("solid", fgColor="FFF2CC")  # pale yellow: "the customer fills this"
    thin = Side(style="thin", color="808080")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    date_fmt = "yyyy-mm-dd"
    yes_no = DataValidation(type="list", formula1=f'"{t["yes"]},{t["no"]}"', allow_blank=True)
    ws.add_data_validation(yes_no)

    def put(r: int, c: int, v, fmt: str | None = None, font=None, fill=None):
        if isinstance(v, str):
            v = escape_controls(v)  # a control character from the ledger, stored as Excel stores it
        cell = ws.cell(r, c, v)
        if isinstance(v, str) and v.startswith("="):
            cell.data_type = "s"  # text from the ledger (or "= Closing balance") is never a formula
        for attr, value in (("number_format", fmt), ("font", font), ("fill", fill)):
            if value:
                setattr(cell, attr, value)
        return cell

    put(1, 1, statement.company(lang) or None, font=Font(bold=True, size=14))
    put(2, 1, t["title"], font=Font(bold=True, size=13))
    put(3, 1, t["customer"], font=bold)
    put(3, 3, f"{statement.customer_name} ({statement.customer_id})" if statement.customer_name else statement.customer_id)
    put(4, 1, t["period"], font=bold)
    put(4, 3, f"{statement.period_from:%Y-%m-%d} {t['to']} {statement.period_to:%Y-%m-%d}")
    put(5, 1, t["statement_no"], font=bold)
    put(5, 3, statement.statement_id)
    r = 7
    kinds = {"invoice": t["invoice"], "credit": t["credit_note"], "receipt": t["receipt"]}
    heads = [t["date"], t["type"], t["doc"], t["desc"], t["due"], t["debit"], t["credit"], t["balance"],
             t["disputed"], t["reason"], "key"]
    for sec in statement.sections:
        money = "#,##0" if sec.exp == 0 else "#,##0." + "0" * sec.exp + ";-#,##0." + "0" * sec.exp
        put(r, 1, f"{t['currency']}: {sec.currency}", font=Font(bold=True, size=12))
        r += 1
        for c, h in enumerate(heads, start=1):
            cell = put(r, c, h, font=bold, fill=head_fill)
            cell.alignment, cell.border = Alignment(horizontal="center", wrap_text=True), box
        ws.row_dimensions[r].height = 30  # two lines: "Disputed? 有异议" wraps
        r += 1
        day_before = statement.period_from - dt.timedelta(days=1)
        put(r, 4, t["opening"].format(date=f"{day_before:%Y-%m-%d}"), font=bold)
        put(r, 8, float(to_major(sec.opening_minor, sec.exp)), money, font=bold)
        r += 1
        for x in sec.lines:
            desc = x.description or (t["for_invoice"].format(ref=x.reference) if x.reference else "")
            put(r, 1, x.date, date_fmt)
            put(r, 2, kinds[x.kind])
            put(r, 3, x.doc_no)
            put(r, 4, desc)
            put(r, 5, x.due_date, date_fmt)
            put(r, 6, float(to_major(x.debit_minor, sec.exp)) if x.debit_minor else None, money)
            put(r, 7, float(to_major(x.credit_minor, sec.exp)) if x.credit_minor else None, money)
            put(r, 8, float(to_major(x.balance_minor, sec.exp)), money)
            put(r, DISPUTE_COL, None, fill=input_fill).border = box
            put(r, REASON_COL, None, fill=input_fill).border = box
            put(r, KEY_COL, marker_encode(x.key))
            yes_no.add(ws.cell(r, DISPUTE_COL))
            r += 1
        if not sec.lines:
            put(r, 4, t["none"])
            r += 1
        put(r, 4, t["totals"], font=bold)
        put(r, 6, float(to_major(sec.debit_minor, sec.exp)), money, font=bold)
        put(r, 7, float(to_major(sec.credit_minor, sec.exp)), money, font=bold)
        r += 1
        put(r, 4, t["closing"].format(date=f"{statement.period_to:%Y-%m-%d}"), font=bold)
        put(r, 8, float(to_major(sec.closing_minor, sec.exp)), money, font=Font(bold=True, size=12))
        r += 1
        words = closing_in_words(sec, lang)
        if words:
            put(r, 4, t["in_words"])
            put(r, 5, words)
            r += 1
        put(r, 4, t["ledger"].format(date=f"{statement.period_to:%Y-%m-%d}"))
        put(r, 8, float(to_major(sec.ledger_minor, sec.exp)), money)
        put(r, 9, t["ties"] if sec.ties else "≠")
        r += 2
        basis = t["basis_invoice"] if statement.aging_basis == "invoice" else t["basis_due"]
        put(r, 1, t["aging"].format(date=f"{statement.period_to:%Y-%m-%d}", basis=basis), font=bold)
        r += 1
        labels = AgingEdges(statement.aging_edges).labels("zh" if lang == "zh" else "en")
        for c, (label, v) in enumerate(zip(labels, sec.aging_minor), start=3):
            put(r, c, label, font=bold, fill=head_fill).alignment = Alignment(horizontal="center")
            put(r + 1, c, float(to_major(v, sec.exp)), money)
        r += 2
        for label, v in ((t["open_items"], sec.open_minor), (t["unapplied"], -sec.unapplied_minor),
                         (t["net"], sec.closing_minor)):
            put(r, 4, label, font=bold if label == t["net"] else None)
            put(r, 8, float(to_major(v, sec.exp)), money, font=bold if label == t["net"] else None)
            r += 1
        if sec.disputed_minor:
            put(r, 4, t["in_dispute"])
            put(r, 8, float(to_major(sec.disputed_minor, sec.exp)), money)
            r += 1
        r += 1
    put(r, 1, t["confirm_title"], font=Font(bold=True, size=12))
    r += 1
    put(r, 1, t["confirm_text"]).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=10)
    ws.row_dimensions[r].height = 45
    r += 1
    for line in confirm_lines(statement, lang):
        put(r, 1, line, font=bold)
        r += 1
    r += 1
    cells = {}
    for key, label in (("confirmed", t["confirmed"]), ("remarks", t["remarks"]), ("signer", t["signer"]),
                       ("seal", t["seal"]), ("sign_date", t["sign_date"])):
        put(r, 1, label, font=bold)
        cell = put(r, 3, None, date_fmt if key == "sign_date" else None, fill=input_fill)
        cell.border = box
        if key == "remarks":
            ws.merge_cells(start_row=r, start_column=3, end_row=r, end_column=8)
        elif key == "seal":
            ws.row_dimensions[r].height = 60  # room for a stamp
        if key == "confirmed":
            yes_no.add(cell)
        if key in NAMES:
            cells[key] = cell.coordinate
        r += 1
    for c, width in enumerate((12, 11, 15, 30, 12, 15, 15, 16, 14, 30), start=1):
        ws.column_dimensions[chr(64 + c)].width = width
    ws.column_dimensions["K"].hidden = True
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_area = f"A1:J{r}"
    for key, ref in cells.items():
        col, row = re.fullmatch(r"([A-Z]+)(\d+)", ref).groups()
        wb.defined_names[NAMES[key]] = DefinedName(NAMES[key], attr_text=f"'{ws.title}'!${col}${row}")

    pairs, lines = marker_content(statement, lang, ws.title, cells)
    mk = wb.create_sheet(MARKER_SHEET)
    for row in [*pairs, ["checksum", marker_checksum(pairs, lines)], [],
                ["key", "currency", "kind", "doc_no", "amount", "row"], *lines]:
        mk.append([marker_encode(v) or None for v in row])  # every text encoded; "" is no cell
    for row in mk.iter_rows():
        for cell in row:
            cell.data_type, cell.number_format = "s", "@"  # text, so a re-save keeps "20000.00" as typed
    mk.sheet_state = "veryHidden"  # out of the customer's way: only the Statement sheet shows
    wb.properties.title = escape_controls(f"{t['title']} {statement.statement_id}")
    # escaped here (the old builder was not): openpyxl refuses a control character in a property
    wb.properties.creator = escape_controls(statement.company(lang) or "xl-ar")
    return wb
