"""The handlers of the "AR 应收" ribbon buttons, called by ``RunPython`` from ``macros/Ribbon.bas``.

Every button runs ``xl_ar.ribbon.run('<control id>')``. A handler is read -> run -> write, the
same run as ``xl-ar refresh``, through the live-book adapter: progress goes to Excel's status
bar, and the outcome is ONE message box (the issues with their places, or a short summary).
An exception never reaches xlwings' traceback dialog: it is logged and shown as a one-line
message box.
"""

from __future__ import annotations

import datetime as dt

import logging
from pathlib import Path
from typing import Any, Callable

from xl_ar.book.headers import OUTPUTS, SHEET_ALIASES, normalise
from xl_ar.book.livebook import LiveBook, sheet_rows
from xl_ar.core.issues import Issue
from xl_ar.core.money import to_major
from xl_ar.app.refresh import Report, run_refresh
from xl_ar.core.numerics import python_strings
from xl_ar.core.progress import Progress, by_whole_percent, step_name, whole_percent

log = logging.getLogger(__name__)
python_strings()  # the process Excel starts for the ribbon is xl-ar's: text as Python strings

TITLE = "xl-ar"
MAX_LISTED = 20  # a message box taller than the screen hides its OK button
#: Where a run from Excel logs (RunPython shows no console): a failed button's traceback is here.
LOG_FILE = Path.home() / ".xl-ar" / "xl-ar.log"

HELP_TEXT = """xl-ar 应收账款工具 / receivables toolkit

刷新账龄 Refresh Aging: 按截止日（设置表 AsOfDate，空则今天）重算发票表右侧的计算列和账龄分析表。
  Recomputes the computed columns of Invoices and the Aging sheet at the as-of date.
更新信用 Update Credit: 刷新后选中客户表的信用列，列出信用冻结和超额度的客户。
  Refreshes, selects the Customers credit columns, lists customers on hold or over their limit.
催收计划 Plan Collections: 刷新后打开催收工作表，报告今日需跟进的客户数。
  Refreshes, opens the Collections sheet, says how many customers need an action today.
仪表板 Dashboard: 刷新后打开仪表板，报告余额、逾期率、DSO、CEI。 Refreshes, opens the Dashboard, reports its key figures.
催款提醒 Reminders: 生成催款邮件草稿、短信清单和发件箱表。 Writes reminder drafts, the SMS list and the Outbox sheet.
发送 Send: 先保存工作簿，列出将发送的邮件请您确认，再发送（同 xl-ar send --yes；密码取自环境变量或钥匙串）。
  Saves the book, lists what will go for you to confirm, then sends (as `xl-ar send --yes`; password from env/keyring).
导入回函 Import Confirmations: 选择客户寄回的对账单文件，记入催收日志和发票争议列。
  Pick the returned statements; they are logged in Activities and disputes flagged on Invoices.
对账单 Statements: 上月对账单（Excel 和 PDF），存放在工作簿旁的 statements-日期 文件夹。
  Last month's statements (Excel and PDF) in a statements-DATE folder beside the book.

出错时，提示框列出每个问题所在的表、行、列；未写入任何内容。
On errors, the message lists each problem's sheet, row and column; nothing is written.
计算列（浅蓝表头）由工具写入，请勿手工修改。 Columns under the pale-blue headers are the tool's.
刷新后请保存工作簿；不保存即撤销本次刷新。 Save the book to keep a refresh; closing without saving undoes it.

说明 / Help: {readme}"""


def readme_location() -> str:
    """Where the full documentation is: the README beside the package in a source checkout."""
    readme = Path(__file__).resolve().parent.parent / "README.md"
    if readme.exists():
        return str(readme)
    return "README.md of the xl-ar project; `xl-ar --help` on the command line"


def _log_to_file() -> Path | None:
    """Send the package's log to ``LOG_FILE`` (once); None when it cannot be written."""
    root = logging.getLogger("xl_ar")
    if any(getattr(h, "_xl_ar", False) for h in root.handlers):
        return LOG_FILE
    try:
        LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(LOG_FILE, encoding="utf-8")
    except OSError:
        return None
    handler._xl_ar = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return LOG_FILE


