"""The progress protocol every long run reports through.

A run calls ``progress(stage, fraction)`` with the name of the step it is in ("read",
"validate", "compute", "write", "done", or a step of its own) and the fraction of the whole
run done (0.0 to 1.0). The CLI draws a progress bar from it, the ribbon Excel's status bar,
tests and ``--quiet``/``--json`` runs pass :func:`quiet`. It lives in the core because every
layer accepts it and none needs more than this type.
"""

from __future__ import annotations

from typing import Callable

Progress = Callable[[str, float], None]


def quiet(stage: str, fraction: float) -> None:
    """A progress callback that shows nothing."""
