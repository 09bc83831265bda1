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

from xl_ar.book.livebook import LiveBook
from xl_ar.core.issues import Issue
from xl_ar.core.money import to_major
from xl_ar.app.refresh import Report, run_refresh
from xl_ar.core.progress import Progress

log = logging.getLogger(__name__)

TITLE = "xl-ar"
MAX_LISTED = 20  # a message box taller than the screen hides its OK button
#: Where a run from Excel logs (RunPython shows no console): a failed button's traceback is here.
LOG_FILE = Path.home() / ".xl-ar" / "xl-ar.log"

#: Status bar wording per stage of a run (other stages show their own name).
STAGES: dict[str, str] = {
    "read": "读取账簿 / reading the book",
    "validate": "检查数据 / checking the ledger",
    "compute": "计算 / computing",
    "write": "写回 / writing back",
    "done": "完成 / done",
}

HELP_TEXT = """xl-ar 应收账款工具 / receivables toolkit

刷新账龄 Refresh Aging: 按截止日（设置表 AsOfDate，空则今天）重算发票表右侧的计算列和账龄分析表。
  Recomputes the computed columns of Invoices and the Aging sheet at the as-of date.
更新信用 Update Credit: 同一次刷新也更新客户表的信用列。 The same run updates the Customers credit columns.
催收计划 / 仪表板 Plan Collections / Dashboard: 运行同一次刷新。 Run the same refresh.
催款提醒 Reminders: 生成催款邮件草稿、短信清单和发件箱表（发送请用 xl-ar send）。
  Writes reminder drafts, the SMS list and the Outbox sheet (sending is `xl-ar send`).
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

    def progress(stage: str, fraction: float) -> None:
        app.status_bar = f"xl-ar: {STAGES.get(stage, stage)}… {round(fraction * 100):d}%"

    return progress


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


def update_credit(book: Any) -> None:
    """Update Credit: the credit columns are part of the refresh run, so it runs the refresh."""
    _refresh(book, "信用已更新 / credit updated")


def plan_collections(book: Any) -> None:
    """Plan Collections: runs the refresh, which writes whatever the run computes."""
    _refresh(book, "催收计划已更新 / collections planned")


def dashboard(book: Any) -> None:
    """Dashboard: runs the refresh, which writes whatever the run computes."""
    _refresh(book, "仪表板已更新 / dashboard updated")


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
