"""What a new user meets in the first hour, each checked on a real workbook: the Settings sheet
lists what works, labels are in the book's language, and what the tool says is true."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from test_refresh import write_ledger
from xl_ar.book.newbook import build_ledger_workbook
from xl_ar.cli import main


def _settings_keys(wb) -> list[str]:
    ws = wb["设置"] if "设置" in wb.sheetnames else wb["Settings"]
    return [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]


def test_owner_roles_are_listed_on_the_settings_sheet_and_name_the_person(tmp_path, capsys):
    keys = _settings_keys(build_ledger_workbook("zh"))
    assert [k for k in keys if k.startswith("Owner.")] == [
        "Owner.sales director", "Owner.account manager", "Owner.customer service", "Owner.sales",
        "Owner.finance", "Owner.management/legal"]
    book = write_ledger(tmp_path / "台账.xlsx", lang="zh")
    wb = openpyxl.load_workbook(book)
    ws = wb["设置"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "Owner.finance":
            row[1].value = "张三"
        if row[0].value == "Owner.management/legal":
            row[1].value = "李律师"
    wb.save(book)
    assert main(["refresh", str(book), "--as-of", "2025-06-30"]) == 0
    capsys.readouterr()
    ws = openpyxl.load_workbook(book)["发票"]
    head = [c.value for c in ws[1]]
    owner = {r[0]: r[head.index("负责人")] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert (owner["I2"], owner["I6"]) == ("李律师", "张三")  # severe: legal; moderate: finance
    assert owner["I5"] == "Tom Chen"  # a dispute is the customer's own account manager's


def test_cei_is_one_value_in_one_unit_on_the_dashboard_and_in_json(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert main(["refresh", str(book), "--as-of", "2025-03-31", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ws = openpyxl.load_workbook(book)["Dashboard"]
    (cell,) = [row[1] for row in ws.iter_rows() if row[0].value == "Collection effectiveness (CEI)"]
    assert 0 < out["cei"] <= 1 and cell.value == pytest.approx(out["cei"], abs=5e-5)
    assert cell.number_format == "0.0%"  # shown as a percent, stored as the same ratio as overdue_ratio
    for ratio in (out["overdue_ratio"], out["promises_kept"]["ratio"]):
        assert ratio is None or 0 <= ratio <= 1


def test_every_json_key_is_documented_in_the_readme(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert main(["refresh", str(book), "--as-of", "2025-03-31", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The `--json` object", 1)[1].split("\n## ", 1)[0]

    def keys(obj, prefix=""):
        for k, v in obj.items():
            yield prefix + k
            if isinstance(v, dict) and k not in ("buckets", "stages", "currencies", "fx_rates", "fx_excluded"):
                yield from keys(v, prefix + k + ".")
            if isinstance(v, list) and v and isinstance(v[0], dict) and k != "issues":
                yield from keys(v[0], prefix + k + "[].")

    missing = [k for k in keys(out) if f"`{k}`" not in section]
    assert not missing, f"README's --json section does not document {missing}"


def test_the_work_list_shows_days_to_due_not_negative_days_late(tmp_path, capsys):
    # as of 2025-05-27: C1 and C2 have overdue items; C3's invoice falls due today, C4's in 4 days.
    import datetime as dt

    from test_refresh import CUSTOMERS, INVOICES

    invoices = [*INVOICES, ["I8", "C3", dt.date(2025, 5, 1), dt.date(2025, 5, 27), 100.0, "CNY", "", "", "", ""],
                ["I9", "C4", dt.date(2025, 5, 1), dt.date(2025, 5, 31), 100.0, "CNY", "", "", "", ""]]
    new = [["C3", "新客户", "B", "", "", "", 30, 0.0, "", "zh"], ["C4", "另一客户", "B", "", "", "", 30, 0.0, "", "zh"]]
    wb = build_ledger_workbook("zh", {"Customers": [*CUSTOMERS, *new],
                                      "Invoices": invoices, "Receipts": []})
    wb.save(tmp_path / "台账.xlsx")
    assert main(["refresh", str(tmp_path / "台账.xlsx"), "--as-of", "2025-05-27"]) == 0
    capsys.readouterr()
    ws = openpyxl.load_workbook(tmp_path / "台账.xlsx")["催收工作表"]
    head = [c.value for c in ws[2]]
    assert head[8:11] == ["最早到期发票", "逾期天数", "距到期天数"]
    rows = {r[1]: r for r in ws.iter_rows(min_row=3, values_only=True) if r[1]}
    assert (rows["C3"][8], rows["C3"][9], rows["C3"][10]) == ("I8", None, 0)  # due today: 0 days to due
    assert (rows["C4"][8], rows["C4"][9], rows["C4"][10]) == ("I9", None, 4)
    late = [r for r in rows.values() if r[9] is not None]
    assert late and all(r[9] > 0 and r[10] is None for r in late)
    assert all(r[9] is None or r[9] > 0 for r in rows.values())  # never a negative or zero "days late"
    # C2's USD invoice puts a second currency on the list: the amounts in CNY follow (blank: no USD rate)
    assert head[19:] == ["逾期金额（折CNY）", "即将到期金额（折CNY）"] and ws.auto_filter.ref == f"A2:U{ws.max_row}"
    usd = [r for r in ws.iter_rows(min_row=3, values_only=True) if r[4] == "USD"]
    assert usd and all(r[19:] == (None, None) for r in usd)
    assert all(r[19] == r[6] for r in ws.iter_rows(min_row=3, values_only=True) if r[4] == "CNY")


def _typed_right_of_the_table(tmp_path, header: str | None) -> Path:
    book = write_ledger(tmp_path / "台账.xlsx", lang="zh")
    wb = openpyxl.load_workbook(book)
    ws = wb["发票"]
    assert ws.tables["tblInvoices"].ref == "A1:J8"
    ws["K1"], ws["K2"] = header, "客户要求开专票"
    wb.save(book)
    return book


def test_a_column_typed_right_of_the_invoice_table_is_taken_into_it(tmp_path, capsys):
    book = _typed_right_of_the_table(tmp_path, "备注2")
    assert main(["refresh", str(book), "--as-of", "2025-06-30"]) == 0
    capsys.readouterr()
    ws = openpyxl.load_workbook(book)["发票"]
    table = ws.tables["tblInvoices"]
    names = [c.name for c in table.tableColumns]
    assert names[9:12] == ["争议原因", "备注2", "已收金额"] and table.ref == f"A1:{ws.cell(1, len(names)).column_letter}8"
    assert [c.value for c in ws[1]] == names and (ws["K2"].value, ws["L2"].value) == ("客户要求开专票", 10000)
    assert main(["refresh", str(book), "--as-of", "2025-06-30"]) == 0  # and again: nothing moves
    assert [c.name for c in openpyxl.load_workbook(book)["发票"].tables["tblInvoices"].tableColumns] == names


def test_a_headerless_column_right_of_the_table_is_named_and_never_overwritten(tmp_path, capsys):
    book = _typed_right_of_the_table(tmp_path, None)
    before = book.read_bytes()
    assert main(["refresh", str(book), "--as-of", "2025-06-30"]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert ('发票!K1: this column lies between the Excel Table "tblInvoices" and the columns xl-ar writes, and has '
            "no header, so the Table cannot be extended over it: type a header in K1") in out
    assert book.read_bytes() == before  # nothing written, the note in K2 kept