# ---------------------------------------------------------------------- status bar


def status_bar_progress(app: Any) -> Progress:
    """A ``run_refresh`` progress callback that writes to Excel's status bar.

    Args:
        app: the xlwings ``App`` of the book.

    Returns:
        A callable (stage, fraction done) setting e.g. "xl-ar: 读取账簿 / reading the book… 30%".
    """

    def show(stage: str, fraction: float) -> None:
        app.status_bar = f"xl-ar: {step_name(stage)}… {whole_percent(fraction):d}%"

    return by_whole_percent(show)  # a status bar written only when what it says changes


# ---------------------------------------------------------------------- messages


def issues_message(issues: list[Issue], limit: int = MAX_LISTED) -> str:
    """The issues, one line each with its place, errors first, capped at ``limit`` lines.

    Args:
        issues: the run's issues.
        limit: the most lines listed; the rest are counted.

    Returns:
        The text of the message box.
    """
    ordered = sorted(issues, key=lambda i: i.severity != "error")
    lines = [f"{i.where}: {i.message}" + ("" if i.severity == "error" else " (warning 提示)") for i in ordered[:limit]]
    if len(ordered) > limit:
        n = len(ordered) - limit
        lines.append(f"… 另有 {n} 条 / and {n} more")
    return "\n".join(lines)


def summary_message(report: Report) -> str:
    """A short summary of a successful run: open total and tie-out per currency, what changed."""
    res = report.result
    lines = [f"截止日 As of {report.as_of:%Y-%m-%d}"]
    if res is not None:
        for ccy, t in res.tieouts.items():
            tie = "勾稽相符 ties out" if t.holds else "勾稽不符 DOES NOT tie out"
            lines.append(f"未收 Open {ccy} {to_major(t.open, t.exp):,} ({tie})")
    lines.append("已写入，请保存工作簿 / written: save the book to keep it" if report.written
                 else "无变化 / already up to date")
    warnings = [i for i in report.issues if i.severity != "error"]
    if warnings:
        lines += ["", f"提示 Warnings ({len(warnings)}):", issues_message(warnings, limit=10)]
    return "\n".join(lines)


def one_line(exc: BaseException) -> str:
    """An exception as one line for a message box (the traceback goes to the log)."""
    text = (str(exc).strip().splitlines() or [""])[0]
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------- handlers


def _refresh(book: Any, done_title: str) -> Report:
    """Run the refresh on the open book; show the issues or the summary in one message box."""
    app = book.app
    try:
        report = run_refresh(LiveBook(book), progress=status_bar_progress(app))
    finally:
        app.status_bar = False  # give the status bar back to Excel, also after an error
    if not report.ok:
        app.alert(issues_message(report.issues), title=f"{TITLE}: 数据有误，未写入 / errors, nothing written",
                  buttons="ok", mode="critical")
    else:
        app.alert(summary_message(report), title=f"{TITLE}: {done_title}", buttons="ok", mode="info")
    return report


def refresh_aging(book: Any) -> None:
    """Refresh Aging: the refresh run (computed columns, credit columns, Aging sheet)."""
    _refresh(book, "账龄已刷新 / aging refreshed")


def _refreshed(book: Any) -> Report | None:
    """The refresh run with its errors shown; None when it stopped on errors."""
    app = book.app
    try:
        report = run_refresh(LiveBook(book), progress=status_bar_progress(app))
    finally:
        app.status_bar = False
    if not report.ok or report.result is None:
        app.alert(issues_message(report.issues), title=f"{TITLE}: 数据有误，未写入 / errors, nothing written",
                  buttons="ok", mode="critical")
        return None
    return report


def _show(book: Any, sheet: str) -> Any | None:
    """Activate a ledger or report sheet, found by its English or Chinese name; None if absent."""
    names = (sheet, *SHEET_ALIASES[sheet])
    found = next((s for s in book.sheets if s.name in names), None)
    if found is not None:
        found.activate()
    return found


