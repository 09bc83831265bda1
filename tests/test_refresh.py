"""``xl-ar refresh`` end to end on real workbooks written by openpyxl, read back by real readers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path

import openpyxl

from xl_ar.book.newbook import build_ledger_workbook
from xl_ar.cli import main

D = dt.date

CUSTOMERS = [
    ["C1", "上海华信贸易有限公司", "A", "王经理", "ap@huaxin.example", "13800000000", 30, 100000.0, "张伟", "zh"],
    ["C2", "Harbor Logistics Ltd", "B", "Ms. Lee", "ap@harbor.example", "", 60, 50000.0, "Tom Chen", "en"],
]
INVOICES = [
    ["I1", "C1", D(2025, 1, 1), D(2025, 1, 31), 10000.00, "CNY", "HT1", "货款", "", ""],
    ["I2", "C1", D(2025, 2, 1), D(2025, 3, 3), 20000.00, "CNY", "HT1", "货款", "", ""],
    ["CN3", "C1", D(2025, 3, 1), None, -3000.00, "CNY", "", "红字", "", ""],
    ["I4", "C2", D(2024, 11, 5), D(2024, 12, 5), 5000.00, "CNY", "", "Goods", "", ""],
    ["I5", "C2", D(2025, 1, 6), D(2025, 1, 20), 700.00, "CNY", "", "Goods", "是", "wrong price"],
    ["I6", "C2", D(2025, 3, 20), D(2025, 4, 19), 1234.56, "USD", "", "Service", "", ""],
    ["I7", "C1", D(2025, 5, 1), D(2025, 5, 31), 999.99, "CNY", "", "after as-of", "", ""],
]
RECEIPTS = [
    ["R1", "C1", D(2025, 2, 10), 4000.00, "CNY", "I2"],
    ["R2", "C1", D(2025, 3, 5), 15000.00, "CNY", ""],
    ["R3", "C2", D(2025, 2, 1), 9000.00, "CNY", ""],
]
AS_OF = "2025-03-31"


def write_ledger(path: Path, lang: str = "en", invoices=INVOICES, receipts=RECEIPTS) -> Path:
    wb = build_ledger_workbook(lang, {"Customers": CUSTOMERS, "Invoices": invoices, "Receipts": receipts})
    wb.save(path)
    return path


def run_json(capsys, *args) -> tuple[int, dict]:
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_refresh_prints_the_tie_out_as_json(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    code, out = run_json(capsys, "refresh", str(book), "--as-of", AS_OF)
    assert code == 0
    assert out["as_of"] == "2025-03-31"
    # CNY open: I2 8,000 (28 days late) + I5 700 disputed (70 days) = 8,700.00; I4 was paid by R3
    assert out["open_total"] == 8700.00
    assert out["buckets"] == {"Not due": 0.0, "1-30": 8000.0, "31-60": 0.0, "61-90": 700.0, ">90": 0.0}
    assert list(out["buckets"]) == ["Not due", "1-30", "31-60", "61-90", ">90"]
    assert out["unapplied"] == 4000.00  # R3 paid 9,000 against 5,000 (I5 is disputed)
    assert out["currencies"]["USD"]["open_total"] == 1234.56
    assert out["currencies"]["USD"]["buckets"]["Not due"] == 1234.56
    assert out["ties_out"] is True and out["written"] is True
    # No FxRates sheet: the USD item is left out of base-currency figures, and the run says so.
    assert out["issues"] == [{"where": "FxRates", "severity": "warning", "message":
                              "no USD rate on or before 2025-03-31: base-currency figures exclude USD 1,234.56"}]
    assert out["fx_rates"] == {} and out["fx_excluded"] == {"USD": 1234.56}


def test_refresh_writes_computed_columns_and_the_aging_sheet(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    wb = openpyxl.load_workbook(book)
    ws = wb["Invoices"]
    assert [c.value for c in ws[1]][10:] == ["Paid", "Open", "DaysLate", "Bucket", "LateFee",
                                             "Stage", "NextAction", "Channel", "Owner", "NextActionDate"]
    got = [[c.value for c in row][10:15] for row in ws.iter_rows(min_row=2, max_row=8)]
    stages = [[c.value for c in row][15:] for row in ws.iter_rows(min_row=2, max_row=8)]
    # I1 was cleared on Mar 5 by the credit note (Mar 1) and R2: 33 days late when paid.
    assert got[0] == [10000, 0, 33, None, 159]
    assert got[1][:4] == [12000, 8000, 28, "1-30"]
    assert got[2] == [None] * 5  # the credit note has no computed values
    assert got[3] == [5000, 0, 58, None, 145]  # paid by R3 on Feb 1, 58 days late
    assert got[4][:4] == [0, 700, 70, "61-90"]  # disputed: aged and accruing, not paid by FIFO
    assert got[5][:4] == [0, 1234.56, 0, "Not due"]
    assert got[6] == [None] * 5  # dated after the as-of date: does not exist yet
    assert ws["K1"].fill.fgColor.rgb.endswith("DDEBF7")  # computed header style
    # I2 is 28 days late: mild, the account owner phones, every 7 days from Mar 4 -> Apr 1
    assert stages[1] == ["Mild", "Call, WeChat or e-mail the customer; find the reason; agree a payment date",
                         "phone", "张伟", dt.datetime(2025, 4, 1)]
    assert stages[4][:2] == ["Disputed", "Resolve the dispute (not dunned meanwhile)"]
    # I6 (class B) is not due yet: the friendly letter goes 3 days before the due date
    assert stages[5] == [None, "Friendly reminder letter with the latest statement", "email", "Tom Chen", dt.datetime(2025, 4, 16)]
    assert stages[0] == [None] * 5 and stages[6] == [None] * 5  # paid; not yet issued
    assert ws.tables["tblInvoices"].ref == "A1:T8"
    aging = wb["Aging"]
    rows = list(aging.iter_rows(values_only=True))
    assert rows[0][0] == "Aging as of 2025-03-31 (by due date)"
    assert rows[2][:9] == ("CustomerID", "Name", "Currency", "Not due", "1-30", "31-60", "61-90", ">90", "Total")
    body = {r[0]: r for r in rows[3:6]}
    assert body["C1"][:9] == ("C1", "上海华信贸易有限公司", "CNY", 0, 8000, 0, 0, 0, 8000)
    assert body["C2"][:9] == ("C2", "Harbor Logistics Ltd", "CNY", 0, 0, 0, 700, 0, 700)
    assert body["C2"][10:12] == (700, 4000)  # disputed, unapplied
    flat = [r for r in rows if r and r[0]]
    assert ("= open items", 8700) in [(r[0], r[2]) for r in flat]
    assert ("Ties out", "yes") in [(r[0], r[2]) for r in flat]
    assert ("Unapplied cash (not netted)", 4000) in [(r[0], r[2]) for r in flat]


def test_late_fees_follow_the_balance_day_by_day(tmp_path):
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    ws = openpyxl.load_workbook(book)["Invoices"]
    fee = {ws.cell(r, 1).value: ws.cell(r, 15).value for r in range(2, 9)}
    # I1: due Jan 31; 10,000 owed Feb 1..Mar 1 (29 days; the credit note of Mar 1 counts from
    # Mar 2), 7,000 Mar 2..Mar 5 (4 days, R2 on Mar 5 pays it): 145.00 + 14.00 = 159.00
    assert fee["I1"] == 159.00
    # I2: due Mar 3, 16,000 open after R1; R2 pays 8,000 on Mar 5: Mar 4-5 on 16,000 (16.00),
    # Mar 6-31 on 8,000 (26 days, 104.00) = 120.00
    assert fee["I2"] == 120.00
    assert fee["I4"] == 145.00  # 5,000 from Dec 6 to Feb 1 (R3's date), 58 days
    assert fee["I5"] == 24.50  # disputed invoices accrue: 700 x 0.05% x 70 days


def test_second_refresh_changes_nothing(tmp_path):
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    first = digest(book)
    backups = sorted((tmp_path / ".xl-ar-backups").iterdir())
    assert len(backups) == 1
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    assert digest(book) == first
    assert sorted((tmp_path / ".xl-ar-backups").iterdir()) == backups  # nothing written, no new backup


def test_errors_stop_the_run_and_the_workbook_is_untouched(tmp_path, capsys):
    bad = [row[:] for row in INVOICES]
    bad[1][3] = "2025-13-01"
    bad[3][4] = "five thousand"
    book = write_ledger(tmp_path / "ledger.xlsx", invoices=bad)
    before = digest(book)
    code, out = run_json(capsys, "refresh", str(book), "--as-of", AS_OF)
    assert code == 1
    assert out["written"] is False and out["open_total"] is None
    assert out["issues"] == [
        {"where": "Invoices!D3", "message": 'due date "2025-13-01" is not a date', "severity": "error"},
        {"where": "Invoices!E5", "message": 'amount "five thousand" is not a number', "severity": "error"},
    ]
    assert digest(book) == before
    assert not (tmp_path / ".xl-ar-backups").exists()


def test_refuses_a_workbook_open_in_excel(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    (tmp_path / "~$ledger.xlsx").write_bytes(b"owner")
    before = digest(book)
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 2
    assert "open" in capsys.readouterr().out.lower()
    assert digest(book) == before


def test_check_validates_without_writing(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    before = digest(book)
    code, out = run_json(capsys, "check", str(book), "--as-of", AS_OF)
    assert code == 0 and out["written"] is False and out["open_total"] == 8700.0
    assert digest(book) == before


def test_a_chinese_workbook_gets_chinese_labels(tmp_path):
    book = write_ledger(tmp_path / "台账.xlsx", lang="zh")
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames[-5:] == ["账龄分析", "催收工作表", "预警表", "仪表板", "法律准备"]
    assert [c.value for c in wb["发票"][1]][10:] == ["已收金额", "未收金额", "逾期天数", "账龄段", "滞纳金",
                                                   "催收阶段", "下一步行动", "方式", "负责人", "下次跟进日期"]
    assert [c.value for c in wb["发票"][3]][15:19] == ["轻度", "电话、微信或邮件联系客户，了解逾期原因，约定付款日期", "电话", "张伟"]
    assert wb["发票"]["N3"].value == "1-30天"
    assert wb["账龄分析"]["A1"].value == "账龄分析 截止 2025-03-31（按到期日）"


def test_new_creates_an_empty_ledger_that_checks_clean(tmp_path, capsys):
    path = tmp_path / "new.xlsx"
    assert main(["new", str(path), "--lang", "en"]) == 0
    assert main(["new", str(path)]) == 2  # never overwrites by accident
    capsys.readouterr()
    code, out = run_json(capsys, "check", str(path), "--as-of", AS_OF)
    assert code == 0 and out["open_total"] == 0.0 and out["issues"] == []
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Settings", "Customers", "Invoices", "Receipts", "Activities", "Stages"]
    inv = wb["Invoices"]
    assert inv.freeze_panes == "A2" and "tblInvoices" in inv.tables
    assert any("A,B,C" in dv.formula1 for dv in wb["Customers"].data_validations.dataValidation)


def test_a_missing_column_names_the_sheet(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    wb = openpyxl.load_workbook(book)
    wb["Invoices"]["E1"] = "Betrag"  # the Amount header renamed to something unknown
    wb.save(book)
    code, out = run_json(capsys, "check", str(book), "--as-of", AS_OF)
    assert code == 1
    assert {"where": "Invoices", "message": 'required column "Amount" is missing', "severity": "error"} in out["issues"]


def test_not_a_workbook_is_refused_clearly(tmp_path, capsys):
    fake = tmp_path / "ledger.xlsx"
    fake.write_text("not a zip")
    assert main(["check", str(fake)]) == 2
    assert "error" in capsys.readouterr().out


def test_zip_members_other_than_ours_are_untouched(tmp_path):
    book = write_ledger(tmp_path / "ledger.xlsx")
    with zipfile.ZipFile(book) as z:
        before = {i.filename: z.read(i.filename) for i in z.infolist()}
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    with zipfile.ZipFile(book) as z:
        after = {i.filename: z.read(i.filename) for i in z.infolist()}
    changed = {n for n in before if before[n] != after.get(n)}
    assert changed <= {"xl/worksheets/sheet3.xml", "xl/styles.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                       "[Content_Types].xml", "xl/tables/table3.xml", "docProps/app.xml",
             "xl/worksheets/sheet2.xml", "xl/tables/table2.xml"}
    assert "xl/worksheets/sheet3.xml" in changed


def test_a_plain_range_with_title_rows_and_user_columns(tmp_path, capsys):
    """No Excel Table, a title above the header, Chinese headers, a user column to the right."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "应收台账"
    ws.append(["2025年应收账款台账"])
    ws.append([])
    ws.append(["发票号", "客户编号", "开票日期", "到期日", "金额", "我的备注"])
    ws.append(["A-1", "K1", D(2025, 1, 1), D(2025, 1, 31), 1000.0, "keep me"])
    ws.append(["A-2", "K1", D(2025, 2, 1), D(2025, 3, 3), "2,000.50", None])
    rec = wb.create_sheet("收款")
    rec.append(["收款单号", "客户编号", "收款日期", "金额"])
    rec.append(["S-1", "K1", D(2025, 2, 15), 500.0])
    wb.create_sheet("客户").append(["客户编号", "客户名称"])
    wb["客户"].append(["K1", "北京客户"])
    book = tmp_path / "plain.xlsx"
    wb.save(book)
    code, out = run_json(capsys, "refresh", str(book), "--as-of", AS_OF)
    assert code == 0, out
    assert out["open_total"] == 2500.50
    assert out["buckets"] == {"未到期": 0.0, "1-30天": 2000.5, "31-60天": 500.0, "61-90天": 0.0, "90天以上": 0.0}
    ws = openpyxl.load_workbook(book)["应收台账"]
    assert [c.value for c in ws[3]][:11] == ["发票号", "客户编号", "开票日期", "到期日", "金额", "我的备注",
                                             "已收金额", "未收金额", "逾期天数", "账龄段", "滞纳金"]
    # 1,000 from Feb 1 to Feb 15 (S-1's date) = 7.50, then 500 for 44 days = 11.00
    assert [c.value for c in ws[4]][5:11] == ["keep me", 500, 500, 59, "31-60天", 18.5]
    assert ws["A1"].value == "2025年应收账款台账"
    # the user adds a column to the right of ours: the next refresh leaves it where it is
    wb = openpyxl.load_workbook(book)
    wb["应收台账"]["Q3"] = "跟进人"
    wb["应收台账"]["Q4"] = "小王"
    wb.save(book)
    assert main(["refresh", str(book), "--as-of", "2025-04-30"]) == 0
    ws = openpyxl.load_workbook(book)["应收台账"]
    row = [c.value for c in ws[4]]
    assert row[6:11] == [500, 500, 89, "61-90天", 26] and row[11] == "中度" and row[16] == "小王"  # 7.50 + 74 x 0.25


