"""Aging (账龄分析): open items into buckets at an as-of date, and the tie-out.

Buckets: a not-yet-due bucket, one bucket per pair of edges (1-30, 31-60, 61-90 with the
default edges 30,60,90) and an over-the-last-edge bucket (>90). With ``basis="due"`` an overdue
item is aged by days past its due date; with ``basis="invoice"`` by days since its invoice
date. Items not yet due are "not due" on either basis: they are not late.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

NOT_DUE = {"en": "Not due", "zh": "未到期"}


@dataclass(frozen=True)
class AgingEdges:
    """Bucket edges in days, strictly increasing and positive, e.g. (30, 60, 90)."""

    edges: tuple[int, ...] = (30, 60, 90)

    def __post_init__(self) -> None:
        if not self.edges or any(e <= 0 for e in self.edges) or list(self.edges) != sorted(set(self.edges)):
            raise ValueError(f"aging edges must be increasing positive day counts, got {self.edges}")

    @classmethod
    def parse(cls, text: str | tuple[int, ...] | None) -> "AgingEdges":
        """Build from "30,60,90" (or a tuple); None gives the default."""
        if text is None or (isinstance(text, str) and not text.strip()):
            return cls()
        if isinstance(text, str):
            return cls(tuple(int(p) for p in text.replace("，", ",").split(",") if p.strip()))
        return cls(tuple(int(x) for x in text))

    def labels(self, lang: str = "en") -> list[str]:
        """Bucket labels in order: not due, 1-30, 31-60, 61-90, >90 (or 未到期, 1-30天, ...)."""
        out = [NOT_DUE.get(lang, NOT_DUE["en"])]
        lo = 1
        unit = "天" if lang == "zh" else ""
        for e in self.edges:
            out.append(f"{lo}-{e}{unit}")
            lo = e + 1
        out.append(f"{self.edges[-1]}天以上" if lang == "zh" else f">{self.edges[-1]}")
        return out


def days_between(later: np.ndarray | dt.date, earlier: np.ndarray) -> np.ndarray:
    """Whole days ``later - earlier`` for datetime64 arrays (NaT gives a large negative)."""
    a = np.asarray(np.datetime64(later, "D") if isinstance(later, dt.date) else later, dtype="datetime64[D]")
    b = np.asarray(earlier, dtype="datetime64[D]")
    d = (a - b).astype(np.int64)
    return np.where(np.isnat(b) | np.isnat(a), np.iinfo(np.int64).min // 2, d)


def bucket_index(days_late: np.ndarray, age_days: np.ndarray, edges: AgingEdges) -> np.ndarray:
    """Bucket number per item: 0 = not due, 1..len(edges) = between edges, last = over.

    Args:
        days_late: days past the due date (<= 0 means not yet due).
        age_days: the days the item is aged by (= days_late for the due basis).
        edges: the bucket edges.
    """
    idx = np.searchsorted(np.asarray(edges.edges), age_days, side="left") + 1
    return np.where(days_late <= 0, 0, idx).astype(np.int64)


def age_open_items(
    due_date: np.ndarray, invoice_date: np.ndarray, as_of: dt.date, edges: AgingEdges, basis: str = "due"
) -> tuple[np.ndarray, np.ndarray]:
    """Days late and bucket number of each item at the as-of date.

    Args:
        due_date, invoice_date: datetime64 arrays.
        as_of: the as-of date.
        edges: bucket edges.
        basis: "due" or "invoice".

    Returns:
        (days_late, bucket) int64 arrays; days_late may be negative (days until due).
    """
    days_late = days_between(as_of, due_date)
    age = days_late if basis == "due" else days_between(as_of, invoice_date)
    return days_late, bucket_index(days_late, age, edges)


def aging_table(
    customer_id: np.ndarray, currency: np.ndarray, bucket: np.ndarray, open_minor: np.ndarray, n_buckets: int
) -> pd.DataFrame:
    """Sum open amounts per (customer, currency) and bucket.

    Returns:
        DataFrame with ``customer_id``, ``currency``, ``b0``..``b{n-1}`` (minor units) and
        ``total``; one row per pair that has an open item, sorted by customer then currency.
    """
    mask = open_minor != 0
    df = pd.DataFrame({"customer_id": customer_id[mask], "currency": currency[mask],
                       "bucket": bucket[mask], "open": open_minor[mask]})
    if df.empty:
        return pd.DataFrame(columns=["customer_id", "currency", *[f"b{i}" for i in range(n_buckets)], "total"])
    pivot = df.pivot_table(index=["customer_id", "currency"], columns="bucket", values="open",
                           aggfunc="sum", fill_value=0)
    pivot = pivot.reindex(columns=range(n_buckets), fill_value=0)
    pivot.columns = [f"b{i}" for i in range(n_buckets)]
    pivot = pivot.astype(np.int64)
    pivot["total"] = pivot.sum(axis=1)
    return pivot.reset_index().sort_values(["customer_id", "currency"], kind="stable").reset_index(drop=True)
