"""Benchmark: ``xl-ar refresh`` against the plain approach (openpyxl load, write, save), and
the documents runs of the same ledger.

For each size, a ledger workbook is generated once (cached in bench/out/), then every run is
made on a fresh copy in its own process, so its peak memory is its own (with the processes it
forks to use a second core):

- refresh: the whole ``xl-ar refresh`` (read with calamine, validate, compute, splice back);
- next day: the refresh of the refreshed workbook a day later (the daily routine: the sheet now
  holds the computed columns, which are read past and written anew);
- openpyxl: load the workbook, write the five computed columns' values, save;
- reminders: ``xl-ar reminders`` (every .eml draft with its customer's statement attached),
  each run into a folder of its own, new, as a day's run makes one beside the workbook;
- statements: ``xl-ar statements`` for every customer of the month (.xlsx), each into a new
  folder too; and once as the command makes them by default, .xlsx and PDF ("with PDF");
- PDFs: the statements of the largest balances (``--pdfs`` of them) drawn as PDF one after
  another in one process, from the font cut for them, as PDFs per second (a run draws them on
  every core);
- start-up: ``xl-ar --help``; AR_LATEFEE: the UDF over a column of 100,000 rows (Python time);
- reminders for 10,000 customers (``--reminder-customers``; 4 invoices each).

Medians of ``--repeat`` runs (one run at 1,048,575 rows) are printed with the ratios; nothing
is asserted (timings belong here, not in tests).

The documents the runs write are removed when the bench ends, not between runs: deleting
thousands of files just before a run slows the files that run creates on a disk that discards
freed blocks as they are freed (ext4 mounted with ``discard``: 2,488 drafts' creation took
1-2 s more right after the previous run's 2,488 were deleted), a cost of the bench's clean-up,
not of the run.

    python bench/bench_refresh.py [--sizes 10000,100000] [--full] [--repeat 3] [--no-openpyxl]

``--full`` adds 1,048,575 invoices (minutes and several GiB for openpyxl), as does
``BENCH_ROWS=1048575`` in the environment (``make bench BENCH_ROWS=1048575``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
AS_OF = "2026-10-31"
NEXT_DAY = "2026-11-01"
FULL = 1_048_575
sys.path.insert(0, str(HERE))

XL_AR = """
import sys
from xl_ar.cli import console
sys.exit(console())
"""  # the console script's own entry (``python -c CODE ARGS``: its arguments are sys.argv[1:])

OPENPYXL = """
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["Invoices"]
for r in range(2, ws.max_row + 1):
    amount = ws.cell(r, 5).value or 0
    ws.cell(r, 7, 0.0); ws.cell(r, 8, amount); ws.cell(r, 9, 0); ws.cell(r, 10, "1-30"); ws.cell(r, 11, 0.0)
wb.save(sys.argv[1])
"""

PDFS = """
import sys, time, datetime as dt
from pathlib import Path
from xl_ar.app.statements import BookFile, run_statements
from xl_ar.documents.fonts import BatchFonts
from xl_ar.documents.pdf import write_statement_pdf
book, out, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
r = run_statements(BookFile(book), dt.date(2026, 10, 1), dt.date(2026, 10, 31), out_dir=out, formats=("xlsx",))
size = {s.customer_id: max(abs(x.closing_minor) for x in s.sections) for s in r.statements}
largest = sorted(r.statements, key=lambda s: -size[s.customer_id])[:n]
with BatchFonts(largest) as batch:
    batch.fonts()
    t = time.perf_counter()
    for k, st in enumerate(largest):
        write_statement_pdf(st, out / f"{k}.pdf", batch=batch)
    print(len(largest) / (time.perf_counter() - t))
