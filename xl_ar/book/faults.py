"""Named points where a test can kill the process, to prove a crash anywhere loses nothing.

``XL_AR_FAULT_AT=save:replace`` makes the process kill itself (SIGKILL: no cleanup, no
``finally``, exactly like a power cut or the task manager) the first time it reaches the point
``save:replace``; ``XL_AR_FAULT_AT=save:member#3`` at the third time. Without the variable a
point costs one dictionary look-up. The fault tests (``tests/test_faults.py``) run the real
command with each point, and also kill it after a range of delays, then check the workbook is
byte-identical or fully written and that the next run recovers.

The points: ``save:backup`` (the backup copied, not yet renamed), ``save:backed-up``,
``save:member`` (before each zip member is written to the temp file), ``save:synced`` (the
temp file complete, before the rename), ``save:replaced`` (after the rename), and in a send
``send:data`` (the server took RCPT and DATA, nothing journalled), ``send:journalled``
(``sending`` journalled, the body not sent), ``send:delivered`` (the server accepted the body,
``sent`` not journalled), ``send:sent`` (``sent`` journalled), ``send:log`` (all sent, before
the workbook is brought up to the journal).
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "XL_AR_FAULT_AT"
_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Kill the process here when ``XL_AR_FAULT_AT`` names this point (see the module docstring).

    Args:
        name: the point, e.g. ``"save:replaced"``.
    """
    want = os.environ.get(FAULT_ENV)
    if not want or not want.startswith(name):
        return
    n = _hits[name] = _hits.get(name, 0) + 1
    if want == name or want == f"{name}#{n}":
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
        os._exit(137)  # pragma: no cover - where SIGKILL does not exist