def _saved(report: Report) -> str:
    return "已写入，请保存工作簿 / written: save the book to keep it" if report.written else "无变化 / already up to date"


def update_credit(book: Any) -> None:
    """Update Credit: the refresh (which computes credit), then the Customers sheet's credit columns
    selected and the customers on hold or over their limit listed."""
    report = _refreshed(book)
    if report is None:
        return
    credit = report.result.credit
    sheet = _show(book, "Customers")
    if sheet is not None:
        rows = sheet_rows(sheet)  # one read of the sheet through Excel
        head = [normalise(v) for v in (rows[:1] or [[]])[0]]
        wanted = {normalise(n) for pair in OUTPUTS["Customers"].values() for n in pair}
        cols = [j + 1 for j, h in enumerate(head) if h in wanted]
        if cols:
            sheet.range((1, min(cols)), (max(1, len(rows)), max(cols))).select()
    lines = [f"截止日 As of {report.as_of:%Y-%m-%d}"]
    if credit is not None:
        hold = credit[credit["hold"].astype(bool)]
        over = credit[credit["over_limit"].astype(bool)]
        lines.append(f"信用冻结 On hold: {len(hold)}" + (f" ({', '.join(map(str, hold['customer_id']))})" if len(hold) else ""))
        lines.append(f"超额度 Over limit: {len(over)}" + (f" ({', '.join(map(str, over['customer_id']))})" if len(over) else ""))
    lines.append(_saved(report))
    book.app.alert("\n".join(lines), title=f"{TITLE}: 信用已更新 / credit updated", buttons="ok", mode="info")


def plan_collections(book: Any) -> None:
    """Plan Collections: the refresh, then the Collections sheet activated and how many customers
    need an action today (next action date on or before the as-of date)."""
    report = _refreshed(book)
    if report is None:
        return
    work = report.result.worklist
    _show(book, "Collections")
    due = 0 if work is None else int((work["next_action_date"].dt.date <= report.as_of).sum())
    total = 0 if work is None else len(work)
    book.app.alert(f"截止日 As of {report.as_of:%Y-%m-%d}\n今日需跟进 Action today: {due}\n"
                   f"催收工作表客户 Customers on the work list: {total}\n{_saved(report)}",
                   title=f"{TITLE}: 催收计划 / collections planned", buttons="ok", mode="info")


def _pct(v: float | None) -> str:
    return "–" if v is None or v != v else f"{v:.1%}"


def _days(v: float | None) -> str:
    return "–" if v is None or v != v else f"{v:.1f}"


def dashboard(book: Any) -> None:
    """Dashboard: the refresh, then the Dashboard sheet activated and its key figures reported."""
    report = _refreshed(book)
    if report is None:
        return
    k = report.result.kpis
    _show(book, "Dashboard")
    lines = [f"截止日 As of {report.as_of:%Y-%m-%d}"]
    if k is not None:
        lines += [f"应收余额 Open {k.currency} {to_major(k.open_minor, k.exp):,}",
                  f"逾期 Overdue {k.currency} {to_major(k.overdue_minor, k.exp):,} ({_pct(k.overdue_ratio)})",
                  f"DSO {_days(k.dso_simple)} 天 days; CEI {_pct(k.cei)}; 承诺兑现 promises kept {_pct(k.promises_kept)}"]
    lines.append(_saved(report))
    book.app.alert("\n".join(lines), title=f"{TITLE}: 仪表板 / dashboard", buttons="ok", mode="info")


