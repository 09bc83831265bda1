"""The sheets the tool writes wholly (Aging, the reports, Legal), made in a process forked while
the run splices the computed columns, are the sheets the run makes itself: the same workbook."""

from __future__ import annotations

import os
import zipfile

import pytest

from xl_ar.book import writer
from xl_ar.core import beside as bs


def _parts(book):
    """Every part of a workbook but the time it was saved at (docProps/core.xml)."""
    with zipfile.ZipFile(book) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def _made_on(monkeypatch):
    """The list that gets the process id each time the owned sheets are rendered."""
    seen = []
    real = writer.owned_parts
    monkeypatch.setattr(writer, "owned_parts", lambda *a, **k: seen.append(os.getpid()) or real(*a, **k))
    return seen


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_owned_sheets_made_beside_are_those_made_here(monkeypatch, tmp_path, lang):
    from xl_ar.app.demo import DEMO_AS_OF, write_demo_ledger
    from xl_ar.cli import main

    monkeypatch.setenv("XL_AR_WORKERS", "2")
    if bs.workers() < 2:
        pytest.skip("this system cannot fork")
    here, made = (write_demo_ledger(tmp_path / f"{k}.xlsx", lang, n_customers=120) for k in ("here", "beside"))
    monkeypatch.setattr(writer, "OWNED_BESIDE_INVOICES", 10**9)
    pids = _made_on(monkeypatch)
    assert main(["refresh", str(here), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == 0
    assert pids == [os.getpid()]  # made here
    monkeypatch.setattr(writer, "OWNED_BESIDE_INVOICES", 0)
    pids.clear()
    assert main(["refresh", str(made), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == 0
    assert pids == []  # made in the child: this process never rendered them
    got, want = _parts(made), _parts(here)
    assert got == want
    names = zipfile.ZipFile(made).read("xl/workbook.xml").decode()
    assert all(n in names for n in (("Aging", "Legal") if lang == "en" else ("账龄分析", "法律准备")))


def test_a_child_that_dies_costs_only_time(monkeypatch, tmp_path):
    from xl_ar.app.demo import DEMO_AS_OF, write_demo_ledger
    from xl_ar.cli import main

    monkeypatch.setenv("XL_AR_WORKERS", "2")
    if bs.workers() < 2:
        pytest.skip("this system cannot fork")
    here, made = (write_demo_ledger(tmp_path / f"{k}.xlsx", "en", n_customers=60) for k in ("here", "dies"))
    assert main(["refresh", str(here), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == 0
    monkeypatch.setattr(writer, "OWNED_BESIDE_INVOICES", 0)
    parent, real = os.getpid(), writer.owned_parts

    def dies_in_child(*a, **k):
        if os.getpid() != parent:
            os._exit(9)  # killed, say
        return real(*a, **k)

    monkeypatch.setattr(writer, "owned_parts", dies_in_child)
    assert main(["refresh", str(made), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == 0
    assert _parts(made) == _parts(here)

