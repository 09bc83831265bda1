"""Build large ledger workbooks quickly for the benchmarks (10k .. 1,048,575 invoices).

openpyxl would take minutes to write a million rows, so the big sheets' XML is generated
directly with numpy string operations into a small workbook openpyxl made (which gives the
styles, the Settings and Customers sheets and a valid package).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import numpy as np
from openpyxl import Workbook

from xl_ar.book.headers import header_label
from xl_ar.core.schema import INVOICES, RECEIPTS
from xl_ar.core.settings import SETTING_DEFAULTS

AS_OF = dt.date(2026, 10, 31)
EPOCH = np.datetime64("1899-12-30", "D")


def _template(path: Path, n_customers: int) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Settings"
    ws.append(["Key", "Value"])
    for key, default, *_ in SETTING_DEFAULTS:
        ws.append([key, AS_OF if key == "AsOfDate" else default])
    ws.append(["SenderEmail", "ar@bench.example"])  # so the reminders bench writes e-mails
    ws["B2"].number_format = "yyyy-mm-dd"
    cs = wb.create_sheet("Customers")
    cs.append(["CustomerID", "Name", "Class", "TermsDays", "CreditLimit", "Email"])
    for c in range(n_customers):
        cs.append([f"C{c:05d}", f"客户{c:05d}有限公司", "ABC"[c % 3], (30, 60, 90)[c % 3], 500000.0, f"ap{c:05d}@example.com"])
    for sheet in ("Invoices", "Receipts"):
        s = wb.create_sheet(sheet)
        s.append([header_label(sheet, f.name, "en") for f in (INVOICES if sheet == "Invoices" else RECEIPTS).fields])
        s["A2"] = "placeholder"
        s["B2"] = AS_OF
        s["B2"].number_format = "yyyy-mm-dd"
    wb.save(path)


def _sheet_xml(header: list[str], columns: list[tuple[str, np.ndarray]], date_style: str) -> bytes:
    """Worksheet XML for columns of kind "s" (text), "n" (number) or "d" (date serial)."""
    n = len(columns[0][1])
    letters = [chr(ord("A") + j) for j in range(len(columns))]
    rows = np.arange(2, n + 2).astype(str)
    parts = [np.full(n, "<row r=\"", dtype=object) + rows + "\">"]
    for letter, (kind, values) in zip(letters, columns):
        ref = letter + rows
        if kind == "s":
            cell = '<c r="' + ref + '" t="inlineStr"><is><t>' + values.astype(str).astype(object) + "</t></is></c>"
        elif kind == "d":
            cell = '<c r="' + ref + '" s="' + date_style + '"><v>' + values.astype(str).astype(object) + "</v></c>"
        else:
            cell = '<c r="' + ref + '"><v>' + values.astype(str).astype(object) + "</v></c>"
        parts.append(cell.astype(object))
    body = parts[0]
    for p in parts[1:]:
        body = body + p
    body = body + "</row>"
    head = "".join(f'<c r="{letters[j]}1" t="inlineStr"><is><t>{h}</t></is></c>' for j, h in enumerate(header[: len(columns)]))
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f'<dimension ref="A1:{letters[-1]}{n + 1}"/><sheetData><row r="1">{head}</row>'
           + "".join(body) + "</sheetData></worksheet>")
    return xml.encode("utf-8")


def build_ledger(path: Path | str, n_invoices: int, seed: int = 7, customers: int | None = None) -> Path:
    """Write a ledger with ``n_invoices`` invoices and about 0.7 receipts per invoice, for
    ``customers`` customers (default: one per 40 invoices, at least 10)."""
    path = Path(path)
    rng = np.random.default_rng(seed)
    n_customers = customers or max(10, n_invoices // 40)
    tmp = path.with_suffix(".template.xlsx")
    _template(tmp, n_customers)
    cust = rng.integers(0, n_customers, n_invoices)
    idate = (np.datetime64(AS_OF, "D") - rng.integers(0, 730, n_invoices))
    due = idate + np.array([30, 60, 90])[cust % 3]
    amount = np.round(rng.lognormal(9, 1, n_invoices), 2)
    cust_ids = np.char.add("C", np.char.zfill(cust.astype(str), 5))
    inv_no = np.char.add("INV", np.char.zfill(np.arange(n_invoices).astype(str), 8))
    inv_cols = [("s", inv_no), ("s", cust_ids), ("d", (idate - EPOCH).astype(int)), ("d", (due - EPOCH).astype(int)),
                ("n", amount), ("s", np.full(n_invoices, "CNY"))]
    paid = rng.random(n_invoices) < 0.7
    pdate = np.minimum(due[paid] + rng.integers(-10, 60, paid.sum()), np.datetime64(AS_OF, "D"))
    frac = np.where(rng.random(paid.sum()) < 0.1, 0.5, 1.0)
    r_n = int(paid.sum())
    rec_cols = [("s", np.char.add("R", np.char.zfill(np.arange(r_n).astype(str), 8))), ("s", cust_ids[paid]),
                ("d", (pdate - EPOCH).astype(int)), ("n", np.round(amount[paid] * frac, 2)), ("s", np.full(r_n, "CNY")),
                ("s", np.where(rng.random(r_n) < 0.6, inv_no[paid], ""))]
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as dst:
        wbxml = src.read("xl/workbook.xml").decode()
        rels = src.read("xl/_rels/workbook.xml.rels").decode()
        targets = {}
        for name, rid in re.findall(r'<sheet[^>]*name="([^"]+)"[^>]*r:id="([^"]+)"', wbxml):
            t = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
            targets[name] = "xl/" + (t.group(1) or t.group(2)).lstrip("/").removeprefix("xl/")
        inv_xml = src.read(targets["Invoices"]).decode()
        date_style = re.search(r'<c r="B2" s="(\d+)"', inv_xml).group(1)
        for item in src.infolist():
            if item.filename == targets["Invoices"]:
                dst.writestr(item.filename, _sheet_xml([f.header for f in INVOICES.fields], inv_cols, date_style))
            elif item.filename == targets["Receipts"]:
                dst.writestr(item.filename, _sheet_xml([f.header for f in RECEIPTS.fields], rec_cols, date_style))
            else:
                dst.writestr(item, src.read(item.filename))
    tmp.unlink()
    return path
