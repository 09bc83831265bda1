"""What a new user meets in the first hour, each checked on a real workbook: the Settings sheet
lists what works, labels are in the book's language, and what the tool says is true."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

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
