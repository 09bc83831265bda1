"""``xl-ar demo`` end to end on a small sample: the ledger, its refresh and its documents."""

import email
import email.policy

import openpyxl
from rich.console import Console

from xl_ar.app.demo import DEMO_AS_OF, demo_ledger, run_demo
from xl_ar.cli.ledger import print_report


def test_the_sample_ledger_is_deterministic_and_has_its_bad_rows():
    a, b = demo_ledger(30), demo_ledger(30)
    assert a == b
    assert len(a["Customers"]) == 30 and len(a["Invoices"]) > 200
    assert any(r[1] == "C9999" for r in a["Receipts"])  # a receipt for an unknown customer: a warning
    assert any(r[4] < 0 for r in a["Invoices"])  # credit notes
    assert any(r[8] == "是" for r in a["Invoices"])  # disputes


def test_demo_refreshes_and_writes_every_kind_of_document(tmp_path):
    result = run_demo(tmp_path, "zh", 30)
    assert result.ok
    console = Console(record=True, width=120)
    for step in result.steps:
        if step.report is not None:
            print_report(step.report, console)
    text = console.export_text()
    assert "tie-out" in text and "= sum of buckets" in text
    book = tmp_path / "演示台账.xlsx"
    wb = openpyxl.load_workbook(book)
    assert {"账龄分析", "催收工作表", "预警表", "仪表板", "发件箱"} <= set(wb.sheetnames)
    assert wb["设置"]["B2"].value.date() == DEMO_AS_OF
    drafts = sorted((tmp_path / "reminders").glob("*.eml"))
    assert drafts
    msg = email.message_from_bytes(drafts[0].read_bytes(), policy=email.policy.default)
    assert msg["From"].addresses[0].addr_spec == "ar@demo.example"
    assert [p.get_filename() for p in msg.iter_attachments()][0].startswith("ST-")
    statements = tmp_path / "statements"
    pdfs, books = sorted(statements.glob("*.pdf")), sorted(statements.glob("*.xlsx"))
    assert len(books) >= 10 and [p.stem for p in pdfs] == [b.stem for b in books]  # each statement as both


def test_the_demo_command_prints_its_summary(tmp_path, capsys):
    from xl_ar.cli import main

    assert main(["demo", "--out", str(tmp_path), "--customers", "12"]) == 0
    out = capsys.readouterr().out
    assert "sample ledger:" in out and "reminders" in out and "statements" in out
