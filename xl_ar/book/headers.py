"""Sheet names and column headers in English and Chinese, and the computed columns' labels.

A user's ledger may say ``DueDate`` or ``到期日``; both reach the core as ``due_date``. Headers
are matched after normalising case, spaces, underscores, hyphens and full-width forms, so
``Due Date``, ``due_date`` and ``ＤｕｅＤａｔｅ`` all match.
"""

from __future__ import annotations


from xl_ar.core import registry
from xl_ar.core.schema import TABLES

#: Chinese sheet names accepted for each ledger sheet (first = the name a new zh workbook gets).
SHEET_ALIASES: dict[str, tuple[str, ...]] = {
    "Settings": ("设置", "参数"),
    "Customers": ("客户", "客户档案", "客户信息"),
    "Invoices": ("发票", "应收账款", "应收台账", "发票台账"),
    "Receipts": ("收款", "回款", "收款记录"),
    "Activities": ("催收日志", "催收记录", "跟进记录"),
    "Orders": ("订单", "未发货订单"),
    "Stages": ("催收阶段", "催收规则"),
    "Collections": ("催收工作表",),
    "Dashboard": ("仪表板",),
    "Warnings": ("预警表",),
    "Legal": ("法律准备",),
    "Rates": ("利率", "参考利率"),
    "FxRates": ("汇率", "汇率表", "外汇汇率"),
    "Aging": ("账龄分析",),
}

#: Header aliases per table and field (the English header from the schema is always accepted).
#: The first Chinese alias is the header a new zh workbook gets.
HEADER_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "Settings": {
        "key": ("参数", "项目", "键"),
        "value": ("值", "取值", "设置值"),
    },
    "Customers": {
        "customer_id": ("客户编号", "客户代码", "客户ID", "Customer", "CustomerNo", "客户号"),
        "name": ("客户名称", "名称", "客户", "CustomerName"),
        "class": ("客户等级", "等级", "类别", "客户分类"),
        "contact": ("联系人",),
        "email": ("邮箱", "电子邮件", "E-mail", "Mail"),
        "phone": ("电话", "手机", "联系电话", "Mobile"),
        "terms_days": ("账期天数", "账期", "信用期", "付款期限", "Terms"),
        "credit_limit": ("信用额度", "额度", "Limit"),
        "owner": ("负责人", "业务员", "客户经理", "AccountManager"),
        "language": ("语言", "Lang"),
        "last_review": ("上次评审日期", "上次评审", "评审日期"),
        "manual_limit": ("人工额度", "核定额度", "手工额度"),
        "manual_grade": ("人工等级", "核定等级"),
        "manual_hold": ("人工冻结", "手工冻结"),
        "negative_news": ("负面信息", "负面消息"),
        "late_fee_policy": ("滞纳金规则", "违约金规则"),
        "late_fee_rate": ("滞纳金利率", "违约金比例"),
        "late_fee_grace_days": ("宽限天数", "宽限期"),
        "late_fee_cap": ("滞纳金上限", "违约金上限"),
    },
    "Stages": {
        "stage": ("阶段", "催收阶段"),
        "from_day": ("起始天数", "逾期天数从", "从第几天"),
        "to_day": ("截止天数", "逾期天数至", "到第几天"),
        "class": ("客户等级", "等级", "客户分类"),
        "min_amount": ("最低金额", "金额下限", "起始金额"),
        "action": ("催收动作", "动作", "措施"),
        "channel": ("方式", "渠道", "催收方式"),
        "owner_role": ("负责角色", "负责人", "责任人"),
        "follow_up_days": ("跟进间隔天数", "跟进间隔", "跟进周期"),
        "review": ("发前审核", "需审核", "审核"),
    },
    "Orders": {
        "order_no": ("订单号", "订单编号", "Order"),
        "customer_id": ("客户编号", "客户代码", "客户ID", "Customer", "客户号", "客户", "客户名称"),
        "order_date": ("订单日期", "下单日期", "Date"),
        "amount": ("金额", "订单金额"),
        "currency": ("币种", "货币"),
        "status": ("状态", "订单状态"),
    },
    "Invoices": {
        "invoice_no": ("发票号", "发票号码", "单据号", "Invoice", "InvoiceNumber"),
        # Many ledgers identify the customer by its name: that name is then the customer's ID.
        "customer_id": ("客户编号", "客户代码", "客户ID", "Customer", "CustomerNo", "客户号",
                        "客户", "客户名称", "购货单位", "购方名称"),
        "invoice_date": ("开票日期", "发票日期", "日期", "Date"),
        "due_date": ("到期日", "到期日期", "应收日期", "Due"),
        "amount": ("金额", "发票金额", "含税金额", "应收金额"),
        "currency": ("币种", "货币", "Ccy"),
        "contract_no": ("合同号", "合同编号", "Contract"),
        "description": ("摘要", "说明", "描述", "备注"),
        "disputed": ("争议", "有争议", "是否争议", "Dispute"),
        "dispute_reason": ("争议原因", "争议说明"),
        "delivery_note": ("送货单", "送货单号", "签收单", "签收单号", "交货单", "出库单号", "Delivery"),
        "applies_to": ("对应发票", "原发票号", "原发票", "CorrectsInvoice", "OriginalInvoice"),
    },
    "Receipts": {
        "receipt_no": ("收款单号", "收款号", "回款单号", "Receipt", "ReceiptNumber"),
        "customer_id": ("客户编号", "客户代码", "客户ID", "Customer", "CustomerNo", "客户号",
                        "客户", "客户名称", "付款单位", "付款方"),
        "receipt_date": ("收款日期", "回款日期", "到账日期", "日期", "Date"),
        "amount": ("金额", "收款金额", "回款金额"),
        "currency": ("币种", "货币", "Ccy"),
        "invoice_no": ("发票号", "核销发票", "对应发票", "Invoice"),
    },
    "Activities": {
        "date": ("日期", "跟进日期", "催收日期"),
        "customer_id": ("客户编号", "客户代码", "客户ID", "Customer", "客户号", "客户", "客户名称"),
        "invoice_no": ("发票号", "Invoice"),
        "channel": ("方式", "渠道", "催收方式"),
        "by": ("经办人", "催收人", "跟进人"),
        "note": ("内容", "记录", "备注", "沟通内容"),
        "promise_date": ("承诺日期", "承诺付款日期", "承诺付款日"),
        "promise_amount": ("承诺金额", "承诺付款金额"),
        "outcome": ("结果", "处理结果"),
        "amount": ("核销金额", "金额"),
    },
    "Rates": {
        "series": ("利率系列", "系列"),
        "effective_from": ("生效日期", "起始日期"),
        "rate_percent": ("利率%", "利率", "年利率%"),
        "source": ("来源", "出处"),
    },
    "FxRates": {
        "date": ("日期", "汇率日期"),
        "currency": ("币种", "货币"),
        "rate": ("汇率", "折算汇率"),
        "source": ("来源", "出处"),
    },
}

