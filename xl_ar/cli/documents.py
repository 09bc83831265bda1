"""``xl-ar reminders`` and ``xl-ar send``: the documents that go out to customers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from xl_ar.cli.common import (EXIT_ISSUES, EXIT_OK, MAX_PRINTED_ISSUES, MAX_PRINTED_ROWS, add_quiet, console_for, date_arg,
                             esc, fail, print_issues, progress_bar)



def register(subparsers: Any) -> None:
    """Add ``reminders`` and ``send`` to the ``xl-ar`` command.

    Args:
        subparsers: the object ``ArgumentParser.add_subparsers()`` returned.
    """
    r = subparsers.add_parser(
        "reminders", help="write reminder e-mails (.eml drafts), the SMS list and the Outbox sheet",
        description="One message per customer with items due soon or overdue, worded for the collection stage "
        "(reminder, overdue note, dunning letter 催款函, lawyer's-letter draft), in the customer's language. "
        "Writes .eml drafts any mail client opens (text + HTML, the statement attached), sms.csv for an SMS "
        "gateway, and the Outbox sheet in the workbook (backed up first). Templates: a Templates sheet or a "
        "templates folder beside the workbook override the shipped ones.")
    r.add_argument("book", type=Path, help="the ledger workbook (.xlsx or .xlsm)")
    r.add_argument("--as-of", type=date_arg, help="as-of date (default: the Settings sheet's AsOfDate, else today)")
    r.add_argument("--out", type=Path, default=None,
                   help="folder for the drafts (default BOOK-reminders-DATE beside the workbook)")
    r.add_argument("--attach", choices=("xlsx", "pdf", "none"), default="xlsx",
                   help="attach the customer's statement as xlsx (default) or pdf, or nothing")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    add_quiet(r)
    r.set_defaults(handler=run_reminders)

    s = subparsers.add_parser(
        "send", help="send the Outbox over SMTP (dry run unless --yes)",
        description="Send the Outbox's e-mail drafts through the server on the Settings sheet (SmtpHost, SmtpPort, "
        "SmtpSecurity, SmtpUser; the password from XL_AR_SMTP_PASSWORD or the system keyring, never the "
        "workbook). Without --yes nothing is sent: the messages that would go are listed. A message is never "
        "sent twice: accepted ones are journalled beside the workbook and logged on the Activities sheet.")
    s.add_argument("book", type=Path, help="the ledger workbook")
    s.add_argument("--yes", action="store_true", help="really send")
    s.add_argument("--retry-uncertain", action="store_true",
                   help="also resend messages an interrupted send may already have delivered")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(handler=run_send)


def run_reminders(args: argparse.Namespace) -> int:
    """Handler of ``xl-ar reminders``."""
    from xl_ar.book.package import BookError
    from xl_ar.app.reminders import build_reminders

    console = console_for(args)
    try:
        with progress_bar(console) as progress:
            summary = build_reminders(args.book, args.as_of, args.out, attach=None if args.attach == "none" else "auto",
                                      attach_format=args.attach if args.attach != "none" else "xlsx", progress=progress)
    except (BookError, FileNotFoundError, PermissionError) as exc:
        return fail(console, exc)
    if args.json:
        print(json.dumps(summary.as_json(), ensure_ascii=False, default=str))
    else:
        print_issues(summary.issues[:MAX_PRINTED_ISSUES], console)
        if len(summary.issues) > MAX_PRINTED_ISSUES:
            console.print(f"... and {len(summary.issues) - MAX_PRINTED_ISSUES} more (--json lists them all)")
        if summary.written and not console.quiet:  # (--quiet: not even drawn, thousands of rows take seconds)
            from rich.table import Table

            t = Table(title=f"Outbox {summary.as_of}", title_justify="left")
            for h in ("status", "channel", "customer", "to", "subject"):
                t.add_column(h)
            for e in summary.entries[:MAX_PRINTED_ROWS]:
                t.add_row(*(esc(v) for v in (e.status, e.channel, e.customer_id, e.to, e.subject)))
            console.print(t)
            if len(summary.entries) > MAX_PRINTED_ROWS:
                console.print(f"... and {len(summary.entries) - MAX_PRINTED_ROWS} more: the Outbox sheet lists them all")
            console.print(esc(summary), highlight=False)
        else:
            console.print("[red]nothing written:[/] fix the errors above and run again")
    return EXIT_OK if summary.ok else EXIT_ISSUES


def run_send(args: argparse.Namespace) -> int:
    """Handler of ``xl-ar send``."""
    from xl_ar.book.package import BookError
    from xl_ar.app.send import SendError, send_outbox

    console = console_for(args)
    try:
        report = send_outbox(args.book, yes=args.yes, retry_uncertain=args.retry_uncertain)
    except SendError as exc:
        done = getattr(exc, "report", None)
        if done is not None and done.sent:
            console.print(f"sent {len(done.sent)} before stopping; they are logged")
        return fail(console, exc)
    except (BookError, FileNotFoundError, PermissionError) as exc:
        return fail(console, exc)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, default=str))
        return EXIT_OK if report.ok else EXIT_ISSUES
    print_issues(report.issues, console)
    for p in report.planned:
        mark = "would send" if report.dry_run else ("sent" if p.out.id in report.sent else "not sent")
        att = f" [{', '.join(p.attachments)}]" if p.attachments else ""
        console.print(esc(f"{mark}: {', '.join(p.out.recipients)}: {p.out.subject}{att}"), highlight=False)
    for what, d in (("failed", report.failed), ("check whether it arrived", report.uncertain)):
        for k, why in d.items():
            console.print(f"[red]{what}[/] {esc(k)}: {esc(why)}")
    console.print(esc(report), highlight=False)
    return EXIT_OK if report.ok else EXIT_ISSUES
