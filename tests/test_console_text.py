"""User text reaches the console as typed: markup in a cell or a path neither styles nor crashes."""

from __future__ import annotations

import os

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


def test_a_fault_of_the_tool_is_one_line_and_a_file_never_a_traceback(tmp_path, capsys, monkeypatch):
    import re

    from xl_ar.core import run as core_run

    book = ledger(tmp_path / "book.xlsx")
    before = book.read_bytes()

    def broken(*a, **k):
        raise KeyError("[bold]no such column")

    monkeypatch.setattr(core_run, "assess_credit", broken)
    assert main(["refresh", str(book), "--as-of", AS_OF, "--json"]) == 70
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err  # --json stays clean: the report is on the error stream
    line = " ".join(err.split())
    assert "xl-ar stopped on an internal error (KeyError: '[bold]no such column')" in line
    details = re.search(r"the details are in (\S+xl-ar-error-\S+\.txt)", line).group(1)
    text = open(details, encoding="utf-8").read()
    assert text.startswith("xl-ar ") and "Traceback" in text and "assess_credit" not in text.splitlines()[0]
    assert "broken" in text and book.read_bytes() == before
    os.unlink(details)
    monkeypatch.setenv("XL_AR_DEBUG", "1")  # a developer's run: the exception itself
    try:
        main(["refresh", str(book), "--as-of", AS_OF, "--quiet"])
    except KeyError:
        pass
    else:
        raise AssertionError("XL_AR_DEBUG=1 should let the exception through")