"""

LATEFEE = """
import time, datetime as dt
import numpy as np
from xl_ar.udfs import AR_LATEFEE
n = 100_000
rng = np.random.default_rng(1)
amounts = [[float(a)] for a in np.round(rng.lognormal(9, 1, n), 2)]
dues = [[dt.datetime(2026, 1, 1) + dt.timedelta(days=int(d))] for d in rng.integers(0, 300, n)]
t = time.process_time()
AR_LATEFEE(amounts, dues, dt.datetime(2026, 10, 31))
print(time.process_time() - t)
"""


#: Folders of documents the bench removes when it ends (see the module's doc).
LEFT_BEHIND: list[Path] = []


def run(args: list[str]) -> tuple[float, float, int, str]:
    """Run a child process: (seconds, peak GiB, exit code, its stdout).

    The peak is the largest of the process's own maximum RSS and the memory of it and the
    processes it forks together while it has some (their proportional set sizes summed, sampled
    every half second: reading them is not free, so only then): a run that computes on a second
    core in a forked process is charged for both.
    """
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    tree_peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            tree = process_tree(proc.pid)
            if len(tree) > 1:
                tree_peak[0] = max(tree_peak[0], sum(map(pss, tree)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read().decode() if proc.stdout else ""
    stop.set()
    sampler.join()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    return seconds, max(usage.ru_maxrss * 1024, tree_peak[0]) / 2**30, os.waitstatus_to_exitcode(status), out


def process_tree(root: int) -> set[int]:
    """A process and all its descendants, as /proc shows them now (just the root without /proc)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            stat = (d / "stat").read_text()
            parents[int(d.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
    tree, grew = {root}, True
    while grew:
        more = {p for p, pp in parents.items() if pp in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def pss(pid: int) -> int:
    """Bytes of a process's proportional set size (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


#: Where a documents run writes, in ``median_run``'s arguments: a new folder for each run.
RUN_FOLDER = "{run folder}"


def median_run(args: list[str], source: Path, work: Path, repeat: int, out: Path | None = None) -> tuple[float, float]:
    """Median seconds and the largest peak GiB of ``repeat`` runs, each on a fresh copy of the
    source. With ``out``, each run writes its documents into a new folder under it (``RUN_FOLDER``
    in ``args``), so that every run does what the first does: documents written anew, not over
    the previous run's, and no files deleted just before it (``out`` goes at the bench's end)."""
    times, peaks = [], []
    if out is not None:
        LEFT_BEHIND.append(out)
    for i in range(repeat):
        shutil.copyfile(source, work)
        shutil.rmtree(work.parent / ".xl-ar-backups", ignore_errors=True)
        folder = str(out / f"run-{i + 1}") if out is not None else ""
        seconds, peak, code, _ = run([a.replace(RUN_FOLDER, folder) for a in args])
        if code != 0 and code != 1:  # 1 = the run reported issues (warnings on a generated ledger are fine)
            raise SystemExit(f"{' '.join(args[2:])} failed with exit code {code}")
        times.append(seconds)
        peaks.append(peak)
    return statistics.median(times), max(peaks)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--full", action="store_true", help=f"also {FULL:,} invoices")
    p.add_argument("--repeat", type=int, default=3, help="runs per measure (the median is printed)")
    p.add_argument("--pdfs", type=int, default=200, help="statements rendered as PDF for the PDFs/s figure")
    p.add_argument("--no-openpyxl", action="store_true", help="skip the openpyxl round trip")
    p.add_argument("--no-documents", action="store_true", help="skip reminders, statements and PDFs")
    p.add_argument("--reminder-customers", type=int, default=10_000,
                   help="also time reminders for this many customers (4 invoices each; 0 skips)")
    args = p.parse_args()
    from ledger_gen import build_ledger

    sizes = [int(s) for s in args.sizes.split(",") if s]
    if os.environ.get("BENCH_ROWS"):
        sizes = [int(os.environ["BENCH_ROWS"])]
    if args.full and FULL not in sizes:
        sizes.append(FULL)
    OUT.mkdir(exist_ok=True)
    for folder in OUT.glob("docs_*"):  # an interrupted bench's documents, before anything is timed
        shutil.rmtree(folder, ignore_errors=True)

    help_s = statistics.median(run(["-c", XL_AR, "--help"])[0] for _ in range(5))
    latefee = statistics.median(float(run(["-c", LATEFEE])[3]) for _ in range(3))
    print(f"xl-ar --help: {help_s:.2f} s;  AR_LATEFEE over 100,000 rows: {latefee:.2f} s of Python time")
    print(f"{'invoices':>10} {'refresh s':>9} {'GiB':>5} {'next day s':>10} {'GiB':>5} {'openpyxl s':>10} {'GiB':>5} {'speed-up':>8} "
          f"{'reminders s':>11} {'x':>5} {'statements s':>12} {'x':>5} {'with PDF s':>10} {'x':>5} {'PDF/s':>6}")
    for n in sizes:
        source = OUT / f"ledger_{n}.xlsx"
        if not source.exists():
            t = time.perf_counter()
            build_ledger(source, n)
            print(f"  (generated {source.name} in {time.perf_counter() - t:.1f} s)", file=sys.stderr)
        work = OUT / f"work_{n}.xlsx"
        repeat = 1 if n >= FULL else args.repeat
        xs, xm = median_run(["-c", XL_AR, "refresh", str(work), "--as-of", AS_OF, "--json"], source, work, repeat)
        refreshed = OUT / f"refreshed_{n}.xlsx"
        shutil.copyfile(work, refreshed)
        ys, ym = median_run(["-c", XL_AR, "refresh", str(work), "--as-of", NEXT_DAY, "--json"], refreshed, work, repeat)
        refreshed.unlink()
        row = f"{n:>10} {xs:>9.2f} {xm:>5.2f} {ys:>10.2f} {ym:>5.2f}"
        if args.no_openpyxl:
            row += f" {'-':>10} {'-':>5} {'-':>8}"
        else:
            os_, om = median_run(["-c", OPENPYXL, str(work)], source, work, 1 if n >= 100_000 else repeat)
            row += f" {os_:>10.2f} {om:>5.2f} {os_ / xs:>7.1f}x"
        if args.no_documents:
            print(row, flush=True)
            continue
        docs = OUT / f"docs_{n}"
        rs, _ = median_run(["-c", XL_AR, "reminders", str(work), "--as-of", AS_OF, "--out", RUN_FOLDER,
                            "--json"], source, work, repeat, docs / "r")
        ss, _ = median_run(["-c", XL_AR, "statements", str(work), "--from", "2026-10-01", "--to", AS_OF,
                            "--format", "xlsx", "--out", RUN_FOLDER, "--json"], source, work, repeat, docs / "s")
        bs, _ = median_run(["-c", XL_AR, "statements", str(work), "--from", "2026-10-01", "--to", AS_OF,
                            "--out", RUN_FOLDER, "--json"], source, work, 1, docs / "b")  # the default: both
        shutil.copyfile(source, work)
        LEFT_BEHIND.append(docs)
        pdf_rate = float(run(["-c", PDFS, str(work), str(docs / "p"), str(args.pdfs)])[3] or "nan")
        row += (f" {rs:>11.2f} {rs / xs:>4.1f}x {ss:>12.2f} {ss / xs:>4.1f}x {bs:>10.2f} {bs / xs:>4.1f}x"
                f" {pdf_rate:>6.1f}")
        print(row, flush=True)
        work.unlink(missing_ok=True)
    if args.reminder_customers and not args.no_documents:
        n_c = args.reminder_customers
        source = OUT / f"ledger_{n_c}_customers.xlsx"
        if not source.exists():
            build_ledger(source, 4 * n_c, customers=n_c)
        work, docs = OUT / "work_customers.xlsx", OUT / "docs_customers"
        rs, rm = median_run(["-c", XL_AR, "reminders", str(work), "--as-of", AS_OF, "--out", RUN_FOLDER, "--json"],
                            source, work, 1, docs)
        drafts = len(list(docs.rglob("*.eml")))
        print(f"reminders for {n_c:,} customers ({4 * n_c:,} invoices): {rs:.2f} s, {rm:.2f} GiB, {drafts:,} drafts")
        work.unlink(missing_ok=True)
    for folder in {*LEFT_BEHIND, OUT / ".xl-ar-backups"}:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