def pick_reply_files(app: Any) -> list[str]:
    """Ask for the returned statements in a file dialog: Excel's own on Windows
    (``Application.GetOpenFilename``), the system's on a Mac (AppleScript). None chosen: []."""
    import sys

    if sys.platform == "darwin":
        import subprocess

        script = ('set fs to choose file with prompt "回函 Returned statements" with multiple selections allowed\n'
                  'set out to ""\nrepeat with f in fs\nset out to out & POSIX path of f & linefeed\nend repeat\n'
                  'return out')
        run = subprocess.run(["osascript", "-e", script], capture_output=True, text=True)
        return [line for line in run.stdout.splitlines() if line.strip()] if run.returncode == 0 else []
    got = app.api.GetOpenFilename("Statements (*.xlsx;*.pdf),*.xlsx;*.pdf", 1, "回函 Returned statements", None, True)
    return [str(f) for f in got] if isinstance(got, (list, tuple)) else []


#: How the Import Confirmations button gets its files (tests put their own in).
PICK_FILES: Callable[[Any], list[str]] = pick_reply_files


def import_replies(book: Any, today: dt.date | None = None, files: list[str] | None = None) -> None:
    """Import Confirmations: pick the returned statements; the same import as
    ``xl-ar import-confirmations``, written into the open book (save it to keep it)."""
    from xl_ar.app.confirmations import import_confirmations

    paths = files if files is not None else PICK_FILES(book.app)
    if not paths:
        return  # the dialog was cancelled
    summary = import_confirmations(LiveBook(book), paths, today=today)
    errors = [i for i in summary.issues if i.severity == "error"]
    text = str(summary) + ("\n\n" + issues_message(summary.issues, limit=10) if summary.issues else "")
    book.app.alert(text, title=f"{TITLE}: 导入回函 / confirmations", buttons="ok",
                   mode="critical" if errors and not summary.replies else "info")


def send(book: Any, sender: Callable[..., Any] | None = None) -> None:
    """Send: the book is saved (so approvals typed on the Outbox count), the messages that will go are
    listed in a confirmation box, and on OK they go through the same run as ``xl-ar send --yes``.
    The SMTP password comes from the environment or the keyring, never from the book."""
    from xl_ar.documents.send import SendError, send_outbox

    sender = sender or send_outbox
    app = book.app
    path = Path(str(getattr(book, "fullname", "") or ""))
    if not path.is_file():
        app.alert("请先保存工作簿 / save the book first: sending reads the saved file.", title=f"{TITLE}: 发送 / send",
                  buttons="ok", mode="critical")
        return
    book.save()
    try:
        plan = sender(path, yes=False)
    except SendError as exc:
        app.alert(one_line(exc), title=f"{TITLE}: 发送 / send", buttons="ok", mode="critical")
        return
    waiting = len(plan.awaiting_approval)
    wait = f"\n{waiting} 封待审批 awaiting approval (Outbox: Approved)" if waiting else ""
    if not plan.planned:
        app.alert(f"没有待发送的邮件 / nothing to send{wait}", title=f"{TITLE}: 发送 / send", buttons="ok", mode="info")
        return
    lines = [f"{p.entry.customer_id} {p.entry.name}: {p.entry.subject} -> {p.entry.to}" for p in plan.planned[:MAX_LISTED]]
    if len(plan.planned) > MAX_LISTED:
        lines.append(f"… 另有 {len(plan.planned) - MAX_LISTED} 封 / and {len(plan.planned) - MAX_LISTED} more")
    answer = app.alert(f"将发送 {len(plan.planned)} 封邮件 / {len(plan.planned)} e-mail(s) will be sent:\n"
                       + "\n".join(lines) + wait, title=f"{TITLE}: 确认发送 / confirm sending",
                       buttons="ok_cancel", mode="info")
    if str(answer).lower() != "ok":
        return
    report = sender(path, yes=True)
    text = str(report) + ("\n\n" + issues_message(report.issues, limit=10) if report.issues else "")
    app.alert(text + "\n发送记录已写入文件 / the log is in the saved file: close this book without saving and reopen it.",
              title=f"{TITLE}: 已发送 / sent", buttons="ok", mode="info" if report.ok else "critical")


