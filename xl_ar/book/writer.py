"""Writing a run's results into a workbook: computed columns, the Aging sheet.

"What to write" is decided once, by :func:`plan_outputs`, for both adapters: the file adapter
(:func:`write_results`, a zip-part splice) and the live-book adapter (``xl_ar.book.livebook``,
through xlwings). Cells carry style *names* (``"money"``, ``"header"`` ...); each adapter turns
a name into its own formatting (a ``cellXfs`` index here, ``number_format``/colours there).

Only parts xl-ar owns change: the invoice sheet's computed columns (spliced into its XML, every
user cell kept exactly), the Aging sheet (wholly generated), the styles it adds, and the
Invoices table's extent. Labels are in the workbook's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from xl_ar.book.charts import add_charts
from xl_ar.book.headers import OUTPUTS, SHEET_ALIASES, sheet_label
from xl_ar.book.owned import OwnedSheet
from xl_ar.book.legal import legal_sheet
from xl_ar.book.reports import REPORT_SHEETS, REPORT_STYLE_SPECS, report_sheets
from xl_ar.book.package import WorkbookPackage
from xl_ar.book.reader import BookData, SheetLayout
from xl_ar.book.deflate import DeflatedPart, deflate_pieces
from xl_ar.book.render import render_sheet_pieces
from xl_ar.book.sheetxml import Kind, OutColumn
from xl_ar.book.splice import splice_sheet
from xl_ar.book.tables import widen_autofilter
from xl_ar.core.beside import beside
from xl_ar.core.memory import return_free_memory
from xl_ar.core.progress import Step
from xl_ar.core.money import CURRENCY_EXPONENTS, to_major_array
from xl_ar.core.run import RunResult
from xl_ar.core.settings import Settings
from xl_ar.core.stages import CHANNEL_LABELS

MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
COMPUTED_FILL = "DDEBF7"  # pale blue: "the tool writes this", unlike the user's dark headers
COMPUTED_FONT = "1F3864"

#: The formats xl-ar gives its cells, by name: number format, bold, font colour, fill, alignment.
#: Order matters for the file adapter: styles are added to ``styles.xml`` in this order.
STYLE_SPECS: dict[str, dict[str, Any]] = {
    "header": dict(num_fmt=None, bold=True, font_color=COMPUTED_FONT, fill=COMPUTED_FILL, halign="center"),
    "money": dict(num_fmt=MONEY_FORMAT),
    "integer": dict(num_fmt="0"),
    "date": dict(num_fmt=DATE_FORMAT),
    "title": dict(num_fmt=None, bold=True),
    "total": dict(num_fmt=MONEY_FORMAT, bold=True),
    "bold": dict(num_fmt=None, bold=True),
    "percent": dict(num_fmt="0.0%"),
    "decimal1": dict(num_fmt="0.0"),
    **REPORT_STYLE_SPECS,
}

_TEXT = {
    "en": {
        "title": "Aging as of {as_of} (by {basis})", "basis_due": "due date", "basis_invoice": "invoice date",
        "customer": "CustomerID", "name": "Name", "currency": "Currency", "total": "Total",
        "late_fee": "Late fees", "disputed": "Disputed", "unapplied": "Unapplied",
        "written_off": "Bad debt written off", "recovered": "Bad debt recovered",
        "wo_line": "− written off (bad debt)", "rec_line": "Bad debt recovered (not in receivables)",
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
        "written_off": "坏账核销", "recovered": "坏账收回",
        "wo_line": "− 坏账核销", "rec_line": "坏账收回（不计入应收）",
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
    """The cell styles xl-ar adds to a workbook package (reused when already there)."""

    def __init__(self, pkg: WorkbookPackage):
        self.index: dict[str | None, int] = {None: 0}
        for name, spec in STYLE_SPECS.items():
            spec = dict(spec)
            self.index[name] = pkg.cell_style(spec.pop("num_fmt", None), **spec)

    def __getitem__(self, name: str | None) -> int:
        return self.index[name]


@dataclass(frozen=True)
class ColumnOut:
    """One computed column of a ledger sheet, ready for any adapter.

    Attributes:
        field: the computed field (a key of ``OUTPUTS[table]``).
        index: 1-based column it goes to (where it was, else right of the user's columns).
        header: its header, in the workbook's language.
        values: one value per row of :attr:`SheetOutputs.rows` (NaN/None/NaT/"" = blank).
        style: the style name of the values (None = General).
        kind: "number", "text" or "date".
        width: column width in characters, for a new column.
    """

    field: str
    index: int
    header: str
    values: np.ndarray
    style: str | None
    kind: Kind
    width: float


@dataclass(frozen=True)
class SheetOutputs:
    """The computed columns of one ledger sheet.

    Attributes:
        table: the canonical table ("Invoices", "Customers").
        layout: where the sheet's table sits (from the read).
        rows: the Excel row of each value.
        columns: the columns, in ``OUTPUTS[table]`` order.
    """

    table: str
    layout: SheetLayout
    rows: np.ndarray
    columns: list[ColumnOut]


@dataclass(frozen=True)
class Outputs:
    """Everything a refresh writes back, independent of how it is written.

    Attributes:
        sheets: computed columns per ledger sheet (Invoices, then Customers when present).
        owned: the sheets the tool rewrites whole, in order (the Aging sheet first).
    """

    sheets: list[SheetOutputs]
    owned: list[OwnedSheet]


def output_columns(layout: SheetLayout, table: str) -> dict[str, int]:
    """Where each computed column of a ledger sheet goes (field -> 1-based column): where it
    was, or right of the user's columns."""
    nxt = max([layout.last_col, *layout.outputs.values()]) + 1
    where = {}
    for field in OUTPUTS[table]:
        index = layout.outputs.get(field)
        if index is None:
            index, nxt = nxt, nxt + 1
        where[field] = index
    return where


def _place_columns(layout: SheetLayout, table: str, content: dict[str, tuple], language: str) -> list[ColumnOut]:
    """Each computed column with its values, where :func:`output_columns` puts it."""
    columns = []
    for field, index in output_columns(layout, table).items():
        en, zh = OUTPUTS[table][field]
        vals, style, kind, width = content[field]
        columns.append(ColumnOut(field, index, zh if language == "zh" else en, vals, style, kind, width))
    return columns


def _invoice_content(result: RunResult, language: str = "en") -> dict[str, tuple]:
    """field -> (values, style name, kind, width) of the Invoices sheet's computed columns."""
    inv = result.invoices
    exists = inv["exists"].to_numpy(dtype=bool)
    exp = inv["exp"].to_numpy()
    is_item = exists & ((inv["paid_minor"].to_numpy() > 0) | (inv["open_minor"].to_numpy() > 0))

    def money(minor):
        return np.where(is_item, to_major_array(minor.to_numpy(dtype=np.int64), exp), np.nan)

    labels = np.array(result.labels + [""], dtype=object)
    return {
        "paid": (money(inv["paid_minor"]), "money", "number", 14),
        "open": (money(inv["open_minor"]), "money", "number", 14),
        "days_late": (np.where(is_item & (inv["days_late"] >= 0), inv["days_late"], np.nan).astype(float), "integer", "number", 10),
        "bucket": (labels[inv["bucket"].to_numpy()], None, "text", 11),
        "late_fee": (money(inv["late_fee_minor"]), "money", "number", 12),
        **_stage_content(result, language),
    }


def _stage_content(result: RunResult, language: str) -> dict[str, tuple]:
    """The collection-stage columns of the Invoices sheet (blank when stages were not run)."""
    st = result.stages
    n = len(result.invoices)
    zh = language == "zh"
    if st is None:
        blank = np.full(n, "", dtype=object)
        texts = {f: blank for f in ("stage", "next_action", "channel", "owner")}
        dates = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    else:
        channel = st["channel"].to_numpy(dtype=object)
        texts = {
            "stage": st["stage_label_zh" if zh else "stage_label"].to_numpy(dtype=object),
            "next_action": st["next_action_zh" if zh else "next_action"].to_numpy(dtype=object),
            "channel": _translated(channel, CHANNEL_LABELS) if zh else channel,
            "owner": st["owner_zh" if zh else "owner"].to_numpy(dtype=object),
        }
        dates = st["next_action_date"].to_numpy(dtype="datetime64[s]")
    return {
        "stage": (texts["stage"], None, "text", 10),
        "next_action": (texts["next_action"], None, "text", 30),
        "channel": (texts["channel"], None, "text", 9),
        "owner": (texts["owner"], None, "text", 12),
        "next_action_date": (dates, "date", "date", 12),
    }


def _translated(values: np.ndarray, labels: dict[str, str]) -> np.ndarray:
    """Each value's label (the value itself where it has none), looked up once per distinct value."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)  # a missing value stays missing (NaN)
    return np.array([labels.get(v, v) for v in distinct], dtype=object)[codes]


def _customer_content(result: RunResult, settings: Settings, exp: int) -> dict[str, tuple]:
    """field -> (values, style name, kind, width) of the Customers sheet's credit columns."""
    c = result.credit
    zh = settings.language == "zh"
    yes, no = ("是", "") if zh else ("yes", "")

    def money(col):
        return to_major_array(c[col].to_numpy(dtype=np.int64), exp)

    return {
        "avg_days_late": (np.round(c["avg_days_late"].to_numpy(dtype=float), 1), "decimal1", "number", 11),
        "on_time_rate": (c["on_time_rate"].to_numpy(dtype=float), "percent", "number", 10),
        "exposure": (money("exposure_minor"), "money", "number", 14),
        "available": (money("available_minor"), "money", "number", 14),
        "over_limit": (np.where(c["over_limit"].to_numpy(dtype=bool), yes, no), None, "text", 9),
        "score": (c["score"].to_numpy(dtype=float), "integer", "number", 8),
        "grade": (c["grade"].to_numpy(dtype=object), None, "text", 8),
        "suggested_limit": (money("suggested_limit_minor"), "money", "number", 14),
        "limit_reason": (c["limit_reason_zh" if zh else "limit_reason"].to_numpy(dtype=object), None, "text", 30),
        "suggested_terms": (c["suggested_terms_days"].to_numpy(dtype=float), "integer", "number", 10),
        "hold": (np.where(c["hold"].to_numpy(dtype=bool), yes, no), None, "text", 8),
        "hold_reason": (c["hold_reason_zh" if zh else "hold_reason"].to_numpy(dtype=object), None, "text", 30),
        "next_review": (c["next_review"].to_numpy(dtype="datetime64[s]"), "date", "date", 12),
    }


def _aging_rows(result: RunResult, settings: Settings) -> list[list]:
    """The Aging sheet's rows from A1; a cell is a value or (value, style name)."""
    t = _TEXT[settings.language]
    basis = t["basis_due"] if settings.aging_basis == "due" else t["basis_invoice"]
    n_b = len(result.labels)
    # Bad-debt columns only when something was written off: most ledgers have none.
    bad = [c for c in ("written_off", "recovered") if c in result.aging and result.aging[c].any()]
    head = [t["customer"], t["name"], t["currency"], *result.labels, t["total"], t["late_fee"], t["disputed"],
            t["unapplied"], *[t[c] for c in bad]]
    rows: list[list] = [
        [(t["title"].format(as_of=f"{result.as_of:%Y-%m-%d}", basis=basis), "title")],
        [t["policy"].format(policy=settings.late_fee_policy, grace=settings.late_fee_grace_days)],
        [(h, "header") for h in head],
    ]
    ag = result.aging
    money_cols = [f"b{i}" for i in range(n_b)] + ["total", "late_fee", "disputed", "unapplied"] + bad
    for ccy, tie in result.tieouts.items():
        sub = ag[ag["currency"] == ccy]
        if sub.empty and tie.open == 0:
            continue
        vals = {c: to_major_array(sub[c].to_numpy(dtype=np.int64), tie.exp) for c in money_cols}
        for k, (cid, name) in enumerate(zip(sub["customer_id"], sub["name"])):
            rows.append([cid, name, ccy, *[(float(vals[c][k]), "money") for c in money_cols]])
        tot = [float(to_major_array(np.array([int(sub[c].sum())]), tie.exp)[0]) for c in money_cols]
        rows.append([(t["grand"].format(ccy=ccy), "bold"), "", ccy, *[(v, "total") for v in tot]])
    for ccy, tie in result.tieouts.items():
        m = lambda minor: (float(to_major_array(np.array([minor]), tie.exp)[0]), "money")  # noqa: E731
        # Labels in A overflow into the empty B; the figures stand in C, under "Currency".
        rows += [[], [(t["tie"].format(ccy=ccy), "title")],
                 [t["invoiced"], None, m(tie.invoiced)], [t["credits"], None, m(tie.credit_applied)],
                 [t["receipts"], None, m(tie.received_applied)],
                 *([[t["wo_line"], None, m(tie.written_off)]] if tie.written_off else []),
                 [(t["open"], "bold"), None, m(tie.open)],
                 [t["sum"], None, m(sum(tie.buckets))], [t["holds"], None, t["yes"] if tie.holds else t["no"]],
                 [t["u_cash"], None, m(tie.unapplied_cash)], [t["u_credit"], None, m(tie.unapplied_credit)],
                 *([[t["rec_line"], None, m(tie.recovered)]] if tie.recovered else []),
                 [(t["net"], "bold"), None, m(tie.net_balance)]]
    un = result.unapplied
    if len(un):
        rows += [[], [(t["u_title"], "title")],
                 [(h, "header") for h in (t["ref"], t["customer"], t["currency"], t["date"], t["amount"], t["kind"])]]
        exps = {c: x.exp for c, x in result.tieouts.items()}
        for r in un.itertuples(index=False):
            amount = float(to_major_array(np.array([r.amount_minor]), exps.get(r.currency, 2))[0])
            rows.append([r.ref, r.customer_id, r.currency, (r.date.date() if hasattr(r.date, "date") else r.date, "date"),
                         (amount, "money"), t[r.payer_kind]])
    return rows


def plan_outputs(data: BookData, result: RunResult, settings: Settings, *, owned: bool = True) -> Outputs:
    """Decide what a refresh writes back: the same for a file and for a live book.

    Args:
        data: what was read from the book (sheet names and layouts).
        result: the run's results.
        settings: the run's settings (language, basis, policy).
        owned: plan the owned sheets too (:func:`owned_sheets`; False leaves them out).

    Returns:
        The computed columns per sheet and the owned sheets' rows, with style names. A new
        thing a refresh writes belongs here (not in :func:`write_results`), so that the ribbon
        writes it too.
    """
    lang = settings.language
    sheets = [SheetOutputs("Invoices", data.layouts["Invoices"], result.invoices["row"].to_numpy(),
                           _place_columns(data.layouts["Invoices"], "Invoices", _invoice_content(result, lang), lang))]
    if result.credit is not None and "Customers" in data.layouts and data.layouts["Customers"].last_col:
        base_exp = CURRENCY_EXPONENTS.get(settings.base_currency, 2)
        layout = data.layouts["Customers"]
        sheets.append(SheetOutputs("Customers", layout, data.tables["Customers"].frame["row"].to_numpy(),
                                   _place_columns(layout, "Customers", _customer_content(result, settings, base_exp), lang)))
    return Outputs(sheets, list(owned_sheets(data, result, settings)) if owned else [])


def owned_sheets(data: BookData, result: RunResult, settings: Settings) -> Iterator[OwnedSheet]:
    """The sheets the tool writes wholly (Aging, the reports, Legal), in order, each made when
    it is asked for (so that one rendered and let go before the next is made is never held with it)."""
    lang = settings.language
    n_cols = 3 + len(result.labels) + 4
    widths = {1: 14, 2: 30, 3: 14, **{j: 14 for j in range(4, n_cols + 1)}}
    yield OwnedSheet(owned_sheet_name(data, "Aging", lang), _aging_rows(result, settings), widths)
    if result.kpis is not None:
        names = {key: owned_sheet_name(data, key, lang) for key in REPORT_SHEETS}
        yield from report_sheets(result, result.kpis, result.worklist, result.warning, lang, names,
                                 result.kpis.worklist_days_ahead)
    if getattr(result, "legal", None) is not None:
        yield legal_sheet(result.legal, lang, result.as_of, owned_sheet_name(data, "Legal", lang))


def owned_sheet_name(data: BookData, sheet: str, language: str) -> str:
    """The name of a sheet the tool owns: the book's own (English or Chinese), else a new one.

    Args:
        data: what was read from the book (its sheet names).
        sheet: the canonical sheet ("Aging").
        language: the workbook's language, for a new sheet's name.
    """
    names = (sheet, *SHEET_ALIASES.get(sheet, ()))
    existing = next((n for n in data.sheet_names if n in names), None)
    return existing or sheet_label(sheet, language)


def _splice_outputs(pkg: WorkbookPackage, sheet: SheetOutputs, st: Styles, scans: Sequence[Any] = (),
                    progress: Step | None = None) -> None:
    """Splice a sheet's computed columns into its part and extend its Excel Table over them
    (``progress`` told the bytes of the part spliced)."""
    layout = sheet.layout
    columns = [OutColumn(c.index, c.header, st["header"], st[c.style], c.kind, c.width) for c in sheet.columns]
    last_col, last_row = max(c.index for c in columns), max(layout.last_row, layout.header_row + 1)
    pkg.extend_table(layout.name, layout.header_row, layout.first_col, last_col, {c.index: c.header for c in columns},
                     last_row=last_row, user_headers=layout.headers, autofilter=False)
    # A sheet autofilter is widened in the splice's own pass over the sheet (it follows the
    # rows): read whole for it alone, a full sheet's XML would set the run's peak memory.
    boxes: list[tuple[int, int, int, int]] = []

    def widen(tail: bytes) -> bytes:
        widened = widen_autofilter(tail, layout.header_row, layout.first_col, last_col, last_row)
        if widened is None:
            return tail
        boxes.append(widened[1])
        return widened[0]

    # Not on a second core: a forked splice saved about 2 s of a full sheet's 39 s but cost
    # 0.6 GiB more in all (both processes allocate a lot, so many shared pages get copied).
    splice_sheet(pkg, layout.name, header_row=layout.header_row, columns=columns, rows=sheet.rows,
                 values=[c.values for c in sheet.columns], tail=widen, scans=scans, progress=progress)
    if boxes:
        pkg.filter_widened(layout.name, boxes[-1])


#: Invoices from which the owned sheets are planned, rendered and deflated in a process forked
#: while this one splices the computed columns (about 2 s of a full sheet's writing, which its
#: Legal sheet of 201,186 rows and its reports take; below, they cost less than the fork).
OWNED_BESIDE_INVOICES = 50_000


def write_results(pkg: WorkbookPackage, data: BookData, result: RunResult, settings: Settings,
                  scans: Mapping[str, Sequence[Any]] | None = None, progress: Step | None = None) -> None:
    """Put a run's results into the package (not saved yet).

    The owned sheets need only the results and the styles: on a large ledger they are made in a
    process forked here (:func:`xl_ar.core.beside.beside`, which makes them here instead where
    it cannot fork), each planned, rendered and deflated a piece at a time, while this one
    splices the computed columns; only their deflated parts come back.

    Args:
        pkg: the opened workbook package.
        data: what was read from it (sheet names and layouts).
        result: the run's results.
        settings: the run's settings (language, basis, policy).
        scans: sheet name -> its blocks scanned ahead for the splice (:mod:`xl_ar.book.splice_scan`).
        progress: told each sheet's bytes spliced (the sheets' shares by their sizes), then the
            owned sheets put in.
    """
    done = progress or Step()
    st = Styles(pkg)
    owned = beside(_owned_parts_of, data, result, settings, st.index,
                   worth_it=len(result.invoices) >= OWNED_BESIDE_INVOICES)
    try:
        out = plan_outputs(data, result, settings, owned=False)
        share = done.part(0.0, 0.9).parts({k: _part_size(pkg, s.layout.name) for k, s in enumerate(out.sheets)})
        for k, sheet in enumerate(out.sheets):
            _splice_outputs(pkg, sheet, st, (scans or {}).get(sheet.layout.name, ()), share[k])
    except BaseException:
        owned.drop()  # the run fails here: no process left behind for what it no longer needs
        raise
    return_free_memory()  # what the splice freed
    done(0.9)
    put_owned(pkg, owned.result())
    done(1.0)


def _part_size(pkg: WorkbookPackage, sheet: str) -> int:
    """The XML size of a sheet's part as the file holds it, for its share of the progress (1 when
    the file has none: the splice reports what is wrong with it)."""
    try:
        member = pkg.stored(pkg.sheet_part(sheet))
    except Exception:
        return 1
    return member.info.file_size if member is not None else 1


def _owned_parts_of(data: BookData, result: RunResult, settings: Settings,
                    index: Mapping[str | None, int]) -> list[tuple[str, DeflatedPart, tuple[Any, ...]]]:
    return owned_parts(owned_sheets(data, result, settings), index)


def owned_parts(owned: Iterable[OwnedSheet], index: Mapping[str | None, int]) -> list[tuple[str, DeflatedPart, tuple[Any, ...]]]:
    """Each owned sheet rendered and deflated, a block of rows at a time (a full sheet's Legal
    sheet is 50 MB of XML, never one string): ``(name, part, charts)``.

    Args:
        owned: the sheets (an iterator lets each go once it is deflated).
        index: style name -> ``cellXfs`` index (:class:`Styles`).
    """
    out = []
    for sheet in owned:
        pieces = render_sheet_pieces(sheet.rows, col_widths=sheet.widths, date_style=index["date"],
                                     freeze_header=sheet.freeze_header, merged=sheet.merged,
                                     autofilter=sheet.autofilter, style_index=index)
        out.append((sheet.name, deflate_pieces(pieces), tuple(sheet.charts)))
    return out


def put_owned(pkg: WorkbookPackage, parts: Iterable[tuple[str, DeflatedPart, tuple[Any, ...]]]) -> None:
    """Put rendered owned sheets into the package (a new one goes after the previous) with their charts."""
    after = None
    for name, part, charts in parts:
        pkg.set_sheet(name, part, after=after)
        add_charts(pkg, name, list(charts))  # also removes charts a sheet no longer has
        after = name