def test_refresh_writes_credit_columns_on_customers(tmp_path):
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    ws = openpyxl.load_workbook(book)["Customers"]
    head = [c.value for c in ws[1]]
    first = head.index("AvgDaysLate")
    assert head[first:] == ["AvgDaysLate", "OnTimeRate", "Exposure", "Available", "OverLimit", "Score", "Grade",
                            "SuggestedLimit", "LimitReason", "SuggestedTerms", "Hold", "HoldReason", "NextReview"]
    c1 = dict(zip(head[first:], [c.value for c in ws[2]][first:]))
    c2 = dict(zip(head[first:], [c.value for c in ws[3]][first:]))
    # C1 paid I1 33 days late; I2 is 28 days overdue (> 15): on hold; both count: (33 + 28) / 2
    assert (c1["AvgDaysLate"], c1["OnTimeRate"], c1["Exposure"], c1["Available"]) == (30.5, 0, 8000, 92000)
    assert (c1["OverLimit"], c1["Hold"], c1["HoldReason"]) == (None, "yes", "I2 overdue 28 days > 15")
    assert c1["NextReview"] == dt.datetime(2025, 3, 31)  # never reviewed: due now
    # C2: the 4,000 unapplied cash covers the disputed 700: no exposure; disputes do not hold
    assert (c2["AvgDaysLate"], c2["OnTimeRate"], c2["Exposure"], c2["Available"], c2["Hold"]) == (58, 0, 0, 50000, None)
    assert c1["Grade"] in "ABCD" and 0 <= c1["Score"] <= 100


