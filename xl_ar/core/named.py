"""The invoices that receipts and credit notes name by number, found in one hashing pass.

Validation needs them (a receipt naming another customer's invoice, a credit note naming an
invoice not on the sheet), and so does every run: the allocation pays a named invoice first,
the KPIs and the trend follow the same links. At a full sheet, hashing a million invoice
numbers costs about a quarter of a second each time; so validation finds them once, for all
three columns together, and the ledger keeps the positions it found (:class:`NamedRows`) for
the run's keys (:class:`xl_ar.core.keys.LedgerKeys`), which take them only for the very frames
they were found in.

The (customer, currency) group of each invoice and receipt, by which the allocation and the
trend go, is likewise made from the codes validation gave those columns
(:func:`coded_groups`), instead of hashing their million texts again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xl_ar.core.convert import first_positions


def _found_in(invoices: pd.DataFrame, receipts: pd.DataFrame, kept: NamedRows | GroupRows,
              per_invoice: np.ndarray, per_receipt: np.ndarray) -> bool:
    """Whether ``invoices`` and ``receipts`` are the very frames ``kept`` was found in, still of
    the lengths of its per-invoice and per-receipt arrays (a frame changed or replaced since, or
    a part of one, is looked up again)."""
    return invoices is kept.invoices and receipts is kept.receipts and len(invoices) == len(per_invoice) \
        and len(receipts) == len(per_receipt)


@dataclass(frozen=True)
class NamedRows:
    """Where each receipt's InvoiceNo and each invoice line's AppliesTo point, in ``invoices``.

    Attributes:
        invoices, receipts: the frames they were found in.
        receipts_first: per receipt, the position of the first invoice row of the number it
            names; -1 where it names none, or no row has that number.
        applies_first: per invoice line, the same for its AppliesTo.
        unique: no invoice number is on two rows.
    """

    invoices: pd.DataFrame
    receipts: pd.DataFrame
    receipts_first: np.ndarray
    applies_first: np.ndarray
    unique: bool

    def of(self, invoices: pd.DataFrame, receipts: pd.DataFrame) -> NamedRows | None:
        """These positions when ``invoices`` and ``receipts`` are the frames they were found in
        (frames changed or replaced since, or a part of them, are looked up again); else None."""
        return self if _found_in(invoices, receipts, self, self.applies_first, self.receipts_first) else None


class NamedInvoices:
    """The invoice rows the receipts and credit notes name, found in one pass over the numbers.

    Attributes:
        numbers: each receipt's InvoiceNo ("" for none).
        first, last: per receipt, the position of the first and of the last invoice row of that
            number; -1 where no row has it (or the receipt names none). The currency check reads
            the first, the customer check the last: only a duplicated number (itself an error)
            tells them apart.
        applies: per invoice line, the position of the first invoice row its AppliesTo names
            (-1: blank, or no row has that number).
        unique: no invoice number is on two rows.
    """

    def __init__(self, invoices: pd.DataFrame, receipts: pd.DataFrame):
        self._frames = invoices, receipts
        inv_no = invoices["invoice_no"].to_numpy(dtype=object)
        self.numbers = receipts["invoice_no"].to_numpy(dtype=object)
        refs = invoices["applies_to"].to_numpy(dtype=object) if "applies_to" in invoices else np.zeros(0, object)
        some = np.flatnonzero(refs != "")  # most lines name no invoice
        # text: none missing
        codes, uniques = pd.factorize(np.concatenate([inv_no, self.numbers, refs[some]]))
        n, m = len(inv_no), len(self.numbers)
        inv, named, applied = codes[:n], codes[n:n + m], codes[n + m:]
        first = first_positions(inv, len(uniques))  # n for a number no invoice row has
        last = np.full(len(uniques), -1, dtype=np.intp)
        np.maximum.at(last, inv, np.arange(n, dtype=np.intp))
        found = (last[named] >= 0) & (self.numbers != "")
        self.first = np.where(found, first[named], -1).astype(np.int64)
        self.last = np.where(found, last[named], -1).astype(np.int64)
        self.applies = np.full(n, -1, dtype=np.int64)
        self.applies[some] = np.where(last[applied] >= 0, first[applied], -1)
        self.unique = int(np.count_nonzero(first < n)) == n  # as many numbers as rows

    def kept(self) -> NamedRows:
        """What the run keeps of it (positions only: the numbers stay with the frames)."""
        return NamedRows(*self._frames, self.first, self.applies, self.unique)


@dataclass(frozen=True)
class GroupRows:
    """The (customer, currency) group of each invoice and receipt, numbered in the groups' sorted
    order (as ``xl_ar.core.allocation.group_codes`` numbers them), for the frames they were
    found in (see :meth:`NamedRows.of`)."""

    invoices: pd.DataFrame
    receipts: pd.DataFrame
    inv: np.ndarray
    rec: np.ndarray

    def of(self, invoices: pd.DataFrame, receipts: pd.DataFrame) -> GroupRows | None:
        """These groups when ``invoices`` and ``receipts`` are the frames they were found in; else None."""
        return self if _found_in(invoices, receipts, self, self.inv, self.rec) else None


def coded_groups(*frames: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """``allocation.group_codes`` of frames whose customer and currency columns are coded:
    per frame, ((customer codes, their texts), (currency codes, their texts)), ``texts[codes]``
    being the column. Only the few distinct texts are sorted; each row's group is then found by
    arithmetic (a million invoices: milliseconds, against 0.4 s hashing their texts).
    """
    customers = np.unique(np.concatenate([texts for (_, texts), _ in frames] or [np.zeros(0, object)]))
    currencies = np.unique(np.concatenate([texts for _, (_, texts) in frames] or [np.zeros(0, object)]))
    width = max(len(currencies), 1)
    pairs = [np.searchsorted(customers, c_texts).astype(np.int64)[c_codes] * width
             + np.searchsorted(currencies, k_texts)[k_codes] for (c_codes, c_texts), (k_codes, k_texts) in frames]
    present = np.zeros(len(customers) * width, bool)
    for pair in pairs:
        present[pair] = True
    number = np.cumsum(present) - 1  # each present pair's rank among them: the groups' sorted order
    return [number[pair] for pair in pairs]
