"""Properties of a whole refresh over random ledgers written to real workbooks."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from test_refresh import write_ledger
from xl_ar.cli import main

BASE = dt.date(2025, 1, 1)


@st.composite
def ledgers(draw):
    n_inv = draw(st.integers(1, 15))
    invoices = []
    for i in range(n_inv):
        idate = BASE + dt.timedelta(days=draw(st.integers(0, 120)))
        amount = draw(st.integers(1, 2_000_000)) / 100 * draw(st.sampled_from([1, 1, 1, -1]))
        due = idate + dt.timedelta(days=draw(st.integers(0, 60))) if amount > 0 else None
        invoices.append([f"I{i}", draw(st.sampled_from(["C1", "C2"])), idate, due, amount,
                         draw(st.sampled_from(["CNY", "CNY", "USD"])), "", "", draw(st.sampled_from(["", "", "是"])), ""])
    receipts = []
    for r in range(draw(st.integers(0, 10))):
        receipts.append([f"R{r}", draw(st.sampled_from(["C1", "C2"])), BASE + dt.timedelta(days=draw(st.integers(0, 200))),
                         draw(st.integers(1, 1_500_000)) / 100, draw(st.sampled_from(["CNY", "USD"])),
                         draw(st.sampled_from(["", f"I{draw(st.integers(0, n_inv - 1))}"]))])
    as_of = BASE + dt.timedelta(days=draw(st.integers(0, 240)))
    return invoices, receipts, as_of


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ledgers())
def test_refresh_is_idempotent_and_ties_out(capsys, book):
    invoices, receipts, as_of = book
    with tempfile.TemporaryDirectory() as tmp:
        path = write_ledger(Path(tmp) / "l.xlsx", invoices=invoices, receipts=receipts)
        assert main(["refresh", str(path), "--as-of", as_of.isoformat(), "--json"]) == 0
        first_out = json.loads(capsys.readouterr().out)
        first = digest(path)
        # the same as-of date again: nothing changes
        assert main(["refresh", str(path), "--as-of", as_of.isoformat(), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["written"] is False
        assert digest(path) == first
        # another date and back: the same file as the first refresh
        later = (as_of + dt.timedelta(days=45)).isoformat()
        assert main(["refresh", str(path), "--as-of", later, "--json"]) == 0
        capsys.readouterr()
        assert main(["refresh", str(path), "--as-of", as_of.isoformat(), "--json"]) == 0
        capsys.readouterr()
        assert digest(path) == first
    for block in [first_out, *first_out.get("currencies", {}).values()]:
        assert block["ties_out"] is True
        assert round(sum(block["buckets"].values()), 2) == block["open_total"]
        assert round(block["invoiced"] - block["credit_applied"] - block["received_applied"], 2) == block["open_total"]
