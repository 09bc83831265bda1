"""Customer references: a customer cell may hold the customer's code or its name.

Many ledgers key invoices and receipts by the customer's name (客户名称, 购货单位, 付款单位)
rather than a code. A reference is resolved to the Customers sheet's ``customer_id`` as
follows, and nothing else is guessed:

1. the cell equals a customer ID exactly: that customer;
2. otherwise, after folding (Unicode NFKC, so full-width forms become ASCII; case folded; all
   white space removed), it equals exactly one customer's folded ID or folded name: that customer;
3. it matches two or more customers: ambiguous, left as written, with a warning naming the cell;
4. it matches none: unknown, left as written (validation warns that it is not on the sheet).

There is no fuzzy matching: 有限公司 and 有限责任公司 are different names, as are "ACME Ltd"
and "ACME Limited".
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd


def fold_name(text: object) -> str:
    """A name folded for matching: NFKC, case-folded, without any white space.

    Args:
        text: the cell's text.

    Returns:
        The folded text ("" for a blank cell).
    """
    s = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(s.split())


class CustomerIndex:
    """The Customers sheet's IDs and names, indexed for resolving references."""

    def __init__(self, customers: pd.DataFrame):
        ids = customers["customer_id"].to_numpy(dtype=object)
        names = customers["name"].to_numpy(dtype=object) if "name" in customers else np.full(len(ids), "", object)
        self.ids = {i for i in ids if i != ""}
        self.ambiguous: set[str] = set()  # references found ambiguous so far, already reported
        self.folded: dict[str, set[str]] = {}
        for cid, name in zip(ids, names):
            if cid == "":
                continue
            for key in {fold_name(cid), fold_name(name)} - {""}:
                self.folded.setdefault(key, set()).add(cid)

    def resolve(self, refs: np.ndarray) -> tuple[np.ndarray, list[tuple[int, list[str]]]]:
        """Resolve customer references to customer IDs.

        Args:
            refs: the cells' text ("" for blank), one per row.

        Returns:
            (ids, ambiguous): ``ids`` holds the resolved ID, or the cell's text where it is
            unknown or ambiguous; ``ambiguous`` lists (position, candidate IDs) per ambiguous cell.
        """
        out = np.asarray(refs, dtype=object).copy()
        ambiguous: list[tuple[int, list[str]]] = []
        cache: dict[str, set[str]] = {}
        for pos, ref in enumerate(out):
            if ref == "" or ref in self.ids:
                continue
            hits = cache.get(ref)
            if hits is None:
                hits = cache[ref] = self.folded.get(fold_name(ref), set())
            if len(hits) == 1:
                out[pos] = next(iter(hits))
            elif len(hits) > 1:
                ambiguous.append((pos, sorted(hits)))
                self.ambiguous.add(ref)
        return out, ambiguous
