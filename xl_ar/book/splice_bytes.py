"""Byte-level pieces of the splice (:mod:`xl_ar.book.splice`), shared with the scans made ahead of
it (:mod:`xl_ar.book.splice_scan`): every occurrence of a tag, a buffer less some spans of it,
and the rows' ``spans`` hints widened over the computed columns."""

from __future__ import annotations

import re
from typing import Any

import numpy as np


def find_all(buf: bytes, needle: bytes) -> np.ndarray:
    """Offsets of every occurrence of ``needle`` in ``buf`` (non-overlapping), as an array."""
    return np.fromiter((m.start() for m in re.finditer(re.escape(needle), buf)), dtype=np.int64)


def without(xml: bytes, runs: np.ndarray) -> bytes:
    """``xml`` without the spans ``runs`` ((start, stop) rows, in order); ``xml`` itself when none."""
    if not len(runs):
        return xml
    view = memoryview(xml)
    keep = zip(np.r_[0, runs[:, 1]].tolist(), np.r_[runs[:, 0], len(xml)].tolist())
    return b"".join([view[a:b] for a, b in keep])


def widen_spans(region: bytes, pat: Any, lo: int, hi: int) -> bytes:
    """Widen each row's ``spans`` hint (used columns) in ``region`` to cover columns ``lo``..``hi``
    (``region`` itself when none needs it)."""
    table = {}
    for old in set(pat.spans.findall(region)):
        try:
            nums = [int(x) for part in old.split() for x in part.split(b":")]
        except ValueError:
            continue
        new = f"{min(nums + [lo])}:{max(nums + [hi])}".encode()
        if new != old:
            table[old] = new
    if len(table) <= 8:  # Excel repeats one value per block of 16 rows: a few C-level passes
        for old, new in table.items():
            region = region.replace(b' spans="' + old + b'"', b' spans="' + new + b'"')
        return region
    return pat.spans.sub(lambda m: b' spans="' + table.get(m.group(1), m.group(1)) + b'"', region)
