"""AR_Template.xlsm in a real spreadsheet client: LibreOffice headless, over UNO.

``lo_driver.py`` runs under the system ``/usr/bin/python3`` (python3-uno lives there only),
with a fresh profile, a free port and a hard timeout; soffice is always killed.

LibreOffice compiles every module of a library before running any macro of it, and it
cannot compile xlwings' own ``xlwings`` and ``Dictionary`` modules (it reads both branches
of their ``#If`` blocks, docs/excel.md "Checking without Excel"). The driver therefore
lists every module first and then removes those two from the loaded library, in memory,
before running our ``#If``-free VBA.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from xl_ar.template.build import build_template, ribbon_buttons, template_modules
from xl_ar.template.ovba import normalise_source

SYSTEM_PYTHON = "/usr/bin/python3"
DRIVER = Path(__file__).with_name("lo_driver.py")
XLWINGS_GLUE = ("xlwings", "Dictionary")  # LibreOffice cannot compile these (see above)
RIBBON_IDS = ["refresh_aging", "update_credit", "plan_collections", "reminders", "send", "import_confirmations",
              "statements", "dashboard", "help"]  # fmt: skip
TIMEOUT_S = 120


def _uno_missing() -> str | None:
    if not shutil.which("soffice"):
        return "LibreOffice (soffice) is not installed: `make system-deps` installs it"
    try:
        subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return f"python3-uno is not importable by {SYSTEM_PYTHON}"
    return None


_MISSING = _uno_missing()
pytestmark = [pytest.mark.libreoffice, pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))]


def drive(book: Path, *calls: str) -> dict:
    """Run lo_driver.py on ``book`` and return its JSON answer."""
    args = [SYSTEM_PYTHON, str(DRIVER), str(book), "--timeout", str(TIMEOUT_S)]
    args += [a for name in XLWINGS_GLUE for a in ("--drop", name)]
    args += [a for call in calls for a in ("--call", call)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S + 30)
    answer = json.loads(done.stdout or "{}") if done.stdout.strip().startswith("{") else {}
    assert done.returncode == 0 and "error" not in answer, (
        f"lo_driver failed ({done.returncode}): {answer.get('error')} {done.stderr[-2000:]}"
    )
    return answer


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> dict:
    book = build_template(tmp_path_factory.mktemp("lo") / "AR_Template.xlsm")
    return drive(book, "ArSelfTest.ArSelfTest")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    book = build_template(tmp_path_factory.mktemp("lo_rec") / "AR_Template_test.xlsm", test_recorder=True)
    return drive(book, "ArTestShim.ArClickAll", "ArSelfTest.ArSelfTest")


def _code_lines(text: str) -> list[str]:
    """Module text without attribute lines or LibreOffice's own header, for comparison.

    LibreOffice drops every ``Attribute`` line (module and member ones) and prefixes
    ``Rem Attribute VBA_ModuleType=...``, ``Option VBASupport 1`` and, for classes,
    ``Option ClassModule``.
    """
    skip = re.compile(r"Rem Attribute VBA_ModuleType=\w+$|Option VBASupport 1$|Option ClassModule$|\s*Attribute \w+(\.\w+)? = ")
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if not skip.match(line)]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def test_libreoffice_lists_every_module_with_its_source(shipped):
    n_sheets = sum(1 for name in shipped["modules"] if re.fullmatch(r"Sheet\d+", name))
    expected = {m.name: normalise_source(m) for m in template_modules(n_sheets)}
    assert sorted(shipped["modules"]) == sorted(expected)
    assert shipped["vba_mode"] is True  # the library was imported as VBA (VBASupport)
    for name, text in expected.items():
        assert _code_lines(shipped["modules"][name]) == _code_lines(text), f"module {name} differs"


def test_the_vba_self_test_passes(shipped, recorded):
    for answer in (shipped, recorded):
        result = answer["calls"]["ArSelfTest.ArSelfTest"]
        assert re.fullmatch(r"OK \d+", result), f"ArSelfTest returned {result!r}"
        assert int(result.split()[1]) >= 13


def test_every_ribbon_button_runs_its_python_handler(recorded):
    commands = recorded["calls"]["ArTestShim.ArClickAll"].split("\n")
    assert commands[-1] == ""
    buttons = ribbon_buttons()
    assert [b.id for b in buttons] == RIBBON_IDS
    assert commands[:-1] == [f"import xl_ar.ribbon; xl_ar.ribbon.run('{b.id}')" for b in buttons]
