"""Writing a run's results into a workbook package: computed columns, the Aging sheet.

Only parts xl-ar owns change: the invoice sheet's computed columns (spliced into its XML, every
user cell kept exactly), the Aging sheet (wholly generated), the styles it adds, and the
Invoices table's extent. Labels are in the workbook's language.
"""

from __future__ import annotations

import numpy as np

from xl_ar.book.headers import OUTPUTS, sheet_label
from xl_ar.book.package import WorkbookPackage
from xl_ar.book.reader import BookData
from xl_ar.book.sheetxml import OutColumn, render_sheet, splice_columns
from xl_ar.core.money import CURRENCY_EXPONENTS, to_major_array
from xl_ar.core.run import RunResult
from xl_ar.core.settings import Settings

MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
COMPUTED_FILL = "DDEBF7"  # pale blue: "the tool writes this", unlike the user's dark headers
COMPUTED_FONT = "1F3864"

_TEXT = {
    "en": {
        "title": "Aging as of {as_of} (by {basis})", "basis_due": "due date", "basis_invoice": "invoice date",
        "customer": "CustomerID", "name": "Name", "currency": "Currency", "total": "Total",
        "late_fee": "Late fees", "disputed": "Disputed", "unapplied": "Unapplied",
        "grand": "Total {ccy}", "tie": "Tie-out {ccy}", "invoiced": "Invoices",
        "credits": "− credit notes applied", "receipts": "− receipts applied", "open": "= open items",
        "sum": "Sum of buckets", "holds": "Ties out", "yes": "yes", "no": "NO",
        "u_cash": "Unapplied cash (not netted)", "u_credit": "Unapplied credit notes (not netted)",
        "net": "Net balance", "u_title": "Unapplied money", "ref": "Document", "date": "Date",
        "amount": "Amount", "kind": "Kind", "receipt": "receipt", "credit": "credit note",
        "policy": "Late fees: policy {policy}, grace {grace} days",
    },
    "zh": {
        "title": "账龄分析 截止 {as_of}（按{basis}）", "basis_due": "到期日", "basis_invoice": "开票日",
        "customer": "客户编号", "name": "客户名称", "currency": "币种", "total": "合计",
        "late_fee": "滞纳金", "disputed": "争议金额", "unapplied": "未核销",
        "grand": "合计 {ccy}", "tie": "勾稽 {ccy}", "invoiced": "发票金额",
        "credits": "− 已核销红字发票", "receipts": "− 已核销收款", "open": "= 未收余额",
        "sum": "各账龄段合计", "holds": "勾稽相符", "yes": "是", "no": "否",
        "u_cash": "未核销收款（未抵减）", "u_credit": "未核销红字发票（未抵减）",
        "net": "净余额", "u_title": "未核销款项", "ref": "单据号", "date": "日期",
        "amount": "金额", "kind": "类型", "receipt": "收款", "credit": "红字发票",
        "policy": "滞纳金规则 {policy}，宽限 {grace} 天",
    },
}


class Styles:
    """The cell styles xl-ar adds to a workbook (reused when already there)."""

    def __init__(self, pkg: WorkbookPackage):
        self.header = pkg.cell_style(None, bold=True, font_color=COMPUTED_FONT, fill=COMPUTED_FILL, halign="center")
        self.money = pkg.cell_style(MONEY_FORMAT)
        self.integer = pkg.cell_style("0")
        self.date = pkg.cell_style(DATE_FORMAT)
        self.title = pkg.cell_style(None, bold=True)
        self.total = pkg.cell_style(MONEY_FORMAT, bold=True)
        self.bold = pkg.cell_style(None, bold=True)
        self.percent = pkg.cell_style("0.0%")
        self.decimal1 = pkg.cell_style("0.0")


