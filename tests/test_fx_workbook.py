"""A real workbook with a 汇率 (FxRates) sheet: refresh converts the USD item in every decision figure."""

from __future__ import annotations

import datetime as dt

import openpyxl

from test_refresh import AS_OF, run_json, write_ledger


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
