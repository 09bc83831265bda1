"""``xl-ar plan`` and ``xl-ar instalments`` write payment plans into a real workbook."""

import datetime as dt
import json
import zipfile

import openpyxl

from test_refresh import write_ledger
from xl_ar.cli import main


def test_plan_turns_terms_into_invoice_rows_that_sum_exactly(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    args = ["plan", str(book), "--customer", "C1", "--contract", "HT-9", "--amount", "100000.01",
            "--terms", "30%@0，60%@验收+30，10%@365", "--start", "2025-01-01", "--events", "验收=2025-03-31"]
    before = book.read_bytes()
    assert main(args) == 0 and book.read_bytes() == before  # without --write nothing changes
    with zipfile.ZipFile(book) as z:
        others = {n: z.read(n) for n in z.namelist() if n != "xl/worksheets/sheet3.xml" and "table3" not in n}
    assert main([*args, "--write"]) == 0
    rows = list(openpyxl.load_workbook(book)["Invoices"].iter_rows(min_row=9, values_only=True))
    assert [r[:7] for r in rows] == [
        ("HT-9-1", "C1", dt.datetime(2025, 1, 1), dt.datetime(2025, 1, 1), 30000, "CNY", "HT-9"),
        ("HT-9-2", "C1", dt.datetime(2025, 4, 30), dt.datetime(2025, 4, 30), 60000.01, "CNY", "HT-9"),
        ("HT-9-3", "C1", dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1), 10000, "CNY", "HT-9"),
    ]
    with zipfile.ZipFile(book) as z:
        assert all(z.read(n) == data for n, data in others.items() if n in z.namelist())
    assert main(["plan", str(book), "--customer", "C1", "--contract", "X", "--amount", "10", "--terms", "30%@0",
                 "--start", "2025-01-01"]) == 1  # shares must add up to 100%
    assert "100%" in capsys.readouterr().out


def test_an_instalment_agreement_is_tracked_like_promises(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert main(["instalments", str(book), "--customer", "C1", "--invoice", "I2", "--amount", "8000",
                 "--first", "2025-04-30", "--agreed-on", "2025-04-01", "--by", "张伟", "--write"]) == 0
    log = list(openpyxl.load_workbook(book)["Activities"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[2], r[6], r[7], r[8]) for r in log] == [
        (dt.datetime(2025, 4, 1), "I2", None, None, "agreement"),
        (dt.datetime(2025, 4, 1), "I2", dt.datetime(2025, 4, 30), 2746.67, None),  # 2,666.67 + 1% of 8,000
        (dt.datetime(2025, 4, 1), "I2", dt.datetime(2025, 5, 30), 2720.00, None),  # 2,666.67 + 1% of 5,333.33
        (dt.datetime(2025, 4, 1), "I2", dt.datetime(2025, 6, 29), 2693.33, None),  # 2,666.66 + 1% of 2,666.66
    ]
    capsys.readouterr()
    assert main(["refresh", str(book), "--as-of", "2025-04-20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stages"]["promised"] == 1
    # the first instalment was not paid: the promise is broken and the invoice escalates
    assert main(["refresh", str(book), "--as-of", "2025-05-31", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stages"]["severe"] == 1
    ws = openpyxl.load_workbook(book)["Invoices"]
    assert ws["P3"].value == "Severe"  # 89 days late is moderate; the broken promise escalates it


def test_a_plan_for_a_customer_or_invoice_the_book_lacks_is_refused(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    before = book.read_bytes()
    base = ["--amount", "8000", "--first", "2025-04-30", "--write"]
    assert main(["instalments", str(book), "--customer", "C1", "--invoice", "NOPE", *base]) == 1
    assert 'invoice "NOPE" is not on the Invoices sheet; nothing written' in capsys.readouterr().out
    assert main(["instalments", str(book), "--customer", "ZZZ", *base]) == 1
    assert 'customer "ZZZ" is not on the Customers sheet; nothing written' in capsys.readouterr().out
    assert main(["instalments", str(book), "--customer", "C2", "--invoice", "I2", *base]) == 1
    assert 'invoice "I2" is customer C1\'s, not C2\'s' in capsys.readouterr().out
    assert main(["instalments", str(book), "--customer", "Harbor Logistics Ltd", *base]) == 1
    assert 'is the name of C2: give its CustomerID' in capsys.readouterr().out.replace("\n", " ")
    assert main(["plan", str(book), "--customer", "ZZZ", "--contract", "HT-9", "--amount", "100",
                 "--terms", "100%@0", "--start", "2025-01-01", "--write"]) == 1
    assert 'customer "ZZZ" is not on the Customers sheet' in capsys.readouterr().out
    assert book.read_bytes() == before
    assert main(["instalments", str(tmp_path / "missing.xlsx"), "--customer", "C1", *base]) == 2


def test_instalment_notes_are_in_the_books_language(tmp_path, capsys):
    book = write_ledger(tmp_path / "台账.xlsx", lang="zh")
    assert main(["instalments", str(book), "--customer", "C1", "--invoice", "I2", "--amount", "8000",
                 "--first", "2025-04-30", "--agreed-on", "2025-04-01", "--write"]) == 0
    log = list(openpyxl.load_workbook(book)["催收日志"].iter_rows(min_row=2, values_only=True))
    assert [(r[5], r[8]) for r in log] == [
        ("分期还款协议：共3期，本金 8,000.00，利息 160.00，首期 2025-04-30", "分期协议"),
        ("第1/3期：本金 2,666.67 + 利息 80.00", None),
        ("第2/3期：本金 2,666.67 + 利息 53.33", None),
        ("第3/3期：本金 2,666.66 + 利息 26.67", None),
    ]
