"""A ledger's records are its rows with something in at least one of its columns: the reader's
column-at-a-time test finds exactly the rows the whole frame's test finds."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.book.reader import _records
from xl_ar.core.convert import CellError

cells = st.sampled_from([None, "", "", float("nan"), "x", " ", 0, 0.0, False, CellError("#N/A"), "0"])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 5).flatmap(lambda width: st.lists(st.lists(cells, min_size=width, max_size=width),
                                                          max_size=30).map(lambda rows: (width, rows))))
def test_records_are_the_rows_not_blank_in_every_column(case):
    width, rows = case
    picked = pd.DataFrame(rows, columns=range(width), dtype=object) if rows else \
        pd.DataFrame({j: pd.Series([], dtype=object) for j in range(width)})
    blank = picked.isna() | (picked == "")
    expected = np.flatnonzero(~blank.all(axis=1).to_numpy()) if width else np.zeros(0, np.int64)
    assert _records(picked).tolist() == expected.tolist()


def test_a_sheet_of_blank_rows_has_no_records_and_a_full_one_every_row():
    blank = pd.DataFrame([["", None], [float("nan"), ""]], dtype=object)
    full = pd.DataFrame([["I1", ""], ["", 0]], dtype=object)
    assert _records(blank).tolist() == [] and _records(full).tolist() == [0, 1]