def _splice_outputs(pkg: WorkbookPackage, data: BookData, table: str, rows: np.ndarray,
                    content: dict[str, tuple], settings: Settings, st: Styles) -> None:
    """Write a sheet's computed columns where they were, or right of the user's columns.

    Args:
        table: the canonical table ("Invoices", "Customers").
        rows: the Excel row of each value.
        content: field -> (values, style, kind, width), fields as in ``OUTPUTS[table]``.
    """
    layout = data.layouts[table]
    nxt = max([layout.last_col, *layout.outputs.values()]) + 1
    columns, values = [], []
    for field, (en, zh) in OUTPUTS[table].items():
        index = layout.outputs.get(field)
        if index is None:
            index, nxt = nxt, nxt + 1
        vals, style, kind, width = content[field]
        columns.append(OutColumn(index, zh if settings.language == "zh" else en, st.header, style, kind, width))
        values.append(vals)
    part = pkg.sheet_part(layout.name)
    xml = splice_columns(pkg.read(part), header_row=layout.header_row, columns=columns, rows=rows, values=values)
    pkg.set_sheet(layout.name, xml)
    pkg.extend_table(layout.name, layout.header_row, layout.first_col, max(c.index for c in columns),
                     {c.index: c.header for c in columns}, last_row=max(layout.last_row, layout.header_row + 1))


def _invoice_content(result: RunResult, st: Styles) -> dict[str, tuple]:
    inv = result.invoices
    exists = inv["exists"].to_numpy(dtype=bool)
    exp = inv["exp"].to_numpy()
    is_item = exists & ((inv["paid_minor"].to_numpy() > 0) | (inv["open_minor"].to_numpy() > 0))

    def money(minor):
        return np.where(is_item, to_major_array(minor.to_numpy(dtype=np.int64), exp), np.nan)

    labels = np.array(result.labels + [""], dtype=object)
    return {
        "paid": (money(inv["paid_minor"]), st.money, "number", 14),
        "open": (money(inv["open_minor"]), st.money, "number", 14),
        "days_late": (np.where(is_item & (inv["days_late"] >= 0), inv["days_late"], np.nan).astype(float), st.integer, "number", 10),
        "bucket": (labels[inv["bucket"].to_numpy()], 0, "text", 11),
        "late_fee": (money(inv["late_fee_minor"]), st.money, "number", 12),
    }


def _customer_content(result: RunResult, settings: Settings, st: Styles, exp: int) -> dict[str, tuple]:
    c = result.credit
    zh = settings.language == "zh"
    yes, no = ("是", "") if zh else ("yes", "")

    def money(col):
        return to_major_array(c[col].to_numpy(dtype=np.int64), exp)

    return {
        "avg_days_late": (np.round(c["avg_days_late"].to_numpy(dtype=float), 1), st.decimal1, "number", 11),
        "on_time_rate": (c["on_time_rate"].to_numpy(dtype=float), st.percent, "number", 10),
        "exposure": (money("exposure_minor"), st.money, "number", 14),
        "available": (money("available_minor"), st.money, "number", 14),
        "over_limit": (np.where(c["over_limit"].to_numpy(dtype=bool), yes, no), 0, "text", 9),
        "score": (c["score"].to_numpy(dtype=float), st.integer, "number", 8),
        "grade": (c["grade"].to_numpy(dtype=object), 0, "text", 8),
        "suggested_limit": (money("suggested_limit_minor"), st.money, "number", 14),
        "suggested_terms": (c["suggested_terms_days"].to_numpy(dtype=float), st.integer, "number", 10),
        "hold": (np.where(c["hold"].to_numpy(dtype=bool), yes, no), 0, "text", 8),
        "hold_reason": (c["hold_reason_zh" if zh else "hold_reason"].to_numpy(dtype=object), 0, "text", 30),
        "next_review": (c["next_review"].to_numpy(dtype="datetime64[s]"), st.date, "date", 12),
    }


