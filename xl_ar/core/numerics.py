"""How numpy and pandas behave during a run: overflow raised, never a wrapped number or a
warning on the user's terminal.

Amounts are bounded at the edges (:data:`xl_ar.core.money.MAX_AMOUNT`, the late-fee policies'
``max_rate``), so an overflow inside the core is a bug to stop on, not a figure to write into a
ledger. Invalid operations (NaN compared, 0/0 in an empty KPI) stay silent: the core handles
NaN where it can arise.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

import numpy as np


@contextlib.contextmanager
def strict_numerics() -> Iterator[None]:
    """Within: float overflow raises ``FloatingPointError``; numpy and pandas warnings are not
    printed (a warning that matters is an Issue the run reports itself)."""
    with np.errstate(over="raise", divide="ignore", invalid="ignore"), warnings.catch_warnings():
        for module in ("numpy", "pandas", "xl_ar"):
            warnings.filterwarnings("ignore", category=RuntimeWarning, module=module)
        warnings.filterwarnings("ignore", category=FutureWarning, module="pandas")
        yield
