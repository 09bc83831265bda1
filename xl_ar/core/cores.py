"""How many cores a run may use: the one setting shared by everything that works beside the run
(threads, forked processes, the splice's scanning process), kept apart from them so that a
process that needs only this reads no more of the package than this."""

from __future__ import annotations

import os

#: The most worker processes a run uses (each a copy-on-write fork of it).
MAX_WORKERS = 4


def cores() -> int:
    """How many cores a run may use at once (processes or threads): ``XL_AR_WORKERS`` if set,
    else the usable cores (at most :data:`MAX_WORKERS`)."""
    env = os.environ.get("XL_AR_WORKERS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return min(int(env), 16)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(usable, MAX_WORKERS))
