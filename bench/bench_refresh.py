"""Benchmark: ``xl-ar refresh`` against the plain approach (openpyxl load, write, save).

For each size, a ledger workbook is generated once (cached in bench/out/), then both runs are
made on fresh copies, each in its own process so its peak memory (max RSS) is its own:

- xl-ar: the whole refresh (read with calamine, validate, allocate, age, fees, splice back);
- openpyxl: load the workbook, write the five computed columns' values, save.

Times and ratios are printed; nothing is asserted (timings belong here, not in tests).

    python bench/bench_refresh.py [--sizes 10000,100000,1048575] [--openpyxl-max N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

REFRESH = """
import sys
from xl_ar.cli import main
sys.exit(main(["refresh", sys.argv[1], "--as-of", "2026-10-31", "--json"]))
"""

OPENPYXL = """
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["Invoices"]
for r in range(2, ws.max_row + 1):
    amount = ws.cell(r, 5).value or 0
    ws.cell(r, 7, 0.0); ws.cell(r, 8, amount); ws.cell(r, 9, 0); ws.cell(r, 10, "1-30"); ws.cell(r, 11, 0.0)
wb.save(sys.argv[1])
"""


def run(script: str, book: Path) -> tuple[float, float, int]:
    """Run a script on a book in a child process: (seconds, peak GiB, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script, str(book)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    return seconds, usage.ru_maxrss / 1024 / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000,1048575")
    p.add_argument("--openpyxl-max", type=int, default=1_048_575,
                   help="skip the openpyxl run above this many invoices (it takes ~7 min at 1M)")
    args = p.parse_args()
    from ledger_gen import build_ledger

    OUT.mkdir(exist_ok=True)
    print(f"{'invoices':>10} {'xl-ar s':>9} {'GiB':>6} {'openpyxl s':>11} {'GiB':>6} {'speed-up':>9} {'memory':>7}")
    for n in (int(s) for s in args.sizes.split(",")):
        source = OUT / f"ledger_{n}.xlsx"
        if not source.exists():
            t = time.perf_counter()
            build_ledger(source, n)
            print(f"  (generated {source.name} in {time.perf_counter() - t:.1f} s)", file=sys.stderr)
        work = OUT / f"work_{n}.xlsx"
        shutil.copyfile(source, work)
        shutil.rmtree(OUT / ".xl-ar-backups", ignore_errors=True)
        xs, xm, code = run(REFRESH, work)
        if code != 0:
            print(f"{n:>10} xl-ar refresh failed with exit code {code}")
            continue
        if n <= args.openpyxl_max:
            shutil.copyfile(source, work)
            os_, om, _ = run(OPENPYXL, work)
            print(f"{n:>10} {xs:>9.2f} {xm:>6.2f} {os_:>11.2f} {om:>6.2f} {os_ / xs:>8.1f}x {om / xm:>6.1f}x", flush=True)
        else:
            print(f"{n:>10} {xs:>9.2f} {xm:>6.2f} {'skipped':>11}", flush=True)
        work.unlink(missing_ok=True)
    shutil.rmtree(OUT / ".xl-ar-backups", ignore_errors=True)


if __name__ == "__main__":
    main()
