"""How numpy and pandas behave during a run: overflow raised, never a wrapped number or a
warning on the user's terminal; text columns held as Python strings.

Amounts are bounded at the edges (:data:`xl_ar.core.money.MAX_AMOUNT`, the late-fee policies'
``max_rate``), so an overflow inside the core is a bug to stop on, not a figure to write into a
ledger. Invalid operations (NaN compared, 0/0 in an empty KPI) stay silent: the core handles
NaN where it can arise.

pandas 3 stores a column of text in Arrow when pyarrow is installed (as in many a user's
Python: Anaconda ships it), as Python strings otherwise. xl-ar's columns are built for Python
strings: with pyarrow installed, a full sheet's refresh took 24.5-25.8 s and 2.17 GiB against
17.9-18.3 s and 1.42 GiB. Its entry points therefore keep text as Python strings
(:func:`python_strings`): the command within each run, the ribbon and the worksheet functions
in the Python process Excel starts for them.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

import numpy as np

#: pandas' setting that keeps text as Python strings (see the module's doc).
_PYTHON_STRINGS = ("mode.string_storage", "python")


@contextlib.contextmanager
def strict_numerics() -> Iterator[None]:
    """Within: float overflow raises ``FloatingPointError``; numpy and pandas warnings are not
    printed (a warning that matters is an Issue the run reports itself); pandas keeps text as
    Python strings."""
    import pandas as pd

    with np.errstate(over="raise", divide="ignore", invalid="ignore"), warnings.catch_warnings(), \
            pd.option_context(*_PYTHON_STRINGS):
        for module in ("numpy", "pandas", "xl_ar"):
            warnings.filterwarnings("ignore", category=RuntimeWarning, module=module)
        warnings.filterwarnings("ignore", category=FutureWarning, module="pandas")
        yield


def python_strings() -> None:
    """From now on in this process, pandas keeps a column of text as Python strings, whether
    pyarrow is installed or not (see the module's doc). For the processes Excel starts for the
    ribbon and the worksheet functions, which are xl-ar's own."""
    import pandas as pd

    pd.set_option(*_PYTHON_STRINGS)
