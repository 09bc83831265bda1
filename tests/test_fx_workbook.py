"""A real workbook with a 汇率 (FxRates) sheet: refresh converts the USD item in every decision figure."""

from __future__ import annotations

import datetime as dt

import openpyxl

from test_refresh import AS_OF, run_json, write_ledger
from xl_ar.cli import main


def _with_rates(path, rows):
    wb = openpyxl.load_workbook(path)
    ws = wb.create_sheet("汇率")
    ws.append(["日期", "币种", "汇率"])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_refresh_converts_at_the_as_of_rate_and_says_so(tmp_path, capsys):
    book = _with_rates(write_ledger(tmp_path / "ledger.xlsx"),
                       [[dt.datetime(2025, 3, 31), "USD", 7.1], [dt.datetime(2025, 4, 30), "USD", 7.3]])
    code, out = run_json(capsys, "refresh", str(book), "--as-of", AS_OF)
    assert code == 0 and out["issues"] == []
    assert out["open_total"] == 8700.00 and out["currencies"]["USD"]["open_total"] == 1234.56  # tie-outs: own currency
    assert out["fx_rates"] == {"USD": {"rate": 7.1, "date": "2025-03-31"}} and out["fx_excluded"] == {}
    # I6 USD 1,234.56 × 7.1 = 8,765.376 → 8,765.38, not due: the March month-end's open is 8,700 + 8,765.38
    assert out["trend"][-1]["open"] == 17465.38 and out["trend"][-1]["buckets"]["Not due"] == 8765.38
    ws = openpyxl.load_workbook(book)["Dashboard"]
    assert ws["A2"].value == "Converted to CNY at USD 7.1000 (2025-03-31)"


def test_a_bad_rate_cell_is_an_error_naming_it(tmp_path, capsys):
    book = _with_rates(write_ledger(tmp_path / "ledger.xlsx"), [[dt.datetime(2025, 3, 31), "USD", -7.1]])
    code, out = run_json(capsys, "refresh", str(book), "--as-of", AS_OF)
    assert code != 0 and out["written"] is False
    assert any(i["where"] == "汇率!C2" and i["severity"] == "error" for i in out["issues"])


def test_the_collections_sheet_adds_base_currency_amounts_when_the_list_mixes_currencies(tmp_path):
    from test_refresh import INVOICES

    invoices = [r if r[0] != "I6" else ["I6", "C2", dt.date(2025, 2, 8), dt.date(2025, 3, 10), 1234.56, "USD", "", "Service", "", ""]
                for r in INVOICES] + [["I8", "C1", dt.date(2025, 2, 1), dt.date(2025, 3, 1), 500.00, "EUR", "", "Parts", "", ""]]
    book = _with_rates(write_ledger(tmp_path / "ledger.xlsx", invoices=invoices), [[dt.datetime(2025, 3, 31), "USD", 7.1]])
    assert main(["refresh", str(book), "--as-of", AS_OF, "--quiet"]) in (0, 1)
    ws = openpyxl.load_workbook(book)["Collections"]
    rows = {(r[1], r[4]): r for r in ws.iter_rows(min_row=3, values_only=True)}
    assert [c.value for c in ws[2]][-2:] == ["Overdue in CNY", "Due soon in CNY"] and ws.auto_filter.ref == "A2:U6"
    # each row's own amounts, then the same in CNY: USD at 7.1 (1,234.56 x 7.1 = 8,765.376), EUR has no rate
    assert rows[("C2", "USD")][6] == 1234.56 and rows[("C2", "USD")][-2:] == (8765.38, 0)
    assert rows[("C1", "EUR")][6] == 500 and rows[("C1", "EUR")][-2:] == (None, None)
    assert rows[("C1", "CNY")][-2:] == (8000, 0) and rows[("C2", "CNY")][-2:] == (700, 0)
    assert ws.column_dimensions["T"].width > 15


def test_a_list_in_the_base_currency_alone_has_no_converted_columns(tmp_path):
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert main(["refresh", str(book), "--as-of", AS_OF, "--quiet"]) in (0, 1)
    ws = openpyxl.load_workbook(book)["Collections"]
    assert ws.max_column == 19 and ws["S2"].value == "Account manager" and ws.auto_filter.ref == "A2:S4"
