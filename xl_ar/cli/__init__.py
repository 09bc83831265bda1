"""The ``xl-ar`` command line: one parser, one module per command group (see ``command``)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """The ``xl-ar`` console script."""
    from xl_ar.cli.command import main as run

    return run(argv)