def reminders(book: Any, today: dt.date | None = None) -> None:
    """Reminders: this run's .eml drafts, SMS list and the Outbox sheet (``xl-ar reminders``);
    drafts go to a ``BOOK-reminders-DATE`` folder beside the book, the Outbox into the open book
    (sending is ``xl-ar send``, outside Excel: it needs the SMTP password, never in the book)."""
    from xl_ar.app.reminders import build_reminders

    app = book.app
    try:
        summary = build_reminders(LiveBook(book), today=today, progress=status_bar_progress(app))
    finally:
        app.status_bar = False
    issues = list(getattr(summary, "issues", []))
    if any(i.severity == "error" for i in issues):
        app.alert(issues_message(issues), title=f"{TITLE}: 数据有误 / errors", buttons="ok", mode="critical")
        return
    app.alert(str(summary), title=f"{TITLE}: 催款提醒 / reminders", buttons="ok", mode="info")


def statements(book: Any, today: dt.date | None = None) -> None:
    """Statements: last calendar month's reconciliation statements, .xlsx and .pdf per customer,
    into a ``statements-YYYYMMDD`` folder beside the book (the same run as ``xl-ar statements``).
    The book itself is only read, so this works while Excel has it open."""
    from xl_ar.app.statements import default_out_dir, last_month, run_statements

    app = book.app
    period_from, period_to = last_month(today or dt.date.today())
    try:
        report = run_statements(LiveBook(book), period_from, period_to,
                                out_dir=default_out_dir(book.fullname, period_to),
                                progress=status_bar_progress(app))
    finally:
        app.status_bar = False
    if not report.ok:
        app.alert(issues_message(report.issues), title=f"{TITLE}: 数据有误 / errors", buttons="ok", mode="critical")
        return
    app.alert(f"{len(report.statements)} 份对账单 / statements ({period_from:%Y-%m-%d} – {period_to:%Y-%m-%d}), "
              f"{len(report.files)} 个文件 / files:\n{report.out_dir}", title=f"{TITLE}: 对账单 / statements",
              buttons="ok", mode="info")


def show_help(book: Any) -> None:
    """Help: a short bilingual help and where the full documentation is."""
    book.app.alert(HELP_TEXT.format(readme=readme_location()), title=f"{TITLE}: 帮助 / help", buttons="ok", mode="info")


#: Ribbon control id (``macros/customUI14.xml``) -> handler; the same ids as ``ArCommandFor``.
HANDLERS: dict[str, Callable[[Any], None]] = {
    "refresh_aging": refresh_aging,
    "update_credit": update_credit,
    "plan_collections": plan_collections,
    "reminders": reminders,
    "statements": statements,
    "dashboard": dashboard,
    "send": send,
    "import_confirmations": import_replies,
    "help": show_help,
}


def run(action_id: str, book: Any = None) -> None:
    """Run the handler of a ribbon button (what ``RunPython`` calls).

    Args:
        action_id: the button's control id, e.g. ``"refresh_aging"``.
        book: the workbook; default ``xw.Book.caller()``, the book whose button was pressed
            (then the log also goes to ``LOG_FILE``, since ``RunPython`` shows no console).

    Every outcome is one message box on the book's app; only a failure to find the calling
    book itself (not run from Excel) raises.
    """
    log_file = None
    if book is None:
        import xlwings as xw  # here, so importing this module needs no Excel

        book = xw.Book.caller()
        log_file = _log_to_file()
    handler = HANDLERS.get(action_id)
    if handler is None:
        book.app.alert(f"没有此按钮的处理程序 / no handler for the ribbon button '{action_id}'.",
                       title=TITLE, buttons="ok", mode="critical")
        return
    try:
        handler(book)
    except Exception as exc:  # a traceback dialog helps nobody at the keyboard: log it, say one line
        log.exception("ribbon action %s failed", action_id)
        try:
            book.app.status_bar = False
        except Exception:  # noqa: BLE001 - Excel may be the thing that failed; the alert still matters
            pass
        where = f" (详情 details: {log_file})" if log_file else ""
        book.app.alert(one_line(exc) + where, title=f"{TITLE}: 出错 / error", buttons="ok", mode="critical")