def test_a_bare_invoice_list_is_enough(tmp_path, capsys):
    """Only an invoice sheet, the customer named by its name: aged, with warnings, not refused."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "应收台账"
    ws.append(["发票号", "客户", "开票日期", "到期日", "金额"])
    ws.append(["A1", "北京客户", D(2025, 1, 1), D(2025, 1, 31), 1000.0])
    book = tmp_path / "only.xlsx"
    wb.save(book)
    code, out = run_json(capsys, "refresh", str(book), "--as-of", AS_OF)
    assert code == 0 and out["open_total"] == 1000.0 and out["buckets"]["31-60天"] == 1000.0
    assert [(i["where"], i["severity"]) for i in out["issues"]] == [("Receipts", "warning"), ("Customers", "warning")]
    row = [c.value for c in openpyxl.load_workbook(book)["应收台账"][2]]
    assert row[5:10] == [0, 1000, 59, "31-60天", 29.5]  # 1,000 x 0.05% x 59 days


def test_a_1904_date_system_workbook_is_refused_not_misdated(tmp_path, capsys):
    book = write_ledger(tmp_path / "mac.xlsx")
    wb = openpyxl.load_workbook(book)
    wb.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    wb.save(book)
    before = digest(book)
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 2
    assert "1904 date system" in capsys.readouterr().out
    assert digest(book) == before


def test_a_sheet_autofilter_reaches_the_computed_columns(tmp_path):
    """A ledger filtered with Excel's AutoFilter (no Table): after the refresh the filter and its
    hidden name cover the computed columns and every row, and a second refresh keeps them."""
    path = write_ledger(tmp_path / "ledger.xlsx")
    wb = openpyxl.load_workbook(path)
    wb["Invoices"].auto_filter.ref = "A1:J5"  # the user's columns, not every row
    wb.save(path)
    assert main(["refresh", str(path), "--as-of", AS_OF, "--quiet"]) == 0
    wb = openpyxl.load_workbook(path)
    ws = wb["Invoices"]
    last = openpyxl.utils.get_column_letter(ws.max_column)
    assert ws.max_column > 10 and ws.auto_filter.ref == f"A1:{last}{len(INVOICES) + 1}"
    workbook_xml = zipfile.ZipFile(path).read("xl/workbook.xml").decode()
    assert f"Invoices!$A$1:${last}${len(INVOICES) + 1}</definedName>" in workbook_xml
    once = digest(path)
    assert main(["refresh", str(path), "--as-of", AS_OF, "--quiet"]) == 0
    assert digest(path) == once
