"""Reminders (mail merge): one message per customer per run, worded for its collection stage.

``plan_reminders`` (pure) picks the items: every open invoice in a dunning stage (pre-due,
due, mild, moderate, severe, or a user's own stage) at the as-of date, as the stage rules
decide by class; a customer with such an item also gets its other open items due within
``ReminderDaysAhead`` days listed as "due soon", so one letter shows the whole picture.
Disputed, promised and written-off items are never dunned. The customer's most severe item
governs the letter: its stage picks the wording (a polite pre-due reminder, a friendly
overdue note, a formal dunning letter 催款函 with amount, days, late fee and a deadline, a
lawyer's-letter draft for the severe stage) and its rule's channel picks e-mail or SMS (the
class C pre-due rule says SMS). The language is the customer's, else the workbook's.

``reminder_context`` is what a template sees. The run that writes ``.eml`` drafts, ``sms.csv``
and the Outbox sheet from a workbook is ``xl_ar.app.reminders``.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from xl_ar.book.sheetxml import escape_controls
from xl_ar.core.calendar import NO_CALENDAR, BusinessCalendar
from xl_ar.core.feebasis import FeeBasis, fee_basis, interest_from
from xl_ar.core.fees import FeeTerms
from xl_ar.core.issues import Issue
from xl_ar.core.ledger import Ledger, place
from xl_ar.core.money import to_major
from xl_ar.core.stages import (DEFAULT_STAGE_RULES, FALLBACK_RULE, OWNER_ROLES, StageRule)
from xl_ar.documents import DocsSettings
from xl_ar.documents.filenames import safe_stem
from xl_ar.documents.feetext import fee_context
from xl_ar.documents.numerals import capital_amount
from xl_ar.documents.mail import (Attachment, UnsafeHeader, message_id,
                             parse_addresses, phone_number, safe_text)

#: ``(customer_id, lang) -> attachment or None``: what a reminder carries (the statement).
AttachFn = Callable[[str, str], "Attachment | tuple[str, bytes, str] | None"]

#: Stage -> letter kind (the shipped templates). A stage with templates of its own uses those.
STAGE_KIND = {"pre_due": "reminder", "due": "reminder", "mild": "overdue", "overdue": "overdue",
              "moderate": "dunning", "severe": "lawyer"}
_RANK = {"pre_due": 0, "due": 1, "mild": 2, "overdue": 2, "moderate": 3, "severe": 4}
NOT_DUNNED = frozenset({"", "promised", "disputed", "written_off"})
TEMPLATE_SHEETS = ("Templates", "模板", "邮件模板")
_DUE_SOON = {"en": "Due soon", "zh": "即将到期"}
# An owner that is only a role ("finance", "财务") signs no letter: the sender does.
_ROLE_NAMES = frozenset(OWNER_ROLES) | frozenset(OWNER_ROLES.values())



@dataclass(frozen=True)
class ReminderItem:
    """One invoice a reminder lists (money in minor units)."""

    invoice_no: str
    invoice_date: dt.date | None
    due_date: dt.date
    currency: str
    exp: int
    amount_minor: int
    open_minor: int
    late_fee_minor: int
    days_late: int
    days_to_due: int
    stage: str
    stage_label: str
    stage_label_zh: str
    contract_no: str = ""
    description: str = ""
    compensation_minor: int = 0  # the statutory compensation included in late_fee_minor


@dataclass(frozen=True)
class Reminder:
    """One message to one customer.

    Attributes:
        id: the stable message id.
        customer_id, name, contact, klass, customer_row: the customer (row on Customers).
        emails, phone: checked addresses, phone digits.
        lang: "zh" or "en".
        channel: "email" or "sms".
        stage: the governing stage; ``kind`` the letter kind its templates are named by.
        owner: who the letter is from (the stage owner).
        items: the invoices listed, most overdue first.
        review: a person must approve it before it is sent (a lawyer's letter, a review stage).
    """

    id: str
    customer_id: str
    name: str
    contact: str
    klass: str
    customer_row: int
    emails: tuple[str, ...]
    phone: str
    lang: str
    channel: str
    stage: str
    kind: str
    owner: str
    items: tuple[ReminderItem, ...]
    review: bool = False


def _rule_channel(rules: Sequence[StageRule], stage: str, klass: str) -> str:
    same = [r for r in rules if r.stage == stage] or ([FALLBACK_RULE] if stage == FALLBACK_RULE.stage else [])
    pick = next((r for r in same if klass in r.classes), None) or next((r for r in same if not r.classes), None)
    return (pick or (same[0] if same else FALLBACK_RULE)).channel


def _rule_review(rules: Sequence[StageRule], stage: str, klass: str) -> bool:
    same = [r for r in rules if r.stage == stage]
    pick = next((r for r in same if klass in r.classes), None) or next((r for r in same if not r.classes), None)
    return bool(pick and pick.review)


def _kind(stage: str, days_late: int, has_own: Callable[[str], bool]) -> str:
    if has_own(stage):
        return stage
    return STAGE_KIND.get(stage) or ("overdue" if days_late > 0 else "reminder")


def plan_reminders(
    ledger: Ledger,
    result: Any,
    stages: pd.DataFrame,
    as_of: dt.date,
    *,
    language: str = "zh",
    days_ahead: int = 7,
    rules: Sequence[StageRule] = DEFAULT_STAGE_RULES,
    has_own_templates: Callable[[str], bool] = lambda stage: False,
) -> tuple[list[Reminder], list[Issue]]:
    """The reminders of a run: which customers, which items, which letter, which channel.

    Args:
        ledger: the validated ledger.
        result: the refresh run at ``as_of`` (``RunResult``).
        stages: ``assign_stages`` for the same run.
        as_of: the as-of date.
        language: the workbook's language, for customers without one.
        days_ahead: other open items due within this many days are listed as "due soon".
        rules: the stage rules (for each stage's channel by class).
        has_own_templates: True for a stage that has templates of its own.

    Returns:
        (reminders sorted by customer, issues: a customer whose address is missing or unsafe
        is left out with a warning naming the cell).
    """
    inv = ledger.invoices
    r = result.invoices
    exists = r["exists"].to_numpy(dtype=bool)
    open_ = r["open_minor"].to_numpy(dtype=np.int64)
    amount = inv["amount_minor"].to_numpy(dtype=np.int64)
    due = inv["due_date"].to_numpy(dtype="datetime64[D]")
    asof = np.datetime64(as_of, "D")
    days_to_due = np.where(np.isnat(due), 0, (np.where(np.isnat(due), asof, due) - asof).astype(np.int64))
    stage = stages["stage"].to_numpy(dtype=object)
    live = exists & (amount > 0) & (open_ > 0) & ~np.isnat(due)
    dunned = live & ~pd.Series(stage).isin(NOT_DUNNED).to_numpy()
    # The cadence: an item calls for a message when its step's day has come and nothing went
    # out for that step yet (stages without the cadence columns: every dunned item).
    if "step" in stages:
        n_step = stages["step"].to_numpy(dtype=np.int64)
        step_day = stages["step_date"].to_numpy(dtype="datetime64[D]")
        action = dunned & (n_step >= 0) & ~np.isnat(step_day) & (step_day <= asof) & ~stages["step_sent"].to_numpy(bool)
    else:
        n_step = np.zeros(len(inv), np.int64)
        action = dunned
    # Items not in any stage yet, due within the window: listed with a customer's letter only.
    soon = live & (stage == "") & (days_to_due >= 0) & (days_to_due <= days_ahead)
    cust = inv["customer_id"].to_numpy(dtype=object)
    # Each customer's row as a dict, made in one pass (a .loc look-up per reminder cost more).
    customers = ledger.customers.drop_duplicates("customer_id").set_index("customer_id", drop=False).to_dict("index")
    issues: list[Issue] = []
    out: list[Reminder] = []
    labels = stages["stage_label"].to_numpy(dtype=object)
    labels_zh = stages["stage_label_zh"].to_numpy(dtype=object)
    owners = stages["owner"].to_numpy(dtype=object)
    owners_zh = stages["owner_zh"].to_numpy(dtype=object)
    fee = r["late_fee_minor"].to_numpy(dtype=np.int64)
    comp = r["compensation_minor"].to_numpy(dtype=np.int64) if "compensation_minor" in r else np.zeros(len(inv), np.int64)
    # The listed items' fields as Python values, converted once for all of them (an element of a
    # numpy array, converted one at a time, cost most of the planning).
    at = np.flatnonzero(dunned | soon)
    text = lambda col: inv[col].to_numpy(dtype=object)[at].tolist() if col in inv else [""] * len(at)  # noqa: E731
    inv_no, contract, descr, currency = text("invoice_no"), text("contract_no"), text("description"), text("currency")
    inv_date = inv["invoice_date"].to_numpy(dtype="datetime64[D]")[at].astype(object).tolist()  # NaT: None
    due_date = due[at].astype(object).tolist()
    exp, amount_, open_l, fee_, comp_ = (v[at].tolist() for v in (inv["exp"].to_numpy(dtype=np.int64), amount,
                                                                   open_, fee, comp))
    to_due, stage_l, action_l, soon_l, dunned_l = (v[at].tolist() for v in (days_to_due, stage, action, soon, dunned))
    ranks = [_RANK.get(st, 2 if d < 0 else 0) for st, d in zip(stage_l, to_due)]
    groups: dict[Any, list[int]] = {}
    for k, c in enumerate(cust[at].tolist()):  # one pass, not one scan per customer
        groups.setdefault(c, []).append(k)
    for cid, pos in groups.items():
        staged = [k for k in pos if action_l[k]]
        if not staged:
            continue  # nothing whose step has come: no message for this customer today
        g = max(staged, key=lambda k: (ranks[k], -to_due[k], -k))
        gov = int(at[g])
        # Listed: the items whose step has come, the customer's other dunned items no worse than
        # the governing one (so the letter's tone fits every line), and the items due soon.
        pos = [k for k in pos if action_l[k] or soon_l[k] or ranks[k] <= ranks[g]]
        c = customers.get(cid)
        lang = str(c["language"]) if c is not None and str(c.get("language", "")) in ("zh", "en") else language
        klass = (str(c["class"]).strip().upper() if c is not None else "") or "B"
        row = int(c["row"]) if c is not None else 0
        items = []
        for k in sorted(pos, key=lambda k: (to_due[k], str(inv_no[k]))):
            dun, p = dunned_l[k], int(at[k])
            items.append(ReminderItem(
                str(inv_no[k]), inv_date[k], due_date[k], str(currency[k]), exp[k], amount_[k], open_l[k], fee_[k],
                max(0, -to_due[k]), to_due[k], str(stage_l[k]) if dun else "",
                str(labels[p]) if dun else _DUE_SOON["en"], str(labels_zh[p]) if dun else _DUE_SOON["zh"],
                str(contract[k] or ""), str(descr[k] or ""), comp_[k]))
        channel = "sms" if _rule_channel(rules, str(stage[gov]), klass) == "sms" else "email"
        checked: dict[str, Any] = {}
        for fld, what, check in (("name", "customer name", safe_text), ("contact", "contact", safe_text),
                                 ("email", "e-mail address", parse_addresses)):
            try:
                checked[fld] = check(c[fld] if c is not None else "", what)
            except UnsafeHeader as exc:
                where = place(ledger, "Customers", fld, row) if row else "Customers"
                issues.append(Issue(where, f'customer "{cid}": {exc}; no reminder was made', "warning"))
                break
        if len(checked) < 3:
            continue
        name, contact, emails = checked["name"] or str(cid), checked["contact"], tuple(checked["email"])
        phone = phone_number(c["phone"]) if c is not None else ""
        if channel == "sms" and not phone:
            channel = "email"  # a polite e-mail is better than no reminder at all
        if channel == "email" and not emails:
            where = place(ledger, "Customers", "email", row) if row else "Customers"
            issues.append(Issue(where, f'customer "{cid}" has no e-mail address{" or phone" if not phone else ""}; '
                                "no reminder was made", "warning"))
            continue
        st = str(stage[gov])
        kind = "sms" if channel == "sms" else _kind(st, -int(days_to_due[gov]), has_own_templates)
        owner = str(owners_zh[gov] if lang == "zh" else owners[gov])
        mid = message_id(str(cid), f"{st}#{int(n_step[gov])}", channel, kind, [i.invoice_no for i in items])
        review = kind == "lawyer" or _rule_review(rules, st, klass)
        out.append(Reminder(mid, str(cid), name, contact, klass, row, emails, phone, lang, channel, st, kind,
                            owner, tuple(items), review))
    return sorted(out, key=lambda m: m.customer_id), issues


# ------------------------------------------------------------------------------- context


def fmt_money(minor: int, exp: int) -> str:
    """``8,000.00`` (the currency's own number of decimals)."""
    return f"{to_major(minor, exp):,.{exp}f}"


def fmt_date(d: dt.date | None, lang: str) -> str:
    """``2025年3月31日`` in Chinese, ``31 Mar 2025`` in English."""
    if d is None:
        return ""
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else f"{d.day} {d:%b} {d.year}"


def reminder_context(rem: Reminder, docs: DocsSettings, as_of: dt.date,
                     calendar: BusinessCalendar = NO_CALENDAR, basis: FeeBasis | None = None,
                     evidence: Sequence[tuple[str, str, str, str, bool]] = ()) -> dict[str, Any]:
    """The template fields of one reminder (see ``templates.CONTEXT_FIELDS``).

    Args:
        rem: the reminder.
        docs: the documents settings (company, deadline days).
        as_of: the as-of date (the letter's date).
        calendar: the payment deadline moves forward to a working day of this calendar.
        basis: the customer's late-fee basis (its own terms, see ``xl_ar.core.terms``); None =
            the default daily terms.
        evidence: the customer's legal checklist, (item, status, found, missing, gap) per
            item (``xl_ar.core.evidence.checklist_lines``), for the lawyer's-letter annex.

    Returns:
        A dict of plain values: text, numbers, booleans, lists of dicts.
    """
    lang = rem.lang
    if basis is None:
        basis = fee_basis(FeeTerms(), as_of)

    def item(i: ReminderItem) -> dict[str, Any]:
        overdue = i.days_to_due < 0
        return {
            "invoice_no": i.invoice_no, "invoice_date": fmt_date(i.invoice_date, lang),
            "due_date": fmt_date(i.due_date, lang), "currency": i.currency,
            "amount": fmt_money(i.amount_minor, i.exp), "open": fmt_money(i.open_minor, i.exp),
            "late_fee": fmt_money(i.late_fee_minor, i.exp),
            "total_due": fmt_money(i.open_minor + i.late_fee_minor, i.exp),
            "days_late": i.days_late, "days_to_due": max(i.days_to_due, 0), "overdue": overdue,
            "due_soon": not i.stage, "has_late_fee": i.late_fee_minor > 0, "stage": i.stage,
            "stage_label": i.stage_label_zh if lang == "zh" else i.stage_label,
            "contract_no": i.contract_no, "description": i.description,
            "interest_from": fmt_date(interest_from(i.due_date, basis.grace_days), lang) if overdue else "",
            "compensation": fmt_money(i.compensation_minor, i.exp),
        }

    totals = []
    for ccy in dict.fromkeys(i.currency for i in rem.items):
        its = [i for i in rem.items if i.currency == ccy]
        exp = its[0].exp
        over = sum(i.open_minor for i in its if i.days_to_due < 0)
        fee = sum(i.late_fee_minor for i in its)
        comp = sum(i.compensation_minor for i in its)
        totals.append({
            "currency": ccy, "open": fmt_money(sum(i.open_minor for i in its), exp), "overdue": fmt_money(over, exp),
            "late_fee": fmt_money(fee, exp),
            "due_soon": fmt_money(sum(i.open_minor for i in its if i.days_to_due >= 0), exp),
            "total_due": fmt_money(over + fee, exp), "items": len(its),
            "total_due_words": capital_amount(over + fee, exp, ccy) if lang == "zh" else "",
            "has_overdue": over > 0, "has_late_fee": fee > 0,
            "interest": fmt_money(fee - comp, exp), "compensation": fmt_money(comp, exp), "has_compensation": comp > 0,
        })
    items = [item(i) for i in rem.items]
    items.sort(key=lambda x: (not x["overdue"], -x["days_late"], x["days_to_due"]))
    deadline = calendar.deadline(as_of, docs.deadline_days)
    stage_label = next((x["stage_label"] for x in items if x["stage"] == rem.stage), rem.stage)
    return {
        "company": {"name": docs.company(lang), "phone": docs.company_phone, "bank_account": docs.bank_account,
                    "sender_name": docs.sender_name, "sender_email": docs.sender_email},
        "customer": {"id": rem.customer_id, "name": rem.name, "contact": rem.contact, "email": ", ".join(rem.emails),
                     "phone": rem.phone, "class": rem.klass, "language": lang},
        "items": items, "overdue_items": [x for x in items if x["overdue"]],
        "due_soon_items": [x for x in items if not x["overdue"]], "totals": totals,
        "stage": rem.stage, "stage_label": stage_label, "kind": rem.kind, "lang": lang,
        "as_of": fmt_date(as_of, lang), "deadline": fmt_date(deadline, lang), "deadline_days": docs.deadline_days,
        "owner": rem.owner if rem.owner and rem.owner not in _ROLE_NAMES else (docs.sender_name or docs.company(lang)),
        "message_id": rem.id, "channel": rem.channel,
        "max_days_late": max((i.days_late for i in rem.items), default=0),
        "evidence": [dict(zip(("item", "status", "found", "missing", "gap"), e)) for e in evidence],
        "fee": fee_context(basis, [i for i in rem.items if i.days_to_due < 0], as_of, lang, fmt_date),
    }


# ------------------------------------------------------------------------------- attachments


def open_items_attachment(ledger: Ledger, result: Any, customer_id: str, as_of: dt.date, lang: str) -> Attachment:
    """A small workbook of a customer's open items (used when no statement module is installed).

    Args:
        ledger, result: the run.
        customer_id: the customer.
        as_of: the as-of date.
        lang: "zh" or "en".

    Returns:
        The ``.xlsx`` attachment.
    """
    from openpyxl import Workbook

    zh = lang == "zh"
    inv, r = ledger.invoices, result.invoices
    m = ((inv["customer_id"] == customer_id) & r["exists"] & (r["open_minor"] > 0)
         & (inv["amount_minor"] > 0)).to_numpy()
    wb = Workbook()
    ws = wb.active
    ws.title = "未结清明细" if zh else "Open items"
    head = (["发票号", "开票日期", "到期日", "币种", "金额", "未付金额", "逾期天数", "滞纳金"] if zh else
            ["Invoice", "Invoice date", "Due date", "Currency", "Amount", "Open", "Days late", "Late fee"])
    title = f"{customer_id} {'截至' if zh else 'open items as of'} {as_of.isoformat()}"
    rows: list[list[Any]] = [[title], head]
    for p in np.flatnonzero(m):
        exp = int(inv["exp"].iat[p])
        rows.append([inv["invoice_no"].iat[p], inv["invoice_date"].iat[p].date(), inv["due_date"].iat[p].date(),
                     inv["currency"].iat[p], float(to_major(int(inv["amount_minor"].iat[p]), exp)),
                     float(to_major(int(r["open_minor"].iat[p]), exp)), max(int(r["days_late"].iat[p]), 0),
                     float(to_major(int(r["late_fee_minor"].iat[p]), exp))])
    for row in rows:
        ws.append([None] * len(row))
        for j, v in enumerate(row, start=1):
            cell = ws.cell(ws.max_row, j)
            cell.value = escape_controls(v) if isinstance(v, str) else v
            if isinstance(v, str):
                cell.data_type = "s"  # text stays text: an invoice number "=..." is no formula
            elif isinstance(v, dt.date):
                cell.number_format = "yyyy-mm-dd"
    buf = io.BytesIO()
    wb.save(buf)
    name = f"{'未结清明细' if zh else 'open-items'}_{safe_file(customer_id)}_{as_of.isoformat()}.xlsx"
    return Attachment(name, buf.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def default_attach(ledger: Ledger, result: Any, settings: Any, as_of: dt.date, fmt: str = "xlsx",
                   issues: list[Issue] | None = None) -> Callable[[str, str], Attachment | None]:
    """The statement attachment (``xl_ar.documents.attachments.statement_attachment``), or the
    customer's open items (:func:`open_items_attachment`) when a statement cannot be made.

    Args:
        ledger, result, settings, as_of: the run.
        fmt: "xlsx" or "pdf" (for the statement module).
        issues: where a statement that could not be made is reported (the open items are
            attached instead).

    Returns:
        ``(customer_id, lang) -> Attachment``.
    """
    from xl_ar.documents.attachments import statement_attachment
    from xl_ar.documents.statements import StatementSource

    sources: list = []  # the period's statement source, made at the first attachment and shared
    fonts: list = []  # the run's BatchFonts, when prepare() made one (PDF statements)

    def source() -> StatementSource:
        if not sources:
            sources.append(StatementSource(ledger, settings, as_of, result))
        return sources[0]

    def attach(customer_id: str, lang: str) -> Attachment | None:
        try:
            return Attachment(*statement_attachment(ledger, settings, customer_id, as_of, fmt=fmt, lang=lang,
                                                    source=source(), batch=fonts[0] if fonts else None))
        except Exception as exc:  # one customer's statement failing must not stop the reminders
            if issues is not None:
                issues.append(Issue("Statements", f'statement of "{customer_id}" not attached ({exc}); '
                                    "its open items are attached instead", "warning"))
        return open_items_attachment(ledger, result, customer_id, as_of, lang)

    def prepare(wanted: Sequence[tuple[str, str]], extra: Sequence[str] = ()) -> Any:
        """For PDF statements: one CJK font cut to the characters of every statement the run
        attaches (``(customer_id, lang)`` pairs) and of ``extra`` texts (the dunning letters), so
        no PDF cuts the whole font itself. Returns the ``BatchFonts`` (the caller closes it) or
        None (.xlsx statements)."""
        if fmt != "pdf":
            return None
        try:
            from xl_ar.documents.fonts import BatchFonts
        except ImportError:
            return None
        start = as_of.replace(day=1)
        statements = []
        for customer_id, lang in wanted:
            try:
                statements += source().statements(start, customers=[customer_id], lang=lang, include_quiet=True)
            except Exception:  # noqa: S112 - attach() reports it, with the open items attached instead
                continue
        fonts[:] = [BatchFonts(statements, extra=extra)]
        return fonts[0]

    attach.prepare = prepare  # type: ignore[attr-defined]
    attach.warm = source  # type: ignore[attr-defined]  # make the statement source now (before workers fork)
    return attach


def safe_file(text: str) -> str:
    """A customer id as a safe part of a file name (letters, digits, '.', '-' and '_').

    At most 60 bytes; an id that had to be changed or cut ends with a digest of the original,
    so two customers never share a file (see :func:`safe_stem`).
    """
    return safe_stem(text, "customer", allowed=r"\w.-", max_bytes=60)