def _aging_rows(result: RunResult, settings: Settings, st: Styles) -> list[list]:
    t = _TEXT[settings.language]
    basis = t["basis_due"] if settings.aging_basis == "due" else t["basis_invoice"]
    n_b = len(result.labels)
    head = [t["customer"], t["name"], t["currency"], *result.labels, t["total"], t["late_fee"], t["disputed"], t["unapplied"]]
    rows: list[list] = [
        [(t["title"].format(as_of=f"{result.as_of:%Y-%m-%d}", basis=basis), st.title)],
        [t["policy"].format(policy=settings.late_fee_policy, grace=settings.late_fee_grace_days)],
        [(h, st.header) for h in head],
    ]
    ag = result.aging
    money_cols = [f"b{i}" for i in range(n_b)] + ["total", "late_fee", "disputed", "unapplied"]
    for ccy, tie in result.tieouts.items():
        sub = ag[ag["currency"] == ccy]
        if sub.empty and tie.open == 0:
            continue
        vals = {c: to_major_array(sub[c].to_numpy(dtype=np.int64), tie.exp) for c in money_cols}
        for k, (cid, name) in enumerate(zip(sub["customer_id"], sub["name"])):
            rows.append([cid, name, ccy, *[(float(vals[c][k]), st.money) for c in money_cols]])
        tot = [float(to_major_array(np.array([int(sub[c].sum())]), tie.exp)[0]) for c in money_cols]
        rows.append([(t["grand"].format(ccy=ccy), st.bold), "", ccy, *[(v, st.total) for v in tot]])
    for ccy, tie in result.tieouts.items():
        m = lambda minor: (float(to_major_array(np.array([minor]), tie.exp)[0]), st.money)  # noqa: E731
        # Labels in A overflow into the empty B; the figures stand in C, under "Currency".
        rows += [[], [(t["tie"].format(ccy=ccy), st.title)],
                 [t["invoiced"], None, m(tie.invoiced)], [t["credits"], None, m(tie.credit_applied)],
                 [t["receipts"], None, m(tie.received_applied)], [(t["open"], st.bold), None, m(tie.open)],
                 [t["sum"], None, m(sum(tie.buckets))], [t["holds"], None, t["yes"] if tie.holds else t["no"]],
                 [t["u_cash"], None, m(tie.unapplied_cash)], [t["u_credit"], None, m(tie.unapplied_credit)],
                 [(t["net"], st.bold), None, m(tie.net_balance)]]
    un = result.unapplied
    if len(un):
        rows += [[], [(t["u_title"], st.title)],
                 [(h, st.header) for h in (t["ref"], t["customer"], t["currency"], t["date"], t["amount"], t["kind"])]]
        exps = {c: x.exp for c, x in result.tieouts.items()}
        for r in un.itertuples(index=False):
            amount = float(to_major_array(np.array([r.amount_minor]), exps.get(r.currency, 2))[0])
            rows.append([r.ref, r.customer_id, r.currency, (r.date.date() if hasattr(r.date, "date") else r.date, st.date),
                         (amount, st.money), t[r.payer_kind]])
    return rows


def write_results(pkg: WorkbookPackage, data: BookData, result: RunResult, settings: Settings) -> None:
    """Put a run's results into the package (not saved yet).

    Args:
        pkg: the opened workbook package.
        data: what was read from it (sheet names and layouts).
        result: the run's results.
        settings: the run's settings (language, basis, policy).
    """
    st = Styles(pkg)
    _splice_outputs(pkg, data, "Invoices", result.invoices["row"].to_numpy(), _invoice_content(result, st), settings, st)
    if result.credit is not None and "Customers" in data.layouts and data.layouts["Customers"].last_col:
        base_exp = CURRENCY_EXPONENTS.get(settings.base_currency, 2)
        rows = data.tables["Customers"].frame["row"].to_numpy()
        _splice_outputs(pkg, data, "Customers", rows, _customer_content(result, settings, st, base_exp), settings, st)

    rows = _aging_rows(result, settings, st)
    n_cols = 3 + len(result.labels) + 4
    widths = {1: 14, 2: 30, 3: 14, **{j: 14 for j in range(4, n_cols + 1)}}
    aging_xml = render_sheet(rows, col_widths=widths, date_style=st.date, freeze_header=False)
    existing = next((n for n in data.sheet_names if n in ("Aging", "账龄分析")), None)
    pkg.set_sheet(existing or sheet_label("Aging", settings.language), aging_xml)

