"""Documents in bulk: the statements a run slices from one shared source, checked on random
ledgers against a plain reference computed row by row from the ledger itself, and against the
one-customer-at-a-time path (a whole refresh per statement)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import given, settings, strategies as st

from test_refresh import write_ledger
from test_refresh_properties import ledgers
from xl_ar.app.refresh import load
from xl_ar.book.reader import read_book
from xl_ar.core.run import refresh
from xl_ar.documents.statements import StatementSource, build_statements


def reference(invoices, receipts, start: dt.date, end: dt.date) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """(customer, currency) -> (opening, invoiced, paid or credited, closing) in minor units, summed row by row."""
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    moves = [(r[1], r[5], r[2], round(r[4] * 100)) for r in invoices] + \
            [(r[1], r[4], r[2], -round(r[3] * 100)) for r in receipts]
    for customer, currency, day, move in moves:
        if day > end:
            continue
        acc = out[(customer, currency)]
        if day < start:
            acc[0] += move
        elif move > 0:
            acc[1] += move
        else:
            acc[2] += -move
    return {k: (o, d, c, o + d - c) for k, (o, d, c) in out.items()}


@settings(max_examples=25, deadline=None)
@given(ledgers(), st.integers(0, 45))
def test_statements_from_one_source_match_a_plain_reference(book, back):
    invoices, receipts, as_of = book
    start = as_of - dt.timedelta(days=back)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_ledger(Path(tmp) / "l.xlsx", invoices=invoices, receipts=receipts)
        ledger, settings_, _, issues = load(read_book(path), as_of, as_of)
    assert not [i for i in issues if i.severity == "error"], issues
    source = StatementSource(ledger, settings_, as_of, refresh(ledger, settings_, as_of))
    fast = source.statements(start)
    expected = reference(invoices, receipts, start, as_of)
    got = {(s.customer_id, x.currency): (x.opening_minor, x.debit_minor, x.credit_minor, x.closing_minor)
           for s in fast for x in s.sections}
    # every section stated is the reference's; a (customer, currency) left out has nothing to state
    assert {k: v for k, v in got.items()} == {k: v for k, v in expected.items() if k in got}
    assert all(v == (0, 0, 0, 0) for k, v in expected.items() if k not in got)
    # the same statements as one whole run per customer
    for s in fast:
        assert [s] == build_statements(ledger, settings_, start, as_of, customers=[s.customer_id])
