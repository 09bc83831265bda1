"""The reminders run: ``.eml`` drafts, the SMS list and the Outbox sheet of a workbook.

``build_reminders`` reads the ledger, runs the refresh, plans the reminders
(``xl_ar.documents.reminders.plan_reminders``), renders each through the templates, writes the
``.eml`` drafts (text + HTML, the customer's statement attached), ``sms.csv`` for an SMS
gateway, and the Outbox sheet listing them. Nothing is written when the ledger or a template
has an error.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from xl_ar.book.atomic import can_sync_folder, sync_files
from xl_ar.core.evidence import all_checklist_lines
from xl_ar.core.issues import Issue, has_errors
from xl_ar.core.ledger import place
from xl_ar.core.memory import collector_paused
from xl_ar.core.progress import Progress, Step, quiet
from xl_ar.core.stages import DEFAULT_STAGE_RULES, assign_stages, owners_from_settings
from xl_ar.documents import numerals, parse_docs_settings
from xl_ar.documents.bulk import in_order
from xl_ar.documents.mail import Attachment, UnsafeHeader, build_email, eml_bytes, items_header, sms_segments, write_atomic
from xl_ar.documents.outbox import (OUTBOX_SHEETS, PERSON_FIELDS, OutboxEntry, logged_ids, outbox_from_rows,
                                    read_outbox, read_sheet_rows, write_outbox, write_outbox_live, write_sms_csv)
from xl_ar.documents.reminders import (TEMPLATE_SHEETS, AttachFn, default_attach, plan_reminders, reminder_context,
                                       safe_file)
from xl_ar.documents.templates import TemplateError, load_templates, templates_for




@dataclass
class ReminderSummary:
    """What a reminders run made.

    Attributes:
        book, as_of, out_dir: the run.
        entries: the Outbox rows (one per message).
        files: the ``.eml`` drafts written; ``sms_csv`` the SMS list, if any.
        backup: the workbook's backup, when the Outbox sheet was written.
        issues: errors stop the run before anything is written; warnings leave a message out.
    """

    book: str
    as_of: dt.date | None = None
    out_dir: Path | None = None
    entries: list[OutboxEntry] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    sms_csv: Path | None = None
    outbox_sheet: str | None = None
    backup: Path | None = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)

    @property
    def written(self) -> bool:
        """Whether the run wrote anything (drafts, the SMS list or the Outbox sheet), even with
        errors: a template failing for one customer leaves that message out, not the others."""
        return bool(self.files or self.sms_csv or self.outbox_sheet)

    def count(self, status: str) -> int:
        return sum(e.status == status for e in self.entries)

    def __str__(self) -> str:
        errors = len([i for i in self.issues if i.severity == "error"])
        if not self.written:
            return f"催款提醒未生成 / no reminders written: {errors} error(s)"
        left_out = f"; {errors} 个错误 error(s): those messages were left out" if errors else ""
        return (f"催款提醒 / reminders: {self.count('draft')} 封邮件草稿 e-mail drafts, {self.count('sms')} 条短信 SMS, "
                f"{self.count('review')} 待审批 awaiting approval, {self.count('sent')} 已发送 already sent "
                f"-> {self.out_dir}{left_out}")

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {"as_of": self.as_of.isoformat() if self.as_of else None, "out_dir": str(self.out_dir or ""),
                "emails": self.count("draft"), "sms": self.count("sms"), "already_sent": self.count("sent"),
                "awaiting_approval": self.count("review"),
                "files": [str(f) for f in self.files], "sms_csv": str(self.sms_csv) if self.sms_csv else None,
                "outbox": [e.__dict__ for e in self.entries], "issues": [i.as_dict() for i in self.issues],
                "written": self.written}


def _template_rows(adapter: Any, path: Path) -> list[tuple[str, str, str]]:
    """(name, text, place) per row of a Templates sheet: Name in column A, text in B (or by header)."""
    found = None
    if hasattr(adapter, "book") and hasattr(adapter.book, "sheets"):
        from xl_ar.book.livebook import sheet_rows

        wanted = {re.sub(r"\s", "", n).lower() for n in TEMPLATE_SHEETS}
        sheet = next((s for s in adapter.book.sheets if re.sub(r"\s", "", s.name).lower() in wanted), None)
        found = (sheet.name, sheet_rows(sheet)) if sheet is not None else None
    elif path.exists():
        found = read_sheet_rows(path, TEMPLATE_SHEETS)
    if not found:
        return []
    sheet, rows = found
    ncol, tcol, start = 0, 1, 0
    if rows and [str(v).strip().lower() for v in rows[0][:2]] in (["name", "template"], ["名称", "模板"],
                                                                   ["name", "text"], ["模板名称", "模板内容"]):
        start = 1
    out = []
    for i, row in enumerate(rows[start:], start=start + 1):
        if len(row) > tcol and str(row[ncol] or "").strip() and str(row[tcol] or "").strip():
            out.append((str(row[ncol]).strip(), str(row[tcol]), f"{sheet}!B{i}"))
    return out


@collector_paused()
def build_reminders(
    book: Any,
    as_of: dt.date | None = None,
    out_dir: str | Path | None = None,
    *,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    attach: AttachFn | None | str = "auto",
    attach_format: str = "xlsx",
    progress: Progress = quiet,
) -> ReminderSummary:
    """Write the reminders of a workbook: .eml drafts, the SMS list and the Outbox sheet.

    Args:
        book: the workbook's path, or a book adapter (``FileBook``, ``LiveBook``).
        as_of: the as-of date (default: the Settings sheet's, else today).
        out_dir: where the drafts go (default ``BOOKNAME-reminders-YYYY-MM-DD`` beside the book).
        today: today's date, for reproducible runs.
        now: the drafts' Date header (default: now).
        attach: ``(customer_id, lang) -> Attachment | None``; "auto" = the customer's statement
            (or open items when the statements module is missing); None = no attachment.
        attach_format: "xlsx" or "pdf", for the statement.
        progress: called with (stage, fraction done).

    Returns:
        The :class:`ReminderSummary`; nothing is written when it has errors.
    """
    from xl_ar.book.filebook import FileBook
    from xl_ar.documents.send import sent_ids
    from xl_ar.app.refresh import load
    from xl_ar.core.run import refresh

    adapter = FileBook(book) if isinstance(book, (str, os.PathLike)) else book
    path = Path(str(getattr(adapter, "path", "") or "workbook.xlsx"))
    summary = ReminderSummary(str(path))
    step = Step(progress, "read", 0.0, 0.15).begin()
    data = adapter.read(progress=step)
    step = step.then("validate", 0.15, 0.2).begin()
    ledger, settings, policies, issues = load(data, as_of, today or dt.date.today(), progress=step)
    docs, doc_issues = parse_docs_settings(settings.extra)
    summary.as_of, summary.issues = settings.as_of, issues + doc_issues
    if has_errors(issues):
        return summary
    as_of = settings.as_of
    step = step.then("compute", 0.2, 0.3).begin()
    # (its shares at a full sheet: the rules 0.45, the plan 0.25, the letters' texts 0.1, the statements' source 0.2)
    result = refresh(ledger, settings, as_of, policies, parts=("stages", "legal"), progress=step.part(0.0, 0.45))
    rules = tuple(getattr(policies, "stage_rules", DEFAULT_STAGE_RULES))
    stages = getattr(result, "stages", None)
    if stages is None:
        stages = assign_stages(ledger, result, as_of, rules, owners_from_settings(settings.extra),
                               calendar=policies.calendar)
    tset = load_templates(path.parent, _template_rows(adapter, path))
    problems = tset.check()
    summary.issues += [Issue(p.origin if p.origin != "shipped" else p.template, str(p)) for p in problems]
    if problems:
        return summary
    has_own = lambda st: tset.has(f"{st}.{settings.language}.text.j2") or tset.has(f"{st}.zh.text.j2")  # noqa: E731
    reminders, plan_issues = plan_reminders(ledger, result, stages, as_of, language=settings.language,
                                            days_ahead=docs.days_ahead, rules=rules, has_own_templates=has_own)
    summary.issues += plan_issues
    step(0.7)
    if any(r.channel == "email" for r in reminders) and not docs.sender_email:
        summary.issues.append(Issue("Settings", "SenderEmail is blank: set the address reminders are sent from"))
        return summary
    out = Path(out_dir) if out_dir is not None else path.parent / f"{path.stem}-reminders-{as_of.isoformat()}"
    summary.out_dir = out
    already = {**{i: "" for i in logged_ids(data)}, **sent_ids(path)}
    live = hasattr(adapter, "book") and hasattr(adapter.book, "sheets")
    # What a person typed on the Outbox survives the sheet being written again: a message put
    # on hold stays on hold, an approval stays with its message (the id is stable across days).
    before = _previous_outbox(adapter, path, live)
    held = {e.id for e in before if e.status == "hold"}
    approvals = {e.id: {f: getattr(e, f) for f in PERSON_FIELDS} for e in before
                 if any(getattr(e, f) for f in PERSON_FIELDS)}
    if attach == "auto":
        attach = default_attach(ledger, result, settings, as_of, attach_format, summary.issues)
    now = now or dt.datetime.now().astimezone()
    sms_rows: list[dict[str, Any]] = []
    entries: list[OutboxEntry] = []
    bases = _bases(ledger, settings, reminders, as_of)
    legal = getattr(result, "legal", None)
    lawyer_langs = {r.lang for r in reminders if r.kind == "lawyer"} if legal is not None else set()
    evidence_of = {lang: all_checklist_lines(legal, lang) for lang in lawyer_langs}  # every case's, once

    def render(k: int) -> tuple[Any, dict[str, Any], dict[str, str]] | Issue:
        """Reminder ``k`` through its templates: (reminder, context, texts), or why it failed."""
        rem = reminders[k]
        evidence = evidence_of[rem.lang].get(rem.customer_id, []) if rem.kind == "lawyer" and legal is not None else ()
        ctx = reminder_context(rem, docs, as_of, policies.calendar, bases[k], evidence)
        try:
            return rem, ctx, {p: tset.render(n, ctx) for p, n in templates_for(tset, rem.kind, rem.lang,
                                                                               rem.channel).items()}
        except TemplateError as exc:
            return Issue(exc.origin, f'{exc} (customer "{rem.customer_id}"; message left out)')

    # The dunning letters' PDFs draw from one CJK font cut to all their characters: cutting the
    # whole font costs ~2 s of CPU, once per run instead of once per letter. Their texts are
    # rendered here for it; every other message is rendered where it is made.
    from xl_ar.documents.letterpdf import letter_chars, letter_heading

    early = {k: render(k) for k, rem in enumerate(reminders)
             if rem.kind == "dunning" and rem.channel == "email" and rem.id not in already}
    dunning = [(item[0], item[2]["text"]) for item in early.values() if not isinstance(item, Issue)]
    letters = [letter_chars(text, _letter_title(rem), rem.id) for rem, text in dunning]
    prepare = getattr(attach, "prepare", None)  # PDF statements: one cut for them and the letters
    wanted = [(rem.customer_id, rem.lang) for rem in reminders if rem.channel == "email" and rem.id not in already]
    fonts = prepare(wanted, letters) if prepare is not None and wanted else None
    fonts = fonts if fonts is not None else _letter_fonts(letters, [letter_heading(text) for _, text in dunning])
    warm = getattr(attach, "warm", None)
    step(0.8)
    if warm is not None and reminders:
        warm()  # the statement source, made once here rather than in each worker
    step(1.0)
    run = _Drafting(out, path, already, held, approvals, settings, docs, as_of, now, attach, fonts, ledger,
                    durable=not can_sync_folder(), folder=_relative(out, path.parent))

    def make(k: int) -> tuple[OutboxEntry | None, dict[str, Any] | None, Path | None, list[Issue]]:
        """Message ``k``: its Outbox row, SMS row or draft file, and what it warned of."""
        item = early[k] if k in early else render(k)
        if isinstance(item, Issue):
            return None, None, None, [item]
        before = len(summary.issues)  # attach() and the letter report into summary.issues
        made = _message(run, item, summary.issues)
        new = summary.issues[before:]
        del summary.issues[before:]
        return (*made, new)

    try:
        def done(n: int) -> None:
            progress("render", 0.3 + 0.6 * n / max(len(reminders), 1))

        # The letters' font is cut here while the workers make the other messages; they make the
        # letters last (one after another, or here first, where there are no workers).
        cut = getattr(fonts, "cut", None)
        numerals.prepare(r.lang for r in reminders)
        for entry, sms, eml, warned in in_order(make, len(reminders), done, later=early, meanwhile=cut):
            summary.issues += warned
            if sms is not None:
                sms_rows.append(sms)
            if eml is not None:
                summary.files.append(eml)
            if entry is not None:
                entries.append(entry)
    finally:
        if fonts is not None:
            fonts.close()
    if not run.durable and summary.files:  # the drafts on disk before the Outbox names them
        sync_files(out, summary.files)
    if sms_rows:
        summary.sms_csv = write_sms_csv(out / "sms.csv", sms_rows)
    summary.entries = entries
    progress("write", 0.9)
    if live:
        summary.outbox_sheet = write_outbox_live(adapter.book, entries, settings.language)
    else:
        from xl_ar.book.package import WorkbookPackage

        pkg = WorkbookPackage.open(path).refuse_1904()
        summary.outbox_sheet = write_outbox(pkg, entries, settings.language)
        summary.backup = pkg.save_changes()
    progress("done", 1.0)
    return summary


@dataclass(frozen=True)
class _Drafting:
    """What every message of a reminders run shares (see :func:`_message`)."""

    out: Path  # the drafts' folder
    book: Path
    already: dict[str, str]  # id -> when sent, for messages already sent or logged
    held: set[str]  # ids a person put on hold on the Outbox
    approvals: dict[str, dict[str, Any]]  # id -> the approval typed on the Outbox
    settings: Any
    docs: Any
    as_of: dt.date
    now: dt.datetime
    attach: Any
    fonts: Any
    ledger: Any
    durable: bool  # each draft synced as it is written (else all at once before the Outbox is saved)
    folder: tuple[str, bool]  # ``out`` as the Outbox names it (:func:`_relative`)

    def where(self, name: str) -> str:
        """The Outbox's name for the run's file ``name`` in ``out``: relative to the workbook's
        folder when under it, else absolute. The folder is resolved once a run (the files are
        the run's own, never links), not once a message."""
        folder, under = self.folder
        return (PurePosixPath(folder) / name).as_posix() if under else str(Path(folder) / name)


def _message(run: _Drafting, item: tuple[Any, dict[str, Any], dict[str, str]], issues: list[Issue],
             ) -> tuple[OutboxEntry | None, dict[str, Any] | None, Path | None]:
    """One rendered reminder made into its Outbox row and its SMS row or ``.eml`` draft (written).

    Returns:
        (Outbox row or None when the message was left out, SMS row or None, draft file or None).
    """
    rem, ctx, parts = item
    out, as_of, docs = run.out, run.as_of, run.docs
    amount = "; ".join(f"{t['currency']} {t['open']}" for t in ctx["totals"])
    entry = OutboxEntry(channel=rem.channel, customer_id=rem.customer_id, name=rem.name, stage=ctx["stage_label"],
                        items=", ".join(i.invoice_no for i in rem.items), amount=amount,
                        owner=rem.owner or ctx["owner"], id=rem.id,
                        review=("是" if run.settings.language == "zh" else "yes") if rem.review else "",
                        **run.approvals.get(rem.id, {}))
    if rem.channel == "sms":
        text = " ".join(parts["text"].split())
        sms = {"id": rem.id, "customer_id": rem.customer_id, "name": rem.name, "phone": rem.phone,
               "text": text, "segments": sms_segments(text), "stage": rem.stage, "as_of": as_of.isoformat()}
        return (OutboxEntry(**{**entry.__dict__, "status": "sms", "to": rem.phone, "subject": text,
                               "file": run.where("sms.csv")}), sms, None)
    eml = out / f"{safe_file(rem.customer_id)}_{rem.kind}_{rem.id[-6:]}.eml"
    to = [(rem.contact or rem.name, a) for a in rem.emails]
    subject = " ".join(parts["subject"].split())
    base = {**entry.__dict__, "to": ", ".join(rem.emails), "subject": subject, "file": run.where(eml.name)}
    if rem.id in run.already:
        return OutboxEntry(**{**base, "status": "sent", "sent_at": run.already[rem.id]}), None, None
    files = [a for a in [run.attach(rem.customer_id, rem.lang)] if a] if run.attach else []
    files = [a if isinstance(a, Attachment) else Attachment(*a) for a in files]
    if rem.kind == "dunning":
        letter = _letter_pdf(rem, parts["text"], docs.company(rem.lang), as_of, issues, run.fonts)
        files = files + ([letter] if letter else [])
    try:
        msg = build_email(msg_id=rem.id, sender=(docs.sender_name or docs.company(rem.lang), docs.sender_email),
                          to=to, subject=subject, text=parts["text"], html=parts.get("html"), date=run.now,
                          attachments=files, meta={"X-XL-AR-Customer": rem.customer_id,
                                                   "X-XL-AR-Items": items_header([i.invoice_no for i in rem.items]),
                                                   "X-XL-AR-By": ctx["owner"], "X-XL-AR-Stage": rem.stage})
    except UnsafeHeader as exc:
        issues.append(Issue(_unsafe_cell(run, rem, exc.what),
                            f'customer "{rem.customer_id}": {exc}; no reminder was made', "warning"))
        return None, None, None
    write_atomic(eml, eml_bytes(msg), durable=run.durable)
    status = "hold" if rem.id in run.held else "review" if OutboxEntry(**base).approval_missing() else "draft"
    return OutboxEntry(**{**base, "status": status}), None, eml


def _unsafe_cell(run: _Drafting, rem: Any, what: str) -> str:
    """Where the text a header refused (``UnsafeHeader.what``) came from: Settings (the sender,
    a stage's owner), the Invoices (an invoice number), else the customer's cell that went into
    it: id, contact, e-mail or name (the subject holds the name)."""
    if what.startswith("sender") or what == "X-XL-AR-By":
        return "Settings"
    if what == "X-XL-AR-Items":
        return "Invoices"
    field = {"X-XL-AR-Customer": "customer_id", "e-mail address": "email",
             "recipient name": "contact" if rem.contact else "name"}.get(what, "name")
    return place(run.ledger, "Customers", field, rem.customer_row)


def _bases(ledger: Any, settings: Any, reminders: list[Any], as_of: dt.date) -> list[Any]:
    """Per reminder, the customer's late-fee basis: its own terms (Customers row) over the
    workbook's. The terms of all the run's customers are looked up in one pass and the rate
    table made once (per reminder, each walked every customer: ~3 ms a letter)."""
    import numpy as np

    from xl_ar.core.feebasis import fee_basis, interest_from
    from xl_ar.core.run import fee_terms, rate_table
    from xl_ar.core.terms import invoice_fee_terms

    if not reminders:
        return []
    terms, idx = invoice_fee_terms(ledger.customers, np.array([r.customer_id for r in reminders], dtype=object),
                                   fee_terms(settings))
    rates = rate_table(ledger)
    out = []
    for rem, k in zip(reminders, idx):
        own = terms[int(k)]
        late = [interest_from(i.due_date, own.grace_days) for i in rem.items if i.days_to_due < 0]
        out.append(fee_basis(own, as_of, rates, min(late) if late else None))
    return out


def _letter_title(rem: Any) -> str:
    return f"{'催款函' if rem.lang == 'zh' else 'Formal demand for payment'} {rem.name}"


def _letter_fonts(letters: list[str], headings: list[str]) -> Any:
    """One font cut for the run's letters, its bold face to their headings, made when the run
    calls its ``cut`` (None without letters or a CJK font: each letter then finds its
    own, or reports why it cannot)."""
    if not letters:
        return None
    try:
        from xl_ar.documents.fonts import BatchFonts

        return BatchFonts(extra=letters, bold_extra=headings, deferred=True)
    except ImportError:
        return None


def _letter_pdf(rem: Any, text: str, company: str, as_of: dt.date, issues: list[Issue],
                fonts: Any = None) -> Attachment | None:
    """The dunning letter 催款函 as a PDF to attach (a warning, and the e-mail alone, without a CJK font)."""
    from xl_ar.documents.pdf import PdfError
    from xl_ar.documents.letterpdf import render_letter_pdf

    zh = rem.lang == "zh"
    try:
        data = render_letter_pdf(text, title=_letter_title(rem), author=company, date=as_of, footer=rem.id,
                                 batch=fonts)
    except PdfError as exc:
        issues.append(Issue("Settings", f'customer "{rem.customer_id}": {exc}; the letter goes as e-mail text only',
                            "warning"))
        return None
    name = f"{'催款函' if zh else 'demand-for-payment'}_{safe_file(rem.customer_id)}_{as_of.isoformat()}.pdf"
    return Attachment(name, data, "application/pdf")


def _previous_outbox(adapter: Any, path: Path, live: bool) -> list[OutboxEntry]:
    """The Outbox as it stands before this run (the open workbook's sheet in Excel)."""
    if live:
        from xl_ar.book.livebook import sheet_rows

        wanted = {re.sub(r"\s", "", n).lower() for n in OUTBOX_SHEETS}
        sheet = next((s for s in adapter.book.sheets if re.sub(r"\s", "", s.name).lower() in wanted), None)
        return outbox_from_rows(sheet_rows(sheet)) if sheet is not None else []
    return read_outbox(path)[1] if path.exists() else []


def _relative(folder: Path, base: Path) -> tuple[str, bool]:
    """Where the run's files go, for the Outbox: ``folder`` resolved, relative to the resolved
    ``base`` (the workbook's folder) and True when under it, else absolute and False (see
    :meth:`_Drafting.where`)."""
    real = folder.resolve()
    try:
        return real.relative_to(base.resolve()).as_posix(), True
    except ValueError:
        return str(real), False
