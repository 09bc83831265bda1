"""The real ``xl-ar`` command on every case of the corpus (see ``cases.py`` and docs/corpus.md).

Hostile inputs run in their own process so their cost is measured alone (``wait4`` resource
usage): each is refused within generous bounds of CPU time and peak memory, far from what the
unguarded reader took (an abort asking for 512 GiB, gigabytes of entity expansion).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cases import CASES, markdown
from xl_ar.cli import main

ROOT = Path(__file__).resolve().parents[2]
#: Peak memory and CPU a refused bomb may cost, interpreter and imports included (~120 MB, ~1 s).
BOMB_MAX_RSS_MB = 200  # the bound the project promises; measured 80-110 MB
BOMB_MAX_CPU_S = 20
_LEDGER_PARTS = ("xl/worksheets/", "xl/tables/")
_LEDGER_FILES = {"xl/styles.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml", "xl/calcChain.xml"}


def _members(path: Path) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(path) as z:
            return {i.filename: z.read(i) for i in z.infolist()} if len(z.infolist()) < 1000 else None
    except Exception:
        return None


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


#: The child reports its own peak (VmHWM belongs to its address space; wait4's ru_maxrss would
#: also count the pytest process it was forked from).
_CHILD = """
import sys
from xl_ar.cli import main
code = main(sys.argv[2:])
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
open(sys.argv[1], "w").write(peak)
sys.exit(code)
"""


def _run_measured(args: list[str], peak_file: Path) -> tuple[int, str, float, float]:
    """Run ``xl-ar`` in a child; (exit code, output, CPU seconds, peak RSS in MB)."""
    env = {**os.environ, "COLUMNS": "400"}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(peak_file), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out, usage.ru_utime + usage.ru_stime, int(peak_file.read_text()) / 1024


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case, tmp_path, capsys, monkeypatch):
    path = case.build(tmp_path / "book.xlsx")
    before_bytes, before = _digest(path), _members(path)
    args = [case.command, str(path), *case.args]
    if case.kind == "hostile":
        code, out, cpu, rss = _run_measured(args, tmp_path / "peak.kb")
        assert "Traceback" not in out
        assert rss < BOMB_MAX_RSS_MB, f"{case.name}: peak memory {rss:.0f} MB"
        assert cpu < BOMB_MAX_CPU_S, f"{case.name}: {cpu:.1f} s of CPU"
    else:
        monkeypatch.setenv("COLUMNS", "400")
        code = main(args)
        captured = capsys.readouterr()
        out = captured.out + captured.err
    text = " ".join(out.split())
    assert code == case.exit, text[-2000:]
    assert case.expect in text, text[-2000:]
    if case.changes == "none" and before_bytes is not None:
        assert _digest(path) == before_bytes
    if case.changes == "ledger" and before is not None:
        after = _members(path)
        assert set(before) <= set(after)
        kept = [n for n in before if not n.startswith(_LEDGER_PARTS) and n not in _LEDGER_FILES]
        assert {n: after[n] for n in kept} == {n: before[n] for n in kept}
        assert _digest(path) != before_bytes  # a refresh writes its columns
    if case.name == "symlink":
        assert path.is_symlink()


def test_the_corpus_is_large_and_covers_every_kind():
    kinds = {c.kind for c in CASES}
    assert len(CASES) >= 60 and kinds == {"messy", "broken", "hostile", "fault"}
    assert len({c.name for c in CASES}) == len(CASES)


def test_the_table_in_the_docs_is_the_corpus():
    assert (ROOT / "docs" / "corpus.md").read_text(encoding="utf-8") == markdown()
