"""``xl-ar build-template``: assemble the macro workbook (a build tool for the project itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``build-template`` to the ``xl-ar`` command."""
    s = sub.add_parser("build-template", help="build workbook/AR_Template.xlsm (ribbon, UDFs, ledger sheets)",
                       description="Assemble the macro workbook from the sheet definitions and the VBA and "
                       "ribbon sources in macros/: deterministic, two builds are byte-identical.")
    s.add_argument("--out", type=Path, default=None, help="output path (default workbook/AR_Template.xlsm)")
    s.set_defaults(handler=_build)


def _build(args) -> int:
    from xl_ar.template.build import main as build_main

    return build_main(["--out", str(args.out)] if args.out else [])
