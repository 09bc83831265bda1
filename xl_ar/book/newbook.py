"""A new, empty ledger workbook, formatted as an accountant expects.

Each ledger sheet is an Excel Table with a frozen header, date and money formats and
drop-down lists where a column has fixed values. Sheet names and headers are in the chosen
language; both languages are read back. (A new file is built with openpyxl; a user's existing
workbook is never saved through it: see ``xl_ar.book.package``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

from xl_ar.book.headers import header_label, sheet_label
from xl_ar.core import registry
from xl_ar.core.schema import LEDGER_TABLES, TABLES
from xl_ar.core.stages import DEFAULT_STAGES_ROWS, OWNER_SETTING_DEFAULTS

DATE_FORMAT = "yyyy-mm-dd"
MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
COMMON_CURRENCIES = ("CNY", "USD", "EUR", "GBP", "HKD", "JPY")
WIDTHS = {"text": 16, "date": 12, "money": 15, "int": 10, "number": 10, "bool": 9, "currency": 9}
_WIDE = {"name": 28, "description": 30, "note": 40, "email": 26, "dispute_reason": 24}
SETTINGS_NOTE = {"en": "Note", "zh": "说明"}
#: The sheets of a new workbook, in order (canonical names).
NEW_BOOK_SHEETS = tuple(t.sheet for t in LEDGER_TABLES) + ("Stages",)
#: Every setting a new workbook lists: the registry's, then one row per owner role of the
#: default stages (the registry's ``Owner.<role>`` pattern, expanded).
ALL_SETTING_DEFAULTS = registry.defaults_table(*registry.FEATURES) + OWNER_SETTING_DEFAULTS


def _choices(table: str, name: str, lang: str) -> Sequence[str] | None:
    f = TABLES[table].field(name)
    if f.choices:
        return f.choices
    if f.kind == "currency":
        return COMMON_CURRENCIES
    if f.kind == "bool":
        return ("是", "否") if lang == "zh" else ("Y", "N")
    return None


def add_ledger_sheet(wb: Workbook, table_name: str, lang: str, rows: Iterable[Sequence[Any]] = (),
                     min_rows: int = 1) -> Any:
    """Add one ledger sheet as an Excel Table, with formats and drop-downs.

    Args:
        wb: the workbook being built.
        table_name: canonical table ("Invoices").
        lang: "zh" or "en" for the sheet name and headers.
        rows: data rows in the schema's field order (values already typed: date, float, str).
        min_rows: rows the Table spans at least (an empty Table still needs one body row).

    Returns:
        The new worksheet.
    """
    spec = TABLES[table_name]
    fields = [f for f in spec.fields if f.in_new_book]
    ws = wb.create_sheet(sheet_label(table_name, lang))
    ws.append([header_label(table_name, f.name, lang) for f in fields])
    n = 0
    for n, row in enumerate(rows, start=1):
        ws.append(list(row))
    last_row = max(n, min_rows) + 1
    last_col = get_column_letter(len(fields))
    for j, f in enumerate(fields, start=1):
        letter = get_column_letter(j)
        cell = ws.cell(row=1, column=j)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[letter].width = _WIDE.get(f.name, WIDTHS[f.kind])
        fmt = {"date": DATE_FORMAT, "money": MONEY_FORMAT, "int": "0", "number": "0.0000"}.get(f.kind)
        if fmt:
            for r in range(2, last_row + 1):
                ws.cell(row=r, column=j).number_format = fmt
        choices = _choices(table_name, f.name, lang)
        if choices:
            dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                                showErrorMessage=f.kind != "currency")
            dv.add(f"{letter}2:{letter}1048576")
            ws.add_data_validation(dv)
        if f.kind == "date":
            dv = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True,
                                showErrorMessage=True, errorTitle="xl-ar",
                                error="请输入日期 / Enter a date (yyyy-mm-dd)")
            dv.add(f"{letter}2:{letter}1048576")
            ws.add_data_validation(dv)
        if f.kind == "money":
            dv = DataValidation(type="decimal", operator="between", formula1="-1E+15", formula2="1E+15",
                                allow_blank=True, showErrorMessage=True, errorTitle="xl-ar",
                                error="请输入金额 / Enter an amount")
            dv.add(f"{letter}2:{letter}1048576")
            ws.add_data_validation(dv)
    table = Table(displayName=f"tbl{table_name}", ref=f"A1:{last_col}{last_row}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "A2"
    return ws


def add_settings_sheet(wb: Workbook, lang: str, overrides: dict[str, Any] | None = None) -> Any:
    """Add the Settings sheet with every setting, its default and a note."""
    overrides = overrides or {}
    ws = wb.create_sheet(sheet_label("Settings", lang))
    ws.append([header_label("Settings", "key", lang), header_label("Settings", "value", lang), SETTINGS_NOTE[lang]])
    for key, default, note_en, note_zh in ALL_SETTING_DEFAULTS:
        # A Chinese ledger starts on China's working-day calendar (with 调休); any other starts
        # with every day counting until its owner names a country.
        own = {"Language": lang, "Calendar": "CN" if lang == "zh" else None}
        value = overrides.get(key, own.get(key, default))
        ws.append([key, value, note_zh if lang == "zh" else note_en])
    for j, width in enumerate((20, 18, 70), start=1):
        c = ws.cell(row=1, column=j)
        c.fill, c.font = HEADER_FILL, HEADER_FONT
        ws.column_dimensions[get_column_letter(j)].width = width
    for r in range(2, ws.max_row + 1):
        if ws.cell(row=r, column=1).value == "AsOfDate":
            ws.cell(row=r, column=2).number_format = DATE_FORMAT
    table = Table(displayName="tblSettings", ref=f"A1:C{ws.max_row}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "A2"
    return ws


def build_ledger_workbook(lang: str = "zh", data: dict[str, Iterable[Sequence[Any]]] | None = None,
                          settings: dict[str, Any] | None = None) -> Workbook:
    """An openpyxl Workbook with the ledger sheets (empty, or holding ``data``).

    Args:
        lang: "zh" or "en".
        data: canonical table -> rows in the schema's field order.
        settings: Settings values overriding the defaults.

    Returns:
        The workbook, not yet saved.
    """
    if lang not in ("zh", "en"):
        raise ValueError(f'language must be "zh" or "en", not "{lang}"')
    data = data or {}
    wb = Workbook()
    wb.remove(wb.active)
    add_settings_sheet(wb, lang, settings)
    for t in LEDGER_TABLES[1:]:
        add_ledger_sheet(wb, t.sheet, lang, data.get(t.sheet, ()))
    # The collection-stage rules, pre-filled with the sources' defaults for the user to adapt.
    add_ledger_sheet(wb, "Stages", lang, data.get("Stages", DEFAULT_STAGES_ROWS[lang]))
    return wb


def create_ledger(path: str | Path, lang: str = "zh", *, overwrite: bool = False) -> Path:
    """Create an empty ledger workbook file (``xl-ar new``).

    Raises:
        FileExistsError: the file exists and ``overwrite`` is False (a user's book is never
            replaced by an empty one by accident).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another name")
    build_ledger_workbook(lang).save(path)
    return path

