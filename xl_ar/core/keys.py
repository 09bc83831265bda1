"""The ledger's rows as integer keys, made once per run and shared by every computation.

A refresh groups the same rows the same ways several times: the allocation and the month-end
trend by (customer, currency), the stages and credit by customer, the allocation and the KPIs
by the invoice a receipt or credit note names. Hashing a million texts costs a few tenths of a
second each time, so each key is made here once (:class:`LedgerKeys`) and handed to each step.
A step called on its own (as the tests do) makes them itself: the figures are the same.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from xl_ar.core.allocation import credit_targets, group_codes, invoice_numbers, named_targets
from xl_ar.core.beside import detached

if TYPE_CHECKING:
    from xl_ar.core.ledger import Ledger


class LedgerKeys:
    """Integer keys of a ledger's invoices and receipts, each made on first use and kept.

    Attributes (each a cached property):
        inv_group, rec_group: the (customer, currency) group of each invoice and receipt,
            numbered in the groups' sorted order (``allocation.group_codes``).
        named: per receipt, the position of the invoice it names (-1: none, or not listed).
        applies: per invoice line, the position of the invoice its AppliesTo names (-1: none).
        numbers_unique: no invoice number is listed twice (a validated ledger's are not), so a
            subset of the invoices finds a named one where the whole ledger does.
        customers: the Customers sheet's IDs as text, each once, first listed first.
        inv_customer: per invoice, the position of its customer in ``customers`` (-1: not listed).
    """

    def __init__(self, ledger: Ledger):
        self._ledger = ledger

    @cached_property
    def _groups(self) -> tuple[np.ndarray, np.ndarray]:
        inv, rec = self._ledger.invoices, self._ledger.receipts
        found = self._ledger.groups.of(inv, rec) if self._ledger.groups is not None else None
        if found is not None:  # as validation made them (xl_ar.core.named)
            return found.inv, found.rec
        return tuple(group_codes((inv["customer_id"], inv["currency"]), (rec["customer_id"], rec["currency"])))

    @property
    def inv_group(self) -> np.ndarray:
        return self._groups[0]

    @property
    def rec_group(self) -> np.ndarray:
        return self._groups[1]

    @cached_property
    def groups(self) -> int:
        """How many (customer, currency) groups there are (one past the largest code)."""
        return max((int(g.max()) + 1 for g in self._groups if len(g)), default=0)

    @cached_property
    def _targets(self) -> tuple[np.ndarray, np.ndarray, bool]:
        # Both looked up in one index of the numbers, not kept: its hash table of a million
        # numbers would stay in memory for the whole run.
        inv, rec = self._ledger.invoices, self._ledger.receipts
        found = self._ledger.named.of(inv, rec) if self._ledger.named is not None else None
        if found is not None:  # as validation found them (xl_ar.core.named)
            return found.receipts_first, found.applies_first, found.unique
        numbers = invoice_numbers(inv)
        return named_targets(inv, rec, numbers), credit_targets(inv, numbers), len(numbers) == len(inv)

    @property
    def named(self) -> np.ndarray:
        return self._targets[0]

    @property
    def applies(self) -> np.ndarray:
        return self._targets[1]

    @property
    def numbers_unique(self) -> bool:
        return self._targets[2]

    @cached_property
    def customers(self) -> pd.Index:
        return customer_index(self._ledger.customers)

    @cached_property
    def inv_customer(self) -> np.ndarray:
        return customer_positions(self.customers, self._ledger.invoices["customer_id"].to_numpy(dtype=object))

    def detached_view(self, views: dict[int, Any]) -> LedgerKeys:
        """These keys over a view of their ledger (:func:`~xl_ar.core.beside.detached`, whose
        ``views`` give the ledger the view the call gets too): the keys made so far are shared,
        the others are made from the view when first used."""
        keys = LedgerKeys(detached(self._ledger, views))
        keys.__dict__.update((k, v) for k, v in list(self.__dict__.items()) if k != "_ledger")
        return keys

    def named_in(self, inv_mask: np.ndarray, rec_mask: np.ndarray) -> np.ndarray | None:
        """:attr:`named` for the receipts ``rec_mask`` picks, as positions among the invoices
        ``inv_mask`` picks (-1 for one naming an invoice left out); None when invoice numbers
        repeat (then only a search of the subset finds what the subset would)."""
        return _renumbered(self.named[rec_mask], inv_mask) if self.numbers_unique else None

    def applies_in(self, inv_mask: np.ndarray) -> np.ndarray | None:
        """:attr:`applies` for the invoice lines ``inv_mask`` picks, likewise renumbered."""
        return _renumbered(self.applies[inv_mask], inv_mask) if self.numbers_unique else None

    def customer_column(self, column: str, fold: Callable[[Any], Any] | None = None) -> np.ndarray:
        """A Customers column for every invoice row, from the first row of each customer ID
        ("" for a customer not on the sheet, or a column the sheet lacks); ``fold`` is applied
        to each customer's value first."""
        cs = self._ledger.customers.drop_duplicates("customer_id")
        values = cs[column].to_numpy(dtype=object) if column in cs else np.full(len(cs), "", object)
        if fold is not None:
            values = np.array([fold(v) for v in values], dtype=object)
        return np.append(values, "")[self.inv_customer]  # -1 (not listed) picks the appended blank


def _renumbered(target: np.ndarray, inv_mask: np.ndarray) -> np.ndarray:
    """Positions among all invoices -> among those ``inv_mask`` picks (-1: none, or left out)."""
    position = np.cumsum(inv_mask) - 1
    out = np.full(len(target), -1, np.int64)
    hit = np.flatnonzero(target >= 0)
    hit = hit[inv_mask[target[hit]]]
    out[hit] = position[target[hit]]
    return out


def customer_index(customers: pd.DataFrame) -> pd.Index:
    """The Customers sheet's IDs as text, each once (a customer listed twice is one key)."""
    return pd.Index(customers["customer_id"].astype(str).to_numpy(dtype=object)).unique()


def customer_positions(index: pd.Index, values: np.ndarray) -> np.ndarray:
    """The position in ``index`` of each customer ID (-1: not on the Customers sheet)."""
    return index.get_indexer(pd.Index(values, dtype=object).astype(str)) if len(values) else np.zeros(0, np.int64)
