"""The ``xl-ar`` command line: one parser, one module per command group (see ``command``)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run ``xl-ar`` with ``argv`` (default: the process's arguments); return the exit code."""
    from xl_ar.cli.command import main as run

    return run(argv)


def console() -> int:
    """The ``xl-ar`` console script (and ``python -m xl_ar``): :func:`main`, then the process
    readied to end without the interpreter's shutdown searching every object for cycles again
    (:func:`xl_ar.core.memory.ready_to_exit`)."""
    code = main()
    from xl_ar.core.memory import ready_to_exit

    ready_to_exit()
    return code
