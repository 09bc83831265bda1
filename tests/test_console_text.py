"""User text reaches the console as typed: markup in a cell or a path neither styles nor crashes."""

from __future__ import annotations

from corpus.build import AS_OF, invoice_cell, ledger
from xl_ar.cli import main
from xl_ar.app.demo import demo_ledger


def test_markup_in_a_cell_is_printed_as_typed(tmp_path, capsys):
    book = ledger(tmp_path / "book.xlsx", invoices=invoice_cell(due="[red]x[/red] [/]"))
    assert main(["check", str(book), "--as-of", AS_OF]) == 1
    out = capsys.readouterr().out
    assert 'Invoices!D2: due date "[red]x[/red] [/]" is not a date' in " ".join(out.split())


def test_markup_in_the_path_is_printed_after_writing(tmp_path, capsys):
    folder = tmp_path / "[bold]ar"
    folder.mkdir()
    book = ledger(folder / "[red]book.xlsx")
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    out = "".join(capsys.readouterr().out.split())
    assert "written" in out and "[bold]ar/[red]book.xlsx" in out


def test_a_demo_of_a_handful_of_customers_is_built(tmp_path):
    for n in (1, 5):
        data = demo_ledger(n)
        assert len(data["Customers"]) == n