#: Settings keys in Chinese, accepted in the Settings sheet's Key column (the run's own keys).
SETTING_ALIASES: dict[str, tuple[str, ...]] = registry.aliases_table("ledger", "late fees")

#: Computed columns xl-ar writes to the right of a ledger sheet's own columns:
#: table -> field -> (English header, Chinese header).
OUTPUTS: dict[str, dict[str, tuple[str, str]]] = {
    "Invoices": {
        "paid": ("Paid", "已收金额"),
        "open": ("Open", "未收金额"),
        "days_late": ("DaysLate", "逾期天数"),
        "bucket": ("Bucket", "账龄段"),
        "late_fee": ("LateFee", "滞纳金"),
        "stage": ("Stage", "催收阶段"),
        "next_action": ("NextAction", "下一步行动"),
        "channel": ("Channel", "方式"),
        "owner": ("Owner", "负责人"),
        "next_action_date": ("NextActionDate", "下次跟进日期"),
    },
    "Customers": {
        "avg_days_late": ("AvgDaysLate", "平均逾期天数"),
        "on_time_rate": ("OnTimeRate", "按时付款率"),
        "exposure": ("Exposure", "信用占用"),
        "available": ("Available", "可用额度"),
        "over_limit": ("OverLimit", "超额度"),
        "score": ("Score", "信用评分"),
        "grade": ("Grade", "信用等级"),
        "suggested_limit": ("SuggestedLimit", "建议额度"),
        "limit_reason": ("LimitReason", "额度建议理由"),
        "suggested_terms": ("SuggestedTerms", "建议账期"),
        "hold": ("Hold", "信用冻结"),
        "hold_reason": ("HoldReason", "冻结原因"),
        "next_review": ("NextReview", "下次评审日期"),
    },
}
INVOICE_OUTPUTS = OUTPUTS["Invoices"]


def normalise(text: object) -> str:
    """Fold a header for matching: NFKC (full-width to ASCII), lower case, no spaces/_/-
    (the same folding as Settings keys, ``xl_ar.core.registry.fold``)."""
    return registry.fold(text)


def _build_field_lookup() -> dict[str, dict[str, str]]:
    lookup: dict[str, dict[str, str]] = {}
    for sheet, table in TABLES.items():
        m: dict[str, str] = {}
        aliases = HEADER_ALIASES.get(sheet, {})
        for f in table.fields:
            for label in (f.header, f.name, *aliases.get(f.name, ())):
                m.setdefault(normalise(label), f.name)
        lookup[sheet] = m
    return lookup


FIELD_LOOKUP = _build_field_lookup()
#: Sheets the tool writes wholly (the reports): never read as ledger input, never screened.
OWNED_SHEETS = ("Aging", "Collections", "Dashboard", "Warnings", "Legal")
SHEET_LOOKUP: dict[str, str] = {
    normalise(alias): sheet
    for sheet in (*TABLES, *OWNED_SHEETS)
    for alias in (sheet, *SHEET_ALIASES.get(sheet, ()))
}
SETTING_LOOKUP: dict[str, str] = {
    normalise(alias): key for key, aliases in SETTING_ALIASES.items() for alias in (key, *aliases)
}
OUTPUT_LOOKUP: dict[str, dict[str, str]] = {
    table: {normalise(label): field for field, labels in outputs.items() for label in labels}
    for table, outputs in OUTPUTS.items()
}


def field_for_header(sheet: str, header: object) -> str | None:
    """Return the core field a header names on a ledger sheet, or None for a user's own column."""
    return FIELD_LOOKUP.get(sheet, {}).get(normalise(header))


def sheet_for_name(name: str) -> str | None:
    """Return the canonical sheet ("Invoices") a workbook sheet name stands for, or None."""
    return SHEET_LOOKUP.get(normalise(name))


def header_label(sheet: str, field: str, lang: str) -> str:
    """The header a new workbook gets for a field, in ``lang`` ("zh" or "en")."""
    if lang == "zh":
        aliases = HEADER_ALIASES.get(sheet, {}).get(field, ())
        for alias in aliases:
            if not alias.isascii():
                return alias
    return TABLES[sheet].field(field).header


def sheet_label(sheet: str, lang: str) -> str:
    """The sheet name a new workbook gets, in ``lang``."""
    if lang == "zh" and SHEET_ALIASES.get(sheet):
        return SHEET_ALIASES[sheet][0]
    return sheet
