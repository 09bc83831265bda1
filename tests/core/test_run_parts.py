"""A refresh computes only the parts its caller asks for, and those exactly as a full one."""

from __future__ import annotations

import pandas as pd

from xl_ar.app.demo import DEMO_AS_OF, write_demo_ledger
from xl_ar.app.refresh import load
from xl_ar.book.reader import read_book
from xl_ar.core import run as core_run


def test_parts_left_out_are_none_and_the_rest_equals_a_full_refresh(tmp_path, monkeypatch):
    ledger, settings, policies, issues = load(read_book(write_demo_ledger(tmp_path / "d.xlsx", "en", n_customers=60)),
                                              DEMO_AS_OF, DEMO_AS_OF)
    full = core_run.refresh(ledger, settings, DEMO_AS_OF, policies)
    called = []
    monkeypatch.setattr(core_run, "compute_kpis", lambda *a, **k: called.append("kpis"))
    some = core_run.refresh(ledger, settings, DEMO_AS_OF, policies, parts=("stages", "legal"))
    assert called == [] and (some.kpis, some.credit, some.worklist, some.warning) == (None, None, None, None)
    pd.testing.assert_frame_equal(some.stages, full.stages)
    pd.testing.assert_frame_equal(some.legal, full.legal)
    pd.testing.assert_frame_equal(some.invoices, full.invoices)
    bare = core_run.refresh(ledger, settings, DEMO_AS_OF, policies, parts=())
    assert bare.stages is None and bare.legal is None and bare.tieouts == full.tieouts
    pd.testing.assert_frame_equal(bare.aging, full.aging)
