"""A realistic sample ledger: a few hundred customers, a few thousand invoices over two years.

Deterministic (seeded), so the demo's figures are the same on every machine. It has what real
ledgers have: Chinese and English customers, partial payments, receipts that name their invoice
and receipts that don't, credit notes, disputes, a collection log with promises, and a few bad
rows that validation reports as warnings.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xl_ar.book.newbook import build_ledger_workbook
from xl_ar.core.progress import Progress, quiet

DEMO_AS_OF = dt.date(2026, 10, 31)
#: The demo company's details on the Settings sheet (documents are signed with them).
DEMO_SETTINGS = {
    "CompanyName": "Demo Trading Co., Ltd.", "CompanyNameZh": "演示贸易有限公司", "SenderName": "应收账款部 AR team",
    "SenderEmail": "ar@demo.example", "CompanyPhone": "021-5555 0000",
    "BankAccount": "招商银行上海分行 6214 0000 0000 0000",
}

_CITIES = ["上海", "北京", "深圳", "广州", "杭州", "苏州", "南京", "成都", "武汉", "天津", "宁波", "青岛", "厦门", "西安", "重庆"]
_WORDS = ["华信", "恒通", "鼎盛", "博远", "金桥", "众联", "瑞丰", "永安", "新元", "长江", "明德", "宏达", "天成", "佳禾", "启航", "和信"]
_TRADES = ["贸易", "机电", "电子科技", "物流", "建材", "食品", "医疗器械", "包装材料", "化工", "信息技术", "汽车配件", "纺织"]
_EN_A = ["Harbor", "Pacific", "Summit", "Northwind", "Bluewater", "Evergreen", "Silverline", "Redwood", "Granite", "Lakeside", "Orion", "Crescent"]
_EN_B = ["Logistics", "Electronics", "Trading", "Foods", "Medical", "Packaging", "Components", "Textiles", "Systems", "Materials"]
_EN_C = ["Ltd", "Co., Ltd", "Inc.", "GmbH", "Pte Ltd", "LLC"]
_OWNERS = ["张伟", "李娜", "王芳", "刘洋", "陈静", "Tom Chen", "Alice Wong"]
_SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"]
_DISPUTES = ["货物质量问题", "数量与送货单不符", "价格与合同不一致", "Delivery incomplete", "Wrong unit price"]
_TERMS = {"A": 30, "B": 60, "C": 90}
_LIMITS = {"A": 2_000_000, "B": 500_000, "C": 100_000}


def demo_ledger(n_customers: int = 300, seed: int = 20261031, as_of: dt.date = DEMO_AS_OF) -> dict[str, list[list[Any]]]:
    """Rows for each ledger table, in the schema's field order.

    Args:
        n_customers: number of customers (invoices are about 12 per customer).
        seed: the random seed.
        as_of: the last day of the two years of history.

    Returns:
        Canonical table -> list of rows.
    """
    rnd = random.Random(seed)
    start = as_of - dt.timedelta(days=730)
    customers, invoices, receipts, activities = [], [], [], []
    inv_seq = rec_seq = 0
    for c in range(1, n_customers + 1):
        cid = f"C{c:04d}"
        english = rnd.random() < 0.25
        if english:
            name = f"{rnd.choice(_EN_A)} {rnd.choice(_EN_B)} {rnd.choice(_EN_C)}"
            contact = rnd.choice(["Mr. ", "Ms. "]) + rnd.choice(["Smith", "Lee", "Müller", "Tan", "Brown", "Sato"])
        else:
            name = f"{rnd.choice(_CITIES)}{rnd.choice(_WORDS)}{rnd.choice(_TRADES)}有限公司"
            contact = rnd.choice(_SURNAMES) + rnd.choice(["经理", "会计", "总", "女士", "先生"])
        klass = rnd.choices("ABC", weights=(15, 50, 35))[0]
        owner = rnd.choice(_OWNERS)
        customers.append([cid, name, klass, contact, f"ap{c:04d}@example.com", f"13{rnd.randint(100000000, 999999999)}",
                          _TERMS[klass], float(_LIMITS[klass]), owner, "en" if english else "zh"])
        currency = "USD" if english and rnd.random() < 0.5 else "CNY"
        habit = rnd.choices(["early", "ontime", "late", "bad"], weights=(20, 45, 28, 7))[0]
        for _ in range(max(1, int(rnd.gauss(12, 5)))):
            inv_seq += 1
            inv_no = f"INV{inv_seq:06d}"
            idate = start + dt.timedelta(days=rnd.randint(0, 729))
            due = idate + dt.timedelta(days=_TERMS[klass])
            scale = {"A": 80_000, "B": 20_000, "C": 5_000}[klass]
            amount = round(rnd.lognormvariate(0, 0.8) * scale, 2)
            disputed = rnd.random() < 0.02
            invoices.append([inv_no, cid, idate, due, amount, currency, f"HT{c:04d}-{idate.year}",
                             rnd.choice(["货款", "服务费", "Goods", "Installation", "维保费"]),
                             "是" if disputed else "", rnd.choice(_DISPUTES) if disputed else ""])
            if rnd.random() < 0.03:  # a credit note for a return or a price adjustment: paid net
                inv_seq += 1
                credit = round(amount * rnd.choice([0.1, 0.2, 0.5]), 2)
                invoices.append([f"CN{inv_seq:06d}", cid, idate + dt.timedelta(days=rnd.randint(3, 20)), None,
                                 -credit, currency, "", "退货红字发票", "", ""])
                amount = round(amount - credit, 2)
            if disputed:
                continue
            delay = {"early": -rnd.randint(1, 10), "ontime": rnd.randint(-2, 3),
                     "late": int(rnd.expovariate(1 / 25)), "bad": int(rnd.expovariate(1 / 120))}[habit]
            pay_date = due + dt.timedelta(days=delay)
            if pay_date > as_of:
                continue
            name_it = rnd.random() < 0.7
            if rnd.random() < 0.12:  # partial payment, the rest a month later
                part = round(amount * rnd.choice([0.3, 0.5, 0.6]), 2)
                rec_seq += 1
                receipts.append([f"R{rec_seq:06d}", cid, pay_date, part, currency, inv_no if name_it else ""])
                pay_date += dt.timedelta(days=rnd.randint(20, 60))
                amount = round(amount - part, 2)
                if pay_date > as_of:
                    continue
            rec_seq += 1
            receipts.append([f"R{rec_seq:06d}", cid, pay_date, amount, currency, inv_no if name_it else ""])
    _collection_log(rnd, invoices, receipts, activities, as_of)
    _bad_rows(customers, invoices, receipts)
    return {"Customers": customers, "Invoices": invoices, "Receipts": receipts, "Activities": activities}


def _collection_log(rnd, invoices, receipts, activities, as_of) -> None:
    paid = {r[5] for r in receipts if r[5]}
    overdue = [i for i in invoices if i[3] and i[3] < as_of - dt.timedelta(days=10) and i[4] > 0 and i[0] not in paid]
    for inv in rnd.sample(overdue, min(len(overdue), 120)):
        day = min(as_of, inv[3] + dt.timedelta(days=rnd.randint(3, 40)))
        promise = rnd.random() < 0.5
        activities.append([day, inv[1], inv[0], rnd.choice(["phone", "wechat", "email"]), rnd.choice(_OWNERS),
                           rnd.choice(["客户称资金紧张，月底安排付款", "已发对账单，等待确认", "Customer will pay after approval",
                                       "财务说付款流程在审批中"]),
                           day + dt.timedelta(days=rnd.randint(5, 30)) if promise else None,
                           round(inv[4] * rnd.choice([0.5, 1.0]), 2) if promise else None, ""])
    activities.sort(key=lambda a: a[0])


def _bad_rows(customers, invoices, receipts) -> None:
    """A few of the mistakes real ledgers have, each reported as a warning (as many as a small
    sample has rows for: ``--customers 5`` is a valid demo too)."""
    if len(customers) > 7:
        customers[7][2] = "D"  # an unknown class
    if len(invoices) > 11:
        invoices[11][3] = None  # a blank due date: terms are used
    if not receipts:
        return
    receipts.append([f"R{len(receipts) + 900000:06d}", "C9999", receipts[-1][2], 1200.0, "CNY", ""])  # unknown customer
    receipts.append([f"R{len(receipts) + 900000:06d}", customers[min(3, len(customers) - 1)][0], receipts[-1][2],
                     800.0, "CNY", "INV999999"])  # unknown invoice


def write_demo_ledger(path: str | Path, lang: str = "zh", n_customers: int = 300, as_of: dt.date = DEMO_AS_OF) -> Path:
    """Write the sample ledger to ``path`` with its as-of date set (so the demo is reproducible)."""
    data = demo_ledger(n_customers, as_of=as_of)
    wb = build_ledger_workbook(lang, data, settings=DEMO_SETTINGS | {"AsOfDate": as_of})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


@dataclass
class DemoStep:
    """One step of the demo: the refresh report it produced (if any) and what to tell the user."""

    name: str
    lines: list[str] = field(default_factory=list)
    report: Any = None


@dataclass
class DemoResult:
    """What ``xl-ar demo`` did, step by step, and whether every step succeeded."""

    book: Path
    steps: list[DemoStep] = field(default_factory=list)
    ok: bool = True


def run_demo(out: str | Path, lang: str = "zh", n_customers: int = 300, *, progress: Progress = quiet) -> DemoResult:
    """``xl-ar demo``: write the sample ledger, refresh it, write its documents.

    The documents: reminder e-mails (.eml drafts, worded by stage, the statement attached), the
    SMS list for class C customers, the Outbox sheet, and the month's reconciliation statements
    (.xlsx and PDF for every customer with something to state, as ``xl-ar statements`` makes them).

    Args:
        out: the output folder.
        lang: the sample ledger's language ("zh" or "en").
        n_customers: how many customers the sample has.
        progress: called with (step, fraction done).

    Returns:
        The :class:`DemoResult`.
    """
    from xl_ar.app.refresh import run_refresh
    from xl_ar.app.reminders import build_reminders
    from xl_ar.app.statements import run_statements
    from xl_ar.book.filebook import FileBook

    out = Path(out)
    book = out / ("演示台账.xlsx" if lang == "zh" else "demo_ledger.xlsx")
    result = DemoResult(book)
    progress("building the sample ledger", 0.0)
    write_demo_ledger(book, lang, n_customers)
    result.steps.append(DemoStep("ledger", [f"sample ledger: {book}"]))
    progress("refresh", 0.1)
    report = run_refresh(FileBook(book))
    step = DemoStep("refresh", report=report)
    result.steps.append(step)
    if not report.ok:
        result.ok = False
        return result
    step.lines.append(f"refreshed {book}: computed columns on the invoice and customer sheets; "
                      "aging, collections, warning table and dashboard sheets")
    progress("reminders", 0.3)
    reminders = build_reminders(book, out_dir=out / "reminders", today=DEMO_AS_OF)
    result.steps.append(DemoStep("reminders", [str(reminders)]))
    period_from = DEMO_AS_OF.replace(day=1)
    progress("statements", 0.6)
    made = run_statements(FileBook(book), period_from, DEMO_AS_OF, out_dir=out / "statements",
                          progress=lambda stage, done: progress("statements", 0.6 + 0.4 * done))
    pdf_error = next((i.message for i in made.issues if i.where == "PDF"), "")
    files = sorted(p for p in out.rglob("*") if p.is_file() and ".xl-ar-backups" not in p.parts)
    by_kind: dict[str, int] = {}
    for p in files:
        by_kind[p.suffix] = by_kind.get(p.suffix, 0) + 1
    count = {kind: sum(1 for f in made.files if f.suffix == kind) for kind in (".xlsx", ".pdf")}
    lines = [f"statements {period_from:%Y-%m-%d} – {DEMO_AS_OF:%Y-%m-%d}: {count['.xlsx']} .xlsx, {count['.pdf']} .pdf "
             f"in {out / 'statements'}",
             f"output in {out}: " + ", ".join(f"{n} {k or 'other'}" for k, n in sorted(by_kind.items()))]
    lines += [f"  {p}" for p in [f for f in files if f.suffix in (".csv", ".xlsx") and f.parent in (out, out / "reminders")]
              + [f for f in files if f.suffix == ".eml"][:5]]
    if pdf_error:
        lines.append(f"PDF: {pdf_error}")
    result.steps.append(DemoStep("statements", lines))
    progress("done", 1.0)
    result.ok = reminders.ok and made.ok and not pdf_error
    return result


