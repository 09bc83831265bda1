"""Shared views of a ledger and a run that several rules read: per customer, per invoice.

Public, so that a rule module never reaches into another's private helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xl_ar.core.keys import LedgerKeys

if TYPE_CHECKING:
    from xl_ar.core.ledger import Ledger
    from xl_ar.core.position import Position


def customer_info(ledger: "Ledger") -> pd.DataFrame:
    """One row per customer id (the first row of a duplicated id wins).

    Returns:
        ``customer_id``, ``name``, ``class`` and ``account_manager`` (the Customers ``Owner``).
    """
    cs = ledger.customers.drop_duplicates("customer_id")
    return pd.DataFrame({"customer_id": cs["customer_id"].to_numpy(dtype=object),
                         "name": cs["name"].to_numpy(dtype=object), "class": cs["class"].to_numpy(dtype=object),
                         "account_manager": cs["owner"].to_numpy(dtype=object)})


def per_invoice(ledger: "Ledger", column: str, keys: LedgerKeys | None = None) -> np.ndarray:
    """A column of :func:`customer_info` for every invoice row ("" for an unknown customer).

    Args:
        ledger: the validated ledger.
        column: a column of :func:`customer_info`, e.g. "class".
        keys: the run's :class:`~xl_ar.core.keys.LedgerKeys` of ``ledger`` (made when None).
    """
    return (keys or LedgerKeys(ledger)).customer_column(_INFO_COLUMNS.get(column, column))


#: customer_info's column -> the Customers column it is.
_INFO_COLUMNS = {"account_manager": "owner"}


def stages_of(result: "Position", stages: pd.DataFrame | None) -> pd.DataFrame:
    """The collection stages given, else the run's own (a ``RunResult`` carries them).

    Raises:
        ValueError: neither is there.
    """
    stages = stages if stages is not None else getattr(result, "stages", None)
    if stages is None:
        raise ValueError("the run has no collection stages: pass assign_stages(...) of the same run")
    return stages
